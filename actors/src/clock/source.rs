//! The time source every actor reads. Production uses the system clock; tests inject a clock
//! they move by hand or one that runs ahead, so the clock-driven pipeline is tested for real
//! without waiting on the wall clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Current Unix time in milliseconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, Unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// Shared handle to a clock.
pub type SharedClock = Arc<dyn Clock>;

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_millis() as i64,
            // A clock before 1970 is an operator problem; report time zero rather than panic.
            Err(_) => 0,
        }
    }
}

/// The system clock shifted by an offset that tests can move (e.g. jump to the end of an epoch).
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset_ms: AtomicI64,
}

impl OffsetClock {
    /// A clock `offset_ms` ahead of the system clock (behind if negative).
    pub fn new(offset_ms: i64) -> Arc<Self> {
        Arc::new(Self { offset_ms: AtomicI64::new(offset_ms) })
    }
    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.offset_ms.load(Ordering::SeqCst)
    }
}

/// The system clock as a shared handle.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}
