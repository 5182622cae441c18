//! The viewer's page in a real headless browser (Debian's `chromium`) against a daemon fed by
//! the fake Twitch server: the form, a deep link in another case, a login full of HTML special
//! characters (escaped: no element injected), opted-out and unknown logins, the local time the
//! inline script adds (so the Content-Security-Policy lets exactly it run), the proof and claim
//! links answering, the page counted in the HTTP metrics, a phone-width screenshot (390 x 844)
//! in the test's output folder, and an HTML validity check of every page served (html5ever's
//! WHATWG parse errors through `scraper`, no quirks mode, plus the document rules below). The
//! page works without JavaScript: the HTML as served (what a browser without scripts shows)
//! already holds every hour with its channel, UTC time, amount, published state and links; the
//! script only adds the local time.
//!
//! Without chromium the test says so loudly and passes, unless CHATSEAL_REQUIRE_BROWSER is set
//! (as .ci/run does), where a missing browser fails it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chatseal::twitchsim::lines::{privmsg, Chatter};
use chatseal::twitchsim::FakeTwitch;
use scraper::{Html, Selector};

use crate::harness::*;

const LEN: i64 = 2;
const TOKEN: &str = "viewer-admin-token-0123456789abcdef";
/// India has no daylight saving time: the local hour is UTC + 5:30 all year.
const TZ: &str = "Asia/Kolkata";
const TZ_OFFSET: i64 = 5 * 3600 + 30 * 60;
const NASTY: &str = r#"<script>alert("x")</script><img src=x onerror=alert(1)>&'"#;

/// The browser to drive: $CHATSEAL_CHROMIUM, else the first of the usual names on PATH.
fn browser() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("CHATSEAL_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// Where the screenshot goes: $CHATSEAL_TEST_OUTPUT, else the target's tmp folder.
fn output_dir() -> PathBuf {
    let dir = match std::env::var("CHATSEAL_TEST_OUTPUT") {
        Ok(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer_page"),
    };
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating the output folder {}: {e}", dir.display()));
    dir
}

/// Runs headless chromium with `args` then `url` (output to a file, so no pipe can fill), at
/// most 90 s; returns what it printed.
async fn chromium(bin: &Path, profile: &Path, args: &[String], url: &str) -> String {
    let (bin, profile, args, url) = (bin.to_path_buf(), profile.to_path_buf(), args.to_vec(), url.to_string());
    tokio::task::spawn_blocking(move || {
        let out_path = profile.with_extension("out");
        let out = std::fs::File::create(&out_path).expect("browser output file");
        let mut child = Command::new(&bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(&args)
            .arg(&url)
            .env("TZ", TZ)
            .env("LANG", "en_US.UTF-8")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let deadline = Instant::now() + Duration::from_secs(90);
        let status = loop {
            if let Some(s) = child.try_wait().expect("waiting for the browser") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{} {args:?} {url} did not finish within 90 s", bin.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "{} {args:?} {url}: {status}", bin.display());
        std::fs::read_to_string(&out_path).expect("browser output")
    })
    .await
    .expect("browser task")
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap_or_else(|e| panic!("selector {s}: {e:?}"))
}

fn texts(doc: &Html, s: &str) -> Vec<String> {
    doc.select(&sel(s)).map(|e| e.text().collect::<String>()).collect()
}

fn attrs(doc: &Html, s: &str, attr: &str) -> Vec<String> {
    doc.select(&sel(s)).filter_map(|e| e.value().attr(attr).map(String::from)).collect()
}

/// The validity check of one served document: no parse error under the WHATWG rules, standards
/// mode, and the document rules this page keeps (language, title, charset, viewport, unique ids,
/// labels pointing at controls, nothing loaded from elsewhere, links to the daemon only).
fn check_valid(what: &str, src: &str) -> Html {
    let doc = Html::parse_document(src);
    assert!(doc.errors.is_empty(), "{what}: HTML parse errors {:?}\n{src}", doc.errors);
    assert_eq!(format!("{:?}", doc.quirks_mode), "NoQuirks", "{what}: not in standards mode");
    assert!(src.starts_with("<!DOCTYPE html>\n"), "{what}: doctype");
    assert_eq!(attrs(&doc, "html", "lang"), vec!["en".to_string()], "{what}");
    assert!(texts(&doc, "head > title").first().is_some_and(|t| !t.trim().is_empty()), "{what}: title");
    assert_eq!(attrs(&doc, "head > meta[charset]", "charset"), vec!["utf-8".to_string()], "{what}");
    assert!(
        attrs(&doc, "head > meta[name=viewport]", "content").first().is_some_and(|c| c.contains("width=device-width")),
        "{what}: viewport"
    );
    let ids = attrs(&doc, "[id]", "id");
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "{what}: duplicate ids {ids:?}");
    for target in attrs(&doc, "label[for]", "for") {
        assert!(
            doc.select(&sel(&format!("#{target}")))
                .any(|e| ["input", "select", "textarea"].contains(&e.value().name())),
            "{what}: label for {target}"
        );
    }
    assert_eq!(
        doc.select(&sel("[src], link, iframe, object, embed, img")).count(),
        0,
        "{what}: nothing is loaded from anywhere"
    );
    for href in attrs(&doc, "a[href]", "href").into_iter().chain(attrs(&doc, "form", "action")) {
        assert!(href.starts_with('/') && !href.starts_with("//"), "{what}: link {href} leaves the daemon");
    }
    doc
}

/// GET `url` as a browser would: status, headers checked, body.
async fn page(url: &str) -> String {
    let resp = reqwest::get(url).await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(resp.status().as_u16(), 200, "{url}");
    let h = resp.headers();
    assert_eq!(h.get("content-type").and_then(|v| v.to_str().ok()), Some("text/html; charset=utf-8"), "{url}");
    let csp = h.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(csp.starts_with("default-src 'none'") && csp.contains("script-src 'sha256-"), "{url}: {csp}");
    resp.text().await.expect("page body")
}

fn chat(fake: &FakeTwitch, channel: &str, epoch: i64, logins: &[&str]) {
    for (i, login) in logins.iter().enumerate() {
        let who = Chatter::new(login, &format!("{}", 7000 + i), login);
        let line = privmsg(
            channel,
            &who,
            &format!("v-{channel}-{epoch}-{login}"),
            epoch * 1000 + 10 * i as i64,
            "hello",
            None,
        );
        assert_eq!(fake.send_raw(channel, &line), 1, "one connection to #{channel} gets the line");
    }
}

async fn wait_sealed(base: &str, epoch: i64, channel: &str) {
    let url = format!("{base}/v1/epochs/{epoch}/{channel}");
    wait_for(&format!("seal of {epoch} #{channel}"), Duration::from_secs(60), || async {
        (get_json(&url).await.0 == 200).then_some(())
    })
    .await;
}

/// `HH:MM` of Unix seconds `t` in the test's time zone.
fn local_clock(t: i64) -> String {
    let s = (t + TZ_OFFSET).rem_euclid(86_400);
    format!("{:02}:{:02}", s / 3600, s / 60 % 60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_in_a_headless_browser() {
    let Some(bin) = browser() else {
        if std::env::var_os("CHATSEAL_REQUIRE_BROWSER").is_some() {
            panic!("CHATSEAL_REQUIRE_BROWSER is set but no chromium was found (install Debian's `chromium`, or set CHATSEAL_CHROMIUM)");
        }
        eprintln!("\n!!!!!!!!\n!!! viewer_page SKIPPED: no chromium on PATH (apt-get install -y chromium); set CHATSEAL_REQUIRE_BROWSER=1 to make this a failure\n!!!!!!!!\n");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_twitch().await;
    let env =
        [("CHATSEAL__EPOCH__LENGTH", "2s"), ("CHATSEAL__EPOCH__GRACE", "1s"), ("CHATSEAL__HTTP__ADMIN_TOKEN", TOKEN)];
    let daemon = Daemon::start(settings_for(&fake, &sqlite_url(dir.path()), &["viewchan", "otherchan"], &env)).await;
    for ch in ["viewchan", "otherchan"] {
        assert!(fake.wait_joined(ch, Duration::from_secs(30)).await, "joined #{ch}");
    }
    let base = daemon.base.clone();
    let epoch = (now_ms() / 1000).div_euclid(LEN) * LEN + LEN;
    chat(&fake, "viewchan", epoch, &["alice", "bob", "carol"]);
    chat(&fake, "otherchan", epoch, &["alice"]);
    wait_sealed(&base, epoch, "viewchan").await;
    wait_sealed(&base, epoch, "otherchan").await;
    let resp = reqwest::Client::new()
        .post(format!("{base}/v1/admin/opt-out"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"login": "carol"}))
        .send()
        .await
        .expect("opt-out");
    assert_eq!(resp.status().as_u16(), 200);
    // #viewchan's root is recorded as published, #otherchan's is not.
    let (_, seal) = get_json(&format!("{base}/v1/epochs/{epoch}/viewchan")).await;
    let resp = reqwest::Client::new()
        .post(format!("{base}/v1/admin/published"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"epoch": epoch, "channel": "viewchan", "root": seal["root"], "tx": "tx-viewer"}))
        .send()
        .await
        .expect("publication record");
    assert_eq!(resp.status().as_u16(), 200);

    // Every page as served: valid HTML.
    let nasty_q = url::form_urlencoded::Serializer::new(String::new()).append_pair("login", NASTY).finish();
    for path in [
        "/",
        "/claims",
        "/claims?login=ALICE",
        &format!("/claims?{nasty_q}"),
        "/claims?login=carol",
        "/claims?login=nobody_here",
        "/claims?login=alice&channel=viewchan",
        "/claims?login=alice&before=abc",
    ] {
        check_valid(path, &page(&format!("{base}{path}")).await);
    }

    // Without JavaScript: the served document alone answers (every hour, its UTC time, amount,
    // published state and links); only the local time is the script's.
    let served = Html::parse_document(&page(&format!("{base}/claims?login=ALICE")).await);
    let hours: Vec<String> = attrs(&served, "ol.hours li", "data-channel");
    assert_eq!(hours.len(), 2, "{hours:?}");
    assert_eq!(served.select(&sel("ol.hours li .local")).count(), 0, "the local time is the script's");
    let utc = chatseal::timefmt::utc_span(epoch, LEN);
    for li in served.select(&sel("ol.hours li")) {
        let text = li.text().collect::<String>();
        let ch = li.value().attr("data-channel").unwrap_or_default();
        assert!(text.contains(&format!("#{ch}")) && text.contains("80.000000000 tokens"), "{text}");
        assert!(text.contains(&utc) && utc.ends_with(" UTC"), "{utc} in {text}");
        let published = if ch == "viewchan" { "root published on chain" } else { "root not published yet" };
        assert!(text.contains(published), "#{ch}: {text}");
        let links: Vec<String> =
            li.select(&sel(".links a")).filter_map(|a| a.value().attr("href").map(String::from)).collect();
        assert_eq!(
            links,
            [format!("/v1/epochs/{epoch}/{ch}/proof/alice"), format!("/v1/epochs/{epoch}/{ch}/claim/alice")],
            "#{ch}"
        );
    }

    let out = output_dir();
    let profile = dir.path().join("chromium-profile");
    let dump = |url: String| {
        let (bin, profile) = (bin.clone(), profile.clone());
        async move { Html::parse_document(&chromium(&bin, &profile, &["--dump-dom".into()], &url).await) }
    };

    // The form, as the browser built it.
    let home = dump(format!("{base}/")).await;
    assert_eq!(attrs(&home, "form", "action"), vec!["/claims".to_string()]);
    assert_eq!(attrs(&home, "form", "method"), vec!["get".to_string()]);
    assert_eq!(attrs(&home, "form input#login", "name"), vec!["login".to_string()]);
    assert_eq!(home.select(&sel("form button[type=submit]")).count(), 1);
    let latest = texts(&home, "#latest td a");
    assert!(latest.contains(&"#viewchan".to_string()) && latest.contains(&"#otherchan".to_string()), "{latest:?}");

    // A deep link in another case: alice's two hours, their links, the local time added.
    let alice = dump(format!("{base}/claims?login=ALICE")).await;
    let channels: HashSet<String> = attrs(&alice, "ol.hours li", "data-channel").into_iter().collect();
    assert_eq!(channels, HashSet::from(["viewchan".to_string(), "otherchan".to_string()]));
    assert_eq!(attrs(&alice, "form input#login", "value"), vec!["ALICE".to_string()]);
    for li in alice.select(&sel("ol.hours li")) {
        let ch = li.value().attr("data-channel").unwrap_or_default();
        let published = if ch == "viewchan" { "root published on chain" } else { "root not published yet" };
        assert!(li.text().collect::<String>().contains(published), "#{ch} in the browser");
    }
    let local = texts(&alice, "ol.hours li .local");
    assert_eq!(local.len(), 2, "the inline script ran (allowed by the policy): {local:?}");
    assert!(
        local.iter().all(|t| t.contains(&local_clock(epoch)) && t.ends_with("your time")),
        "local time in {TZ}: {local:?}"
    );
    let links = attrs(&alice, "ol.hours li .links a", "href");
    assert_eq!(links.len(), 4, "{links:?}");
    for href in &links {
        let (status, body) = get_json(&format!("{base}{href}")).await;
        assert_eq!(
            (status, body["login"].as_str(), body["epoch"].as_i64()),
            (200, Some("alice"), Some(epoch)),
            "{href}: {body}"
        );
        assert!(body["proof"].is_array(), "{href}: {body}");
    }
    assert!(
        texts(&alice, "ol.hours li .amt").iter().all(|t| t == "80.000000000 tokens"),
        "{:?}",
        texts(&alice, "ol.hours li .amt")
    );

    // HTML special characters: shown as text, never as markup.
    let nasty = dump(format!("{base}/claims?{nasty_q}")).await;
    assert_eq!(nasty.select(&sel("script")).count(), 1, "only the page's own script");
    assert_eq!(nasty.select(&sel("img")).count(), 0, "no injected element");
    assert!(texts(&nasty, "#invalid").first().is_some_and(|t| t.contains(NASTY)), "{:?}", texts(&nasty, "#invalid"));
    assert_eq!(attrs(&nasty, "form input#login", "value"), vec![NASTY.to_string()]);

    // Opted out and unknown logins: a clear answer.
    let carol = dump(format!("{base}/claims?login=Carol")).await;
    assert!(
        texts(&carol, "#opted-out").first().is_some_and(|t| t.contains("carol opted out")),
        "{:?}",
        texts(&carol, "#answer")
    );
    assert_eq!(carol.select(&sel("ol.hours li")).count(), 0);
    let ghost = dump(format!("{base}/claims?login=nobody_here")).await;
    assert!(
        texts(&ghost, "#unknown").first().is_some_and(|t| t.contains("never seen nobody_here")),
        "{:?}",
        texts(&ghost, "#answer")
    );

    // The phone-width screenshot.
    let shot = out.join("viewer-phone.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &bin,
        &profile,
        &[format!("--screenshot={}", shot.display()), "--window-size=390,844".into(), "--hide-scrollbars".into()],
        &format!("{base}/claims?login=alice"),
    )
    .await;
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("screenshot {}: {e}", shot.display()));
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    assert_eq!(width, 390, "phone width");
    eprintln!("viewer_page: screenshot at {}", shot.display());

    // The page counts in the HTTP metrics like any route.
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    for route in ["route=\"/claims\"", "route=\"/\""] {
        assert!(
            metrics.lines().any(|l| l.starts_with("chatseal_http_requests_total")
                && l.contains(route)
                && l.contains("status=\"200\"")),
            "{route} in /metrics"
        );
    }
    daemon.stop().await.expect("graceful stop");
    fake.shutdown().await;
}
