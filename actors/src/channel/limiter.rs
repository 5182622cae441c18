//! The process-wide JOIN and login limiter shared by every channel actor: at most `n` grants in
//! any sliding window of `window` (Twitch allows 20 per 10 s per account; the default 18 per
//! 12.5 s leaves margin for lag). A sliding log rather than a token bucket, so no burst can ever
//! exceed `n` within a window as the server measures it. The decision is a pure function.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
// tokio's Instant: follows a paused test clock, and sleep_until takes it directly.
use tokio::time::Instant;

/// When the next grant may happen, given the grants in `log` (oldest first): None = now.
pub fn next_slot(log: &VecDeque<Instant>, now: Instant, n: usize, window: Duration) -> Option<Instant> {
    if log.len() < n {
        return None;
    }
    // The grant n places back must have left the window.
    let oldest_relevant = log[log.len() - n];
    let free_at = oldest_relevant + window;
    if free_at <= now {
        None
    } else {
        Some(free_at)
    }
}

/// Shared limiter; clone freely.
#[derive(Debug, Clone)]
pub struct JoinLimiter {
    inner: Arc<Mutex<VecDeque<Instant>>>,
    n: usize,
    window: Duration,
}

impl JoinLimiter {
    /// At most `n` acquisitions (at least 1) in any sliding `window`.
    pub fn new(n: usize, window: Duration) -> Self {
        Self { inner: Arc::new(Mutex::new(VecDeque::new())), n: n.max(1), window }
    }

    /// Waits for a slot and takes it; returns how long it waited. Fair in arrival order
    /// (tokio's Mutex queues waiters FIFO).
    pub async fn acquire(&self) -> Duration {
        let start = Instant::now();
        let mut log = self.inner.lock().await;
        loop {
            let now = Instant::now();
            match next_slot(&log, now, self.n, self.window) {
                None => {
                    log.push_back(now);
                    while log.len() > self.n {
                        log.pop_front();
                    }
                    return start.elapsed();
                }
                Some(at) => tokio::time::sleep_until(at).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pure_slot_rule() {
        let t0 = Instant::now();
        let w = Duration::from_secs(10);
        let mut log = VecDeque::new();
        assert_eq!(next_slot(&log, t0, 2, w), None);
        log.push_back(t0);
        assert_eq!(next_slot(&log, t0, 2, w), None);
        log.push_back(t0 + Duration::from_secs(1));
        assert_eq!(next_slot(&log, t0 + Duration::from_secs(2), 2, w), Some(t0 + w));
        assert_eq!(next_slot(&log, t0 + w, 2, w), None);
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_than_n_per_window() {
        // paused time: sleeps advance the virtual clock instantly
        let lim = JoinLimiter::new(3, Duration::from_secs(5));
        let mut grants = Vec::new();
        for _ in 0..10 {
            lim.acquire().await;
            grants.push(Instant::now());
        }
        for (i, g) in grants.iter().enumerate() {
            let in_window = grants[i..].iter().filter(|h| h.duration_since(*g) < Duration::from_secs(5)).count();
            assert!(in_window <= 3, "{in_window} grants within one window");
        }
        // and it did not wait needlessly: 10 grants at 3 per 5 s need 3 full windows
        assert!(grants[9].duration_since(grants[0]) >= Duration::from_secs(15));
        assert!(grants[9].duration_since(grants[0]) < Duration::from_secs(16));
    }
}
