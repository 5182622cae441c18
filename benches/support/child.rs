//! The daemon as a child process of a bench: a free loopback port for its HTTP, and a SIGTERM
//! stop that reports the exit code (None when it had to be killed).

use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// Sends SIGTERM and waits up to `within` for the child to exit; its exit code, or None after
/// `within` (then it is killed).
pub fn terminate(child: &mut Child, within: Duration) -> Option<i32> {
    let pid = child.id().to_string();
    match Command::new("kill").args(["-TERM", &pid]).status() {
        Ok(s) if s.success() => {}
        other => panic!("kill -TERM {pid}: {other:?}"),
    }
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}
