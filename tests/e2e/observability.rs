//! Observability: every metric a Grafana dashboard or a Prometheus alert queries exists in a real
//! /metrics render, and so does every metric of the catalogue, in a fresh process before any
//! event (registered at start); the dashboards are sound (data source variable, unique panel ids,
//! a unit on every panel, stable uids, `$__rate_interval` in rate(), counts as instant
//! `increase(...[$__range])`); and the real binary tells
//! systemd READY=1, WATCHDOG=1 and, on SIGTERM, STOPPING=1 on a test NOTIFY_SOCKET. With
//! `CHATSEAL_METRICS_DUMP` set, the render is written there for `promtool check metrics` (CI).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use chatseal::twitchsim::lines::{privmsg, Chatter};
use chatseal_actors::telemetry::names::{self, Kind};
use serde_json::Value;

use crate::harness::*;

const DASHBOARDS: [(&str, &str); 4] = [
    ("overview.json", "chatseal-overview"),
    ("sealing.json", "chatseal-sealing"),
    ("storage.json", "chatseal-storage"),
    ("cluster.json", "chatseal-cluster"),
];
const ALERTS: &str = "deploy/prometheus/alerts.yml";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn dashboard(file: &str) -> Value {
    serde_json::from_str(&read(&format!("grafana/dashboards/{file}")))
        .unwrap_or_else(|e| panic!("{file} is not JSON: {e}"))
}

/// Every string under a key named `key`, anywhere in `v`.
fn strings_under<'a>(v: &'a Value, key: &str, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match x {
                    Value::String(s) if k == key => out.push(s),
                    _ => strings_under(x, key, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| strings_under(x, key, out)),
        _ => {}
    }
}

/// The `expr` values of a Prometheus rules file, single-line or block scalars (`expr: |`).
fn alert_exprs(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        let Some(rest) = line.trim_start().strip_prefix("expr:") else { continue };
        let rest = rest.trim();
        if rest.starts_with('|') || rest.starts_with('>') {
            let mut body = String::new();
            while i < lines.len() && (lines[i].trim().is_empty() || indent(lines[i]) > indent(line)) {
                body.push_str(lines[i].trim());
                body.push('\n');
                i += 1;
            }
            out.push(body);
        } else {
            out.push(rest.trim_matches(|c| c == '"' || c == '\'').to_string());
        }
    }
    out
}

/// The `chatseal_*` metric names a query mentions.
fn metric_names(expr: &str) -> Vec<String> {
    let bytes = expr.as_bytes();
    let token = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = expr[from..].find("chatseal_").map(|p| p + from) {
        let end = at + expr[at..].bytes().take_while(|b| token(*b)).count();
        if at == 0 || !token(bytes[at - 1]) {
            out.push(expr[at..end].to_string());
        }
        from = end;
    }
    out
}

/// Every metric the dashboards and alerts query, with where it is queried.
fn queried_metrics() -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, _) in DASHBOARDS {
        let d = dashboard(file);
        let mut exprs = Vec::new();
        for key in ["expr", "query", "definition"] {
            strings_under(&d, key, &mut exprs);
        }
        for e in exprs {
            for name in metric_names(e) {
                out.entry(name).or_default().insert(file.to_string());
            }
        }
    }
    for e in alert_exprs(&read(ALERTS)) {
        for name in metric_names(&e) {
            out.entry(name).or_default().insert(ALERTS.to_string());
        }
    }
    out
}

/// Metric family name -> type, from the `# TYPE` lines of a render.
fn render_types(render: &str) -> HashMap<String, String> {
    render
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(n, t)| (n.to_string(), t.trim().to_string()))
        .collect()
}

/// Fails listing every queried metric missing from `render`, and every catalogue metric
/// missing or of the wrong type.
fn assert_render_complete(render: &str, context: &str) {
    let types = render_types(render);
    let queried = queried_metrics();
    assert!(queried.len() >= 30, "the dashboards and alerts query only {} metrics: {queried:?}", queried.len());
    let mut missing = Vec::new();
    for (name, users) in &queried {
        let found = types.contains_key(name)
            || ["_bucket", "_sum", "_count"]
                .iter()
                .any(|s| name.strip_suffix(s).is_some_and(|base| types.get(base).is_some_and(|t| t == "histogram")));
        if !found {
            missing.push(format!("{name} (queried by {users:?})"));
        }
    }
    for d in names::ALL {
        let want = match d.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        if types.get(d.name).map(String::as_str) != Some(want) {
            missing.push(format!("{} (catalogue {want}, render says {:?})", d.name, types.get(d.name)));
        }
        if !render.contains(&format!("# HELP {} ", d.name)) {
            missing.push(format!("{} has no HELP line", d.name));
        }
    }
    assert!(missing.is_empty(), "{context}: not in the /metrics render:\n  {}", missing.join("\n  "));
}

/// In-process daemon with a little traffic and one seal, so the render also carries samples.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_a_dashboard_or_alert_queries_is_rendered() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_twitch().await;
    let extra = [("CHATSEAL__EPOCH__LENGTH", "2s"), ("CHATSEAL__EPOCH__GRACE", "300ms")];
    let daemon = Daemon::start(settings_for(&fake, &sqlite_url(dir.path()), &["obs"], &extra)).await;
    assert!(fake.wait_joined("obs", Duration::from_secs(20)).await, "joined #obs");
    for n in 0..5 {
        let who = Chatter::new(&format!("viewer{n}"), &format!("{}", 500 + n), "Viewer");
        fake.send_raw("obs", &privmsg("obs", &who, &format!("obs-{n}"), now_ms(), "hi", None));
    }
    let sealed = format!("{}/v1/epochs?channel=obs&limit=1", daemon.base);
    wait_for("a sealed epoch of #obs", Duration::from_secs(30), || async {
        let (_, body) = get_json(&sealed).await;
        body["epochs"].as_array().is_some_and(|a| a.iter().any(|e| e["participants"].as_i64() > Some(0))).then_some(())
    })
    .await;
    let render = reqwest::get(format!("{}/metrics", daemon.base)).await.unwrap().text().await.unwrap();
    if let Ok(path) = std::env::var("CHATSEAL_METRICS_DUMP") {
        std::fs::write(&path, &render).unwrap_or_else(|e| panic!("write CHATSEAL_METRICS_DUMP={path}: {e}"));
    }
    assert_render_complete(&render, "in-process daemon");
    assert!(render.contains("chatseal_channel_state{channel=\"obs\"} 2"), "#obs joined in the render");
    daemon.stop().await.expect("graceful stop");
    fake.shutdown().await;
}

/// Row panels hold their own panels; every panel, flattened.
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = d["panels"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
    while let Some(p) = stack.pop() {
        if let Some(inner) = p["panels"].as_array() {
            stack.extend(inner.iter());
        }
        out.push(p);
    }
    out
}

/// The range of each `[...]` in a query; for `rate(`, the range that follows it.
fn ranges(expr: &str) -> (Vec<&str>, Vec<&str>) {
    let all = expr.split('[').skip(1).filter_map(|s| s.split_once(']').map(|(r, _)| r)).collect();
    (all, ranges_after(expr, "rate("))
}

/// The range that follows each occurrence of the function `call` (e.g. `"increase("`).
fn ranges_after<'a>(expr: &'a str, call: &str) -> Vec<&'a str> {
    expr.match_indices(call)
        .filter_map(|(at, _)| expr[at..].split_once('[').and_then(|(_, r)| r.split_once(']')).map(|(r, _)| r))
        .collect()
}

#[test]
fn dashboards_are_sound() {
    let mut uids = BTreeSet::new();
    for (file, uid) in DASHBOARDS {
        let d = dashboard(file);
        assert_eq!(d["uid"].as_str(), Some(uid), "{file}: stable uid");
        assert!(uids.insert(uid), "{file}: uid {uid} used twice");
        assert_eq!(d["schemaVersion"].as_i64(), Some(39), "{file}: schemaVersion");
        let vars = d["templating"]["list"].as_array().unwrap_or_else(|| panic!("{file}: no templating list"));
        assert!(
            vars.iter().any(|v| v["type"] == "datasource" && v["name"] == "datasource" && v["query"] == "prometheus"),
            "{file}: a `datasource` variable of type prometheus"
        );
        let all = panels(&d);
        assert!(all.len() >= 8, "{file}: only {} panels", all.len());
        let mut ids = BTreeSet::new();
        let mut boxes: Vec<(i64, i64, i64, i64, String)> = Vec::new();
        for p in all {
            let title = p["title"].as_str().unwrap_or("?").to_string();
            let id = p["id"].as_i64().unwrap_or_else(|| panic!("{file}: panel {title:?} has no id"));
            assert!(ids.insert(id), "{file}: panel id {id} used twice");
            if p["type"] == "row" {
                continue;
            }
            let unit = p["fieldConfig"]["defaults"]["unit"].as_str().unwrap_or("");
            assert!(!unit.is_empty(), "{file}: panel {title:?} has no unit");
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{file}: panel {title:?} uses the datasource variable");
            let targets = p["targets"].as_array().unwrap_or_else(|| panic!("{file}: {title:?} has no targets"));
            assert!(!targets.is_empty(), "{file}: {title:?} has no targets");
            for t in targets {
                assert_eq!(t["datasource"]["uid"], "${datasource}", "{file}: a target of {title:?}");
                let expr = t["expr"].as_str().unwrap_or_else(|| panic!("{file}: a target of {title:?} has no expr"));
                let (all, of_rate) = ranges(expr);
                assert!(
                    all.iter().all(|r| *r == "$__rate_interval" || *r == "$__range"),
                    "{file}: {title:?}: range {all:?} in {expr}"
                );
                assert!(
                    of_rate.iter().all(|r| *r == "$__rate_interval"),
                    "{file}: {title:?}: rate() without $__rate_interval: {expr}"
                );
                // A count is over the dashboard's range, evaluated once: increase() over
                // $__rate_interval drawn one step apart counts each event in several bars.
                let of_increase = ranges_after(expr, "increase(");
                assert!(
                    of_increase.iter().all(|r| *r == "$__range"),
                    "{file}: {title:?}: increase() over {of_increase:?}, not $__range: {expr}"
                );
                if all.contains(&"$__range") {
                    assert_eq!(
                        t["instant"], true,
                        "{file}: {title:?}: a count over $__range is an instant query: {expr}"
                    );
                }
            }
            let g = &p["gridPos"];
            let b = (
                g["x"].as_i64().unwrap_or(-1),
                g["y"].as_i64().unwrap_or(-1),
                g["w"].as_i64().unwrap_or(0),
                g["h"].as_i64().unwrap_or(0),
            );
            assert!(b.0 >= 0 && b.1 >= 0 && b.2 > 0 && b.3 > 0 && b.0 + b.2 <= 24, "{file}: {title:?} gridPos {g}");
            for o in &boxes {
                let apart = b.0 + b.2 <= o.0 || o.0 + o.2 <= b.0 || b.1 + b.3 <= o.1 || o.1 + o.3 <= b.1;
                assert!(apart, "{file}: {title:?} overlaps {:?}", o.4);
            }
            boxes.push((b.0, b.1, b.2, b.3, title));
        }
    }
}

/// Every metric of the catalogue is drawn by a panel of some dashboard, or feeds its variables
/// (`chatseal_build_info` lists the instances) (issue 21: backups, reconnects, timestamp
/// fallbacks, recoveries, join waits and the publish backlog had no panel).
#[test]
fn every_metric_of_the_catalogue_has_a_panel() {
    let mut drawn: BTreeSet<String> = BTreeSet::new();
    for (file, _) in DASHBOARDS {
        let d = dashboard(file);
        let mut variables = Vec::new();
        strings_under(&d["templating"], "definition", &mut variables);
        for p in panels(&d) {
            let mut exprs = Vec::new();
            strings_under(p, "expr", &mut exprs);
            for name in exprs.iter().chain(variables.iter()).flat_map(|e| metric_names(e)) {
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s).filter(|b| names::ALL.iter().any(|d| d.name == *b)))
                    .map_or(name.clone(), str::to_string);
                drawn.insert(base);
            }
        }
    }
    let missing: Vec<&str> = names::ALL.iter().map(|d| d.name).filter(|n| !drawn.contains(*n)).collect();
    assert!(missing.is_empty(), "metrics no dashboard panel draws: {missing:?}");
    for named in [
        "chatseal_backup_failures_total",
        "chatseal_irc_reconnects_total",
        "chatseal_timestamp_fallback_total",
        "chatseal_recoveries_total",
        "chatseal_irc_join_wait_seconds",
        "chatseal_unpublished_seals",
        "chatseal_unpublished_oldest_seconds",
    ] {
        assert!(drawn.contains(named), "{named} has no panel");
    }
}

#[test]
fn query_parsing_finds_names_and_ranges() {
    let yaml = "  - alert: A\n    expr: |\n      time() - chatseal_a_seconds > 1\n      and chatseal_b\n    for: 1m\n  - alert: B\n    expr: rate(chatseal_c_total[5m]) > 0\n";
    let exprs = alert_exprs(yaml);
    assert_eq!(exprs.len(), 2, "{exprs:?}");
    let names: Vec<String> = exprs.iter().flat_map(|e| metric_names(e)).collect();
    assert_eq!(names, ["chatseal_a_seconds", "chatseal_b", "chatseal_c_total"]);
    assert_eq!(metric_names("x_chatseal_no + chatseal_yes_bucket{le=\"1\"}"), ["chatseal_yes_bucket"]);
    let (all, of_rate) = ranges("increase(chatseal_x[$__range]) + rate(chatseal_y[5m])");
    assert_eq!((all, of_rate), (vec!["$__range", "5m"], vec!["5m"]));
    assert_eq!(
        ranges_after("increase(chatseal_x[$__rate_interval]) + rate(chatseal_y[5m])", "increase("),
        ["$__rate_interval"]
    );
}

/// The real binary with its config in the environment, systemd's variables set.
fn spawn_binary(fake: &chatseal::twitchsim::FakeTwitch, url: &str, http_port: u16, notify_socket: &Path) -> Child {
    crate::harness::daemon_command(fake, url)
        .env("NOTIFY_SOCKET", notify_socket)
        .env("WATCHDOG_USEC", "2000000")
        .env("CHATSEAL__TWITCH__CHANNELS", "sd")
        .env("CHATSEAL__HTTP__LISTEN", format!("127.0.0.1:{http_port}"))
        .spawn()
        .expect("spawn chatseal")
}

/// Kills the child if the test fails before it exits.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The next notification line (`READY=1`, ...) within `timeout`, None when none came.
async fn next_notification(
    sock: &tokio::net::UnixDatagram,
    pending: &mut Vec<String>,
    timeout: Duration,
) -> Option<String> {
    let deadline = Instant::now() + timeout;
    while pending.is_empty() {
        let mut buf = [0u8; 4096];
        let left = deadline.checked_duration_since(Instant::now())?;
        let n = tokio::time::timeout(left, sock.recv(&mut buf)).await.ok()?.expect("recv on the notify socket");
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        pending.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_string).rev());
    }
    pending.pop()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_hears_ready_watchdog_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let sock = tokio::net::UnixDatagram::bind(&socket_path).expect("bind the notify socket");
    let fake = fake_twitch().await;
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port");
    let mut child = KillOnDrop(spawn_binary(&fake, &sqlite_url(dir.path()), port, &socket_path));
    let mut pending = Vec::new();

    let first = next_notification(&sock, &mut pending, Duration::from_secs(60)).await;
    assert_eq!(first.as_deref(), Some("READY=1"), "READY=1 comes first, once the daemon serves");
    // READY means serving: /metrics answers at once, and a fresh process already has every
    // series of the catalogue and every one the dashboards and alerts query.
    let render = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("GET /metrics after READY=1")
        .text()
        .await
        .unwrap();
    assert_render_complete(&render, "fresh binary right after READY=1");

    let watchdog = next_notification(&sock, &mut pending, Duration::from_secs(10)).await;
    assert_eq!(watchdog.as_deref(), Some("WATCHDOG=1"), "a watchdog ping within the period (1 s for WATCHDOG_USEC=2s)");
    let again = next_notification(&sock, &mut pending, Duration::from_secs(10)).await;
    assert_eq!(again.as_deref(), Some("WATCHDOG=1"), "pings go on");

    let term = Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().expect("kill -TERM");
    assert!(term.success());
    let mut stopping = false;
    while let Some(msg) = next_notification(&sock, &mut pending, Duration::from_secs(30)).await {
        if msg == "STOPPING=1" {
            stopping = true;
            break;
        }
        assert_eq!(msg, "WATCHDOG=1", "only pings before STOPPING=1");
    }
    assert!(stopping, "STOPPING=1 after SIGTERM");
    let exit = child.0.wait().expect("wait");
    assert_eq!(exit.code(), Some(0), "SIGTERM exits 0");
    assert_eq!(
        next_notification(&sock, &mut pending, Duration::from_millis(200)).await,
        None,
        "nothing after STOPPING=1"
    );
    fake.shutdown().await;
}
