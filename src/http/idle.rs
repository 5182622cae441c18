//! The idle timeout of one HTTP connection: [`IdleIo`] wraps the socket and fails its read with
//! `TimedOut` once no byte has arrived for `http.idle_timeout` while no request is being
//! answered ([`Busy`] counts those), so hyper closes the connection. A connection that opened
//! and sent nothing, one kept alive between requests, and one stalled in the middle of its
//! headers are all idle; a request being answered never is (its own bounds apply).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Requests of one connection being answered, and when the last answer was handed to hyper.
#[derive(Clone, Debug)]
pub struct Busy(Arc<BusyInner>);

#[derive(Debug)]
struct BusyInner {
    in_flight: AtomicUsize,
    last_done: Mutex<Instant>,
}

impl Default for Busy {
    fn default() -> Self {
        Busy(Arc::new(BusyInner { in_flight: AtomicUsize::new(0), last_done: Mutex::new(Instant::now()) }))
    }
}

impl Busy {
    /// Marks a request as being answered until the guard drops.
    pub fn enter(&self) -> BusyGuard {
        self.0.in_flight.fetch_add(1, Ordering::SeqCst);
        BusyGuard(self.clone())
    }

    fn in_flight(&self) -> bool {
        self.0.in_flight.load(Ordering::SeqCst) > 0
    }

    fn last_done(&self) -> Instant {
        *self.0.last_done.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Ends one request's busy time on drop.
pub struct BusyGuard(Busy);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        *self.0 .0.last_done.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.0 .0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A socket whose reads fail with `TimedOut` after `idle` without a byte and without a request
/// in flight.
pub struct IdleIo<T> {
    inner: T,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    busy: Busy,
}

impl<T> IdleIo<T> {
    /// Wraps `inner`; its idle clock starts now and restarts on every byte read. `busy` counts
    /// the connection's requests in flight (the clock does not run out while one is).
    pub fn new(inner: T, idle: Duration, busy: Busy) -> Self {
        Self { inner, idle, deadline: Box::pin(tokio::time::sleep(idle)), busy }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.deadline.as_mut().reset(Instant::now() + this.idle);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => loop {
                if this.deadline.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let now = Instant::now();
                if this.busy.in_flight() {
                    this.deadline.as_mut().reset(now + this.idle);
                    continue;
                }
                let after_answer = this.busy.last_done() + this.idle;
                if after_answer > now {
                    this.deadline.as_mut().reset(after_answer);
                    continue;
                }
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "HTTP connection idle past http.idle_timeout",
                )));
            },
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn silence_fails_the_read_after_idle() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut io = IdleIo::new(a, Duration::from_secs(5), Busy::default());
        let started = Instant::now();
        let mut buf = [0u8; 8];
        b.write_all(b"GET").await.unwrap();
        assert_eq!(io.read(&mut buf).await.unwrap(), 3);
        let err = io.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_is_never_idle_and_the_wait_restarts_after_it() {
        let (a, _b) = tokio::io::duplex(64);
        let busy = Busy::default();
        let mut io = IdleIo::new(a, Duration::from_secs(5), busy.clone());
        let guard = busy.enter();
        let started = Instant::now();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(12)).await;
            drop(guard);
        });
        let mut buf = [0u8; 8];
        let err = io.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(17), "5 s after the answer, not before");
    }
}
