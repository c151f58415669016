//! Driving the link's futures without an operating system.
//!
//! Everything in [`crate::net`] is `async` because embedded-tls 0.19 and minimq 0.13 are;
//! neither needs an executor of its own. The firmware's run loop interleaves the emulator
//! with networking on one core, so the platform drives the network with one of two
//! helpers and never with a thread:
//!
//! - [`poll_once`]: polls a pinned future a single time and returns. A run loop keeps one
//!   long-lived network future (for example an `async` block that connects, subscribes and
//!   serves the link) pinned on its stack and calls `poll_once` on it between emulator
//!   slices. The future is never dropped while it is mid-operation, which is the one rule
//!   the TLS layer needs (see below).
//! - [`block_on`]: polls until the future completes, spinning between polls. For tests,
//!   host tools and the connect phase of a platform that does nothing else meanwhile.
//!
//! Both use a no-op waker: the caller polls again rather than waiting to be woken. So the
//! platform's embassy-time driver (which minimq reads the time through) MAY implement
//! `schedule_wake` as a no-op, and the platform's byte stream MAY return `Pending`
//! without arranging a wake-up.
//!
//! # Cancel safety
//!
//! Dropping a future is cancelling it. embedded-tls reads a record header into a local
//! variable, so a read dropped mid-record would lose it and desynchronise the stream.
//! [`crate::net::RecordStream`] makes this safe for every record that fits its stash
//! (all post-handshake MQTT traffic with the documented buffer sizes); a larger record
//! cancelled half way makes the next read fail cleanly, so the link reconnects instead
//! of misreading. The rule for callers is still: never drop a network future that you
//! intend to continue; time out whole operations (the link's methods take a timeout) and
//! drop the link after a failure.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

/// Polls `future` once with a no-op waker.
///
/// Returns `Poll::Pending` if it needs to be polled again later. Polling a completed
/// future again is a bug in the caller (most futures panic then), so stop at `Ready`.
pub fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    future.poll(&mut cx)
}

/// Runs `future` to completion by polling it in a loop.
///
/// It never sleeps: between polls it only hints the CPU that it is spinning. Use it where
/// nothing else has to run meanwhile; the future's own timeouts bound how long it takes.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = core::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = poll_once(future.as_mut()) {
            return output;
        }
        core::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A future that is pending `n` times before it completes.
    struct CountDown(u32);

    impl Future for CountDown {
        type Output = u32;
        fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<u32> {
            if self.0 == 0 {
                Poll::Ready(7)
            } else {
                self.0 -= 1;
                Poll::Pending
            }
        }
    }

    #[test]
    fn poll_once_returns_pending_until_done() {
        let mut f = core::pin::pin!(CountDown(2));
        assert_eq!(poll_once(f.as_mut()), Poll::Pending);
        assert_eq!(poll_once(f.as_mut()), Poll::Pending);
        assert_eq!(poll_once(f.as_mut()), Poll::Ready(7));
    }

    #[test]
    fn block_on_completes() {
        assert_eq!(block_on(CountDown(100)), 7);
        assert_eq!(block_on(async { 1 + 1 }), 2);
    }
}
