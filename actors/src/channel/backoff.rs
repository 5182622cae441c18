//! Reconnect backoff: exponential from `min` to `max`, with full jitter in the upper half so a
//! thousand channels dropped at once do not come back in lockstep. Pure given the random draw.

use std::time::Duration;

/// The delay state of one channel's reconnects: grows with each attempt until [`Backoff::reset`].
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// Delays from `min` doubling up to `max` (a `max` below `min` is taken as `min`).
    pub fn new(min: Duration, max: Duration) -> Self {
        Self { min, max: max.max(min), attempt: 0 }
    }

    /// The delay before the next attempt; `unit` is a random draw in [0, 1).
    pub fn next_with(&mut self, unit: f64) -> Duration {
        let exp = self.min.saturating_mul(1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX));
        let cap = exp.min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        // half fixed, half jitter: between cap/2 and cap
        cap.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
    }

    /// [`Backoff::next_with`] with a fresh random draw.
    pub fn next_delay(&mut self) -> Duration {
        self.next_with(rand::random::<f64>())
    }

    /// After a session that stayed healthy.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// Delays handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(b.next_with(1.0), Duration::from_secs(1));
        assert_eq!(b.next_with(1.0), Duration::from_secs(2));
        assert_eq!(b.next_with(0.0), Duration::from_secs(2));
        for _ in 0..30 {
            assert!(b.next_with(1.0) <= Duration::from_secs(60));
        }
        assert_eq!(b.next_with(1.0), Duration::from_secs(60));
        b.reset();
        assert_eq!(b.next_with(1.0), Duration::from_secs(1));
    }
}
