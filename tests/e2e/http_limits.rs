//! The `[http]` limits against the real binary: half-sent and silent connections are cut after
//! their timeouts, a body that does not arrive is 408, a 50 MB body is 413 (JSON), and with only
//! 128 file descriptors many idle HTTP clients neither stop /healthz from answering nor the
//! channel from reconnecting to the fake Twitch server. With timeouts too long to help, the
//! connection cap alone holds: `http.max_connections` clients are served at once and the next
//! one waits in the listen queue, and 150 held clients leave the chat connection its descriptors.

use std::io;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use chatseal::twitchsim::FakeTwitch;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{daemon_command, fake_twitch, free_port, get_json, sqlite_url, wait_for};

/// The binary, killed when the test ends (passing or not).
pub struct Running {
    child: Child,
    pub port: u16,
}

impl Running {
    pub fn new(child: Child, port: u16) -> Self {
        Self { child, port }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `chatseal run` against `fake` with `env` on top of the harness's, HTTP on a free port; waits
/// until /healthz answers 200 and #alpha is joined.
pub async fn start(fake: &FakeTwitch, url: &str, env: &[(&str, &str)], tweak: impl FnOnce(&mut Command)) -> Running {
    let port = free_port();
    let mut cmd = daemon_command(fake, url);
    cmd.env("CHATSEAL__HTTP__LISTEN", format!("127.0.0.1:{port}"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    tweak(&mut cmd);
    let running = Running { child: cmd.spawn().expect("spawn chatseal"), port };
    let base = running.base();
    wait_for("/healthz to answer 200", Duration::from_secs(30), || {
        let url = format!("{base}/healthz");
        async move { reqwest::get(&url).await.ok().filter(|r| r.status() == 200).map(|_| ()) }
    })
    .await;
    assert!(fake.wait_joined("alpha", Duration::from_secs(30)).await, "#alpha never joined");
    running
}

/// Reads until the server closes the connection (EOF or reset) or `limit` passes; returns what
/// was read and whether it closed.
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let mut buf = [0u8; 4096];
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// The JSON body of a raw HTTP/1.1 answer.
fn json_body(answer: &str) -> serde_json::Value {
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("answer body is not JSON ({e}): {answer:?}"))
}

const FAST_LIMITS: &[(&str, &str)] = &[
    ("CHATSEAL__HTTP__HEADER_TIMEOUT", "1s"),
    ("CHATSEAL__HTTP__IDLE_TIMEOUT", "1s"),
    ("CHATSEAL__HTTP__BODY_TIMEOUT", "1s"),
    ("CHATSEAL__HTTP__ADMIN_TOKEN", "e2e-admin-token-0123456789abcdef"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_silent_and_half_sent_requests_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_twitch().await;
    let d = start(&fake, &sqlite_url(dir.path()), FAST_LIMITS, |_| {}).await;
    let addr = format!("127.0.0.1:{}", d.port);

    // Headers trickled one byte every 200 ms never complete: cut at header_timeout (1 s), not
    // by the idle timeout (bytes keep coming).
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    let started = Instant::now();
    let request = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: {}", "a".repeat(100));
    let mut cut_after = None;
    for b in request.bytes() {
        if slow.write_all(&[b]).await.is_err() {
            cut_after = Some(started.elapsed());
            break;
        }
        // Anything from the server (an error answer, EOF, a reset) ends an unfinished request.
        let mut probe = [0u8; 256];
        if tokio::time::timeout(Duration::from_millis(200), slow.read(&mut probe)).await.is_ok() {
            cut_after = Some(started.elapsed());
            break;
        }
    }
    let cut_after = cut_after.expect("a request trickled for 20 s was never cut off");
    assert!(
        cut_after >= Duration::from_millis(900) && cut_after < Duration::from_secs(4),
        "cut after {cut_after:?}, header_timeout is 1s"
    );

    // A connection that sends nothing, and one that sent half its headers and went quiet.
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    let mut half = TcpStream::connect(&addr).await.unwrap();
    half.write_all(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(closed, "a silent connection was still open after 5 s (idle_timeout 1s)");
    let (_, closed) = read_until_closed(&mut half, Duration::from_secs(5)).await;
    assert!(closed, "a half-sent request was still open after 5 s (header_timeout 1s)");
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());

    // Headers complete, body short of its Content-Length: 408 body_timeout, as JSON.
    let mut short_body = TcpStream::connect(&addr).await.unwrap();
    short_body
        .write_all(b"POST /v1/admin/opt-out HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"login\":")
        .await
        .unwrap();
    let (answer, closed) = read_until_closed(&mut short_body, Duration::from_secs(5)).await;
    assert!(closed && answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert_eq!(json_body(&answer)["error"], "body_timeout", "{answer}");

    // And the server still answers.
    let (code, _) = get_json(&format!("{}/healthz", d.base())).await;
    assert_eq!(code, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_body_answers_413_with_the_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_twitch().await;
    let d = start(&fake, &sqlite_url(dir.path()), FAST_LIMITS, |_| {}).await;
    let mut s = TcpStream::connect(format!("127.0.0.1:{}", d.port)).await.unwrap();
    let head = format!(
        "POST /v1/admin/opt-out HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{\"login\": \"",
        FAST_LIMITS[3].1,
        50 * 1024 * 1024
    );
    s.write_all(head.as_bytes()).await.unwrap();
    // The first megabyte of the body; the answer must not wait for the rest.
    let _ = s.write_all(&vec![b'a'; 1024 * 1024]).await;
    let (answer, _) = read_until_closed(&mut s, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    let body = json_body(&answer);
    assert_eq!(body["error"], "payload_too_large", "{body}");
    assert!(body["message"].as_str().unwrap_or("").contains("http.max_body_bytes"), "{body}");
}

/// Sets the open-file limit of the child to `n` (soft and hard) before it runs.
fn nofile_limit(cmd: &mut Command, n: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe setrlimit between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit { rlim_cur: n as libc::rlim_t, rlim_max: n as libc::rlim_t };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_http_clients_cannot_starve_health_or_irc_of_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_twitch().await;
    let d = start(&fake, &sqlite_url(dir.path()), FAST_LIMITS, |cmd| nofile_limit(cmd, 128)).await;
    let addr = format!("127.0.0.1:{}", d.port);

    // 150 clients that send half a request and wait: more than the process has descriptors for.
    let mut idle = Vec::new();
    for _ in 0..150 {
        let mut s = TcpStream::connect(&addr).await.expect("connect (queued by the kernel past the cap)");
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
        idle.push(s);
    }
    // The chat connection drops: the channel must get a new socket and join again.
    chat_reconnects(&fake, "150 HTTP clients held on").await;
    // /healthz answers on a new connection within a bounded time (the idle clients are cut
    // at the header timeout and the queue drains).
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let started = Instant::now();
    let resp =
        client.get(format!("http://{addr}/healthz")).send().await.expect("/healthz answered with 150 idle clients");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    // Every idle client was cut off, none left holding a descriptor.
    for (i, s) in idle.iter_mut().enumerate() {
        let (_, closed) = read_until_closed(s, Duration::from_secs(20)).await;
        assert!(closed, "idle client {i} still open");
    }
}

/// Timeouts long enough that only the connection cap can protect anything within the test.
const SLOW_LIMITS: &[(&str, &str)] = &[
    ("CHATSEAL__HTTP__HEADER_TIMEOUT", "60s"),
    ("CHATSEAL__HTTP__IDLE_TIMEOUT", "60s"),
    ("CHATSEAL__HTTP__BODY_TIMEOUT", "60s"),
];

/// `n` connections that each sent half a request and wait.
async fn half_requests(addr: &str, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = TcpStream::connect(addr).await.expect("connect (queued by the kernel past the cap)");
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
        held.push(s);
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_caps_the_open_connections_and_the_next_client_waits_its_turn() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_twitch().await;
    let mut env = SLOW_LIMITS.to_vec();
    env.push(("CHATSEAL__HTTP__MAX_CONNECTIONS", "3"));
    let d = start(&fake, &sqlite_url(dir.path()), &env, |_| {}).await;
    let addr = format!("127.0.0.1:{}", d.port);
    // /healthz's own connection (start) is closed by now: wait until the 3 slots are free.
    let mut held = half_requests(&addr, 3).await;

    // A 4th client: the kernel queues it, the daemon does not accept it while 3 are held.
    let mut fourth = TcpStream::connect(&addr).await.unwrap();
    fourth.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let (answer, closed) = read_until_closed(&mut fourth, Duration::from_secs(2)).await;
    assert!(
        answer.is_empty() && !closed,
        "a 4th connection was served while http.max_connections = 3 were held: {answer:?}"
    );
    // One held client leaves: the waiting one is accepted and answered.
    drop(held.pop());
    let (answer, _) = read_until_closed(&mut fourth, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "the queued client was not served once a slot freed: {answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_http_connections_never_take_the_descriptors_irc_needs() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_twitch().await;
    let d = start(&fake, &sqlite_url(dir.path()), SLOW_LIMITS, |cmd| nofile_limit(cmd, 128)).await;
    let addr = format!("127.0.0.1:{}", d.port);
    // 150 clients hold half a request for a minute: more than the process has descriptors for,
    // and no timeout frees any of them during the test. Only the cap (128 / 4 = 32) stands
    // between them and the descriptors the chat connection needs.
    let held = half_requests(&addr, 150).await;
    chat_reconnects(&fake, "150 HTTP clients held their connections").await;
    // Once they leave, /healthz answers again.
    drop(held);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let resp = client.get(format!("http://{addr}/healthz")).send().await.expect("/healthz after the clients left");
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_closes_silent_stalled_and_kept_alive_connections_before_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_twitch().await;
    // idle 1 s, headers 6 s: whatever closes these connections within 4 s is the idle timeout.
    let env = [("CHATSEAL__HTTP__HEADER_TIMEOUT", "6s"), ("CHATSEAL__HTTP__IDLE_TIMEOUT", "1s")];
    let d = start(&fake, &sqlite_url(dir.path()), &env, |_| {}).await;
    let addr = format!("127.0.0.1:{}", d.port);

    // Kept alive after one answered request, then silent.
    let mut kept = TcpStream::connect(&addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    while !String::from_utf8_lossy(&answer).contains("\"ok\"") {
        let mut buf = [0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(10), kept.read(&mut buf))
            .await
            .expect("an answer to the first request")
            .unwrap();
        assert!(n > 0, "closed before answering: {:?}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&answer));
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    let mut stalled = TcpStream::connect(&addr).await.unwrap();
    stalled.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();

    let started = Instant::now();
    for (what, s) in [("kept alive", &mut kept), ("silent", &mut silent), ("stalled in its headers", &mut stalled)] {
        let (_, closed) = read_until_closed(s, Duration::from_secs(4)).await;
        assert!(closed, "a {what} connection was still open after 4 s with http.idle_timeout = 1s");
    }
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
}

/// Drops the chat connection and checks that #alpha is joined again on a new one within 20 s
/// (`while_` says what the HTTP side was doing meanwhile).
async fn chat_reconnects(fake: &FakeTwitch, while_: &str) {
    let before = fake.total_connections();
    fake.drop_all();
    assert!(
        fake.wait_for(Duration::from_secs(20), |t| t.total_connections() > before
            && t.joined_connections("alpha") == 1)
            .await,
        "#alpha did not reconnect while {while_}"
    );
}
