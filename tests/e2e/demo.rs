//! `chatseal demo`, the real binary as a newcomer runs it: no config, no network, a fresh
//! working directory. With 5 s epochs (through the environment, as for every command) a 25 s
//! run must print sealed epochs with their roots, a sample proof that verifies, and exit 0
//! after a graceful stop, leaving no temporary files behind.

use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Runs `chatseal demo ARGS` in a fresh directory with only `env` set; returns the status,
/// stdout and stderr, the elapsed time, and what was left in its TMPDIR. Kills it after `limit`.
fn demo(args: &[&str], env: &[(&str, &str)], limit: Duration) -> (ExitStatus, String, String, Duration, Vec<String>) {
    let work = tempfile::tempdir().expect("temp dir");
    let tmp = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chatseal"))
        .arg("demo")
        .args(args)
        .current_dir(work.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TMPDIR", tmp.path())
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chatseal demo");
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out = read(Box::new(child.stdout.take().expect("stdout")));
    let err = read(Box::new(child.stderr.take().expect("stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chatseal demo") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chatseal demo {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let elapsed = started.elapsed();
    let (out, err) = (out.join().expect("stdout reader"), err.join().expect("stderr reader"));
    (status, out, err, elapsed, left_in(tmp.path()))
}

fn left_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

fn is_root(word: &str) -> bool {
    word.len() == 66 && word.starts_with("0x") && word[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn demo_seals_epochs_and_verifies_a_proof_without_network_or_config() {
    let env = [("CHATSEAL__EPOCH__LENGTH", "5s"), ("CHATSEAL__EPOCH__GRACE", "1s")];
    let (status, out, err, elapsed, left) = demo(&["--for", "25s"], &env, Duration::from_secs(90));
    assert!(status.success(), "exit {status}\nstdout:\n{out}\nstderr:\n{err}");
    assert!(elapsed >= Duration::from_secs(25), "ran for the whole duration: {elapsed:?}");
    let seals: Vec<&str> = out.lines().filter(|l| l.starts_with("sealed #")).collect();
    let with_root = seals.iter().filter(|l| l.split_whitespace().any(is_root)).count();
    assert!(with_root >= 2, "at least two seals with a 0x root in 25 s of 5 s epochs:\n{out}\nstderr:\n{err}");
    for channel in ["#lacy", "#jasontheween", "#stableronaldo"] {
        assert!(seals.iter().any(|l| l.contains(channel)), "{channel} sealed:\n{out}");
    }
    assert!(out.contains("verified: true"), "{out}\nstderr:\n{err}");
    assert!(out.contains("\"proof\""), "the proof JSON is printed:\n{out}");
    assert!(out.contains("/metrics"), "the metrics URL is printed:\n{out}");
    assert!(out.contains("RECONNECT"), "the RECONNECT is told:\n{out}");
    assert!(out.contains("the daemon stopped cleanly"), "{out}");
    assert!(left.is_empty(), "the demo's temporary files are removed: {left:?}");
}

#[test]
fn a_run_shorter_than_an_epoch_says_so_and_still_exits_cleanly() {
    let (status, out, err, _, left) = demo(&["--for", "2s"], &[], Duration::from_secs(60));
    assert!(status.success(), "exit {status}\nstdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("is shorter than one epoch (20s) plus its grace (2s)"), "{out}");
    assert!(out.contains("no proof to show"), "{out}");
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_zero_duration_is_a_usage_error() {
    let (status, _, err, _, _) = demo(&["--for", "0s"], &[], Duration::from_secs(30));
    assert_eq!(status.code(), Some(64), "{err}");
    assert!(err.contains("--for must be longer than zero"), "{err}");
}
