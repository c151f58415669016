//! When to try connecting again: exponential backoff with jitter.
//!
//! Attempt `n` (0 for the first retry) waits a random time in `[cap/2, cap]`, where
//! `cap = min(max, base * 2^n)` ("equal jitter"): never less than half the exponential
//! step, so a broker restart is not met by a synchronised stampede of devices, and
//! never more than `max`. The schedule is a pure function of the attempt number, the
//! random number generator and `now`, so it is tested without a clock.

use embassy_time::{Duration, Instant};
use rand_core::RngCore;

/// An exponential backoff schedule with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The upper bound of the first retry's wait.
    pub base: Duration,
    /// The upper bound of every wait.
    pub max: Duration,
}

impl Backoff {
    /// The link's default: 500 ms, doubling up to 4 s. A person is waiting at the other
    /// end, so a device is back within 4 s of its broker, however long the broker was
    /// away; the jitter (every wait in `[cap/2, cap]`) still spreads a fleet's reconnects
    /// over 2 s.
    pub const DEFAULT: Backoff = Backoff {
        base: Duration::from_millis(500),
        max: Duration::from_secs(4),
    };

    /// The longest wait for attempt `attempt` (0 is the first retry).
    pub fn cap(&self, attempt: u32) -> Duration {
        let base = self.base.as_micros();
        let max = self.max.as_micros();
        // `base << attempt` keeps every bit only while `attempt` fits in the leading
        // zeros; beyond that the step is larger than any `max`.
        let step = if base == 0 {
            0
        } else if attempt <= base.leading_zeros() {
            base << attempt
        } else {
            u64::MAX
        };
        Duration::from_micros(step.min(max))
    }

    /// The wait before attempt `attempt`: uniform in `[cap/2, cap]`.
    pub fn delay(&self, attempt: u32, rng: &mut impl RngCore) -> Duration {
        let cap = self.cap(attempt).as_micros();
        let half = cap / 2;
        let span = cap - half;
        let jitter = if span == 0 {
            0
        } else {
            rng.next_u64() % (span + 1)
        };
        Duration::from_micros(half + jitter)
    }

    /// When attempt `attempt` should start, if the previous one ended at `now`.
    pub fn next_attempt(&self, attempt: u32, rng: &mut impl RngCore, now: Instant) -> Instant {
        now + self.delay(attempt, rng)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The reconnect bookkeeping around a [`Backoff`]: how many attempts in a row failed and
/// when the next may start. A connection that stayed up for [`Reconnect::STABLE`]
/// resets the count, so one drop after a long session retries quickly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    /// The schedule.
    pub backoff: Backoff,
    attempt: u32,
    not_before: Instant,
    connected_at: Option<Instant>,
}

impl Reconnect {
    /// How long a connection must last to count as a success.
    pub const STABLE: Duration = Duration::from_secs(60);

    /// Nothing failed yet: the first attempt may start at once.
    pub const fn new(backoff: Backoff) -> Self {
        Self {
            backoff,
            attempt: 0,
            not_before: Instant::from_ticks(0),
            connected_at: None,
        }
    }

    /// Whether an attempt may start at `now`.
    pub fn due(&self, now: Instant) -> bool {
        now >= self.not_before
    }

    /// When the next attempt may start.
    pub fn not_before(&self) -> Instant {
        self.not_before
    }

    /// Failed attempts since the last stable connection.
    pub fn failures(&self) -> u32 {
        self.attempt
    }

    /// Records that the link came up at `now`.
    pub fn connected(&mut self, now: Instant) {
        self.connected_at = Some(now);
    }

    /// Records that an attempt failed or the link went down at `now`, and schedules the
    /// next attempt.
    pub fn failed(&mut self, rng: &mut impl RngCore, now: Instant) {
        if let Some(since) = self.connected_at.take()
            && now.saturating_duration_since(since) >= Self::STABLE
        {
            self.attempt = 0;
        }
        self.not_before = self.backoff.next_attempt(self.attempt, rng, now);
        self.attempt = self.attempt.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic generator: SplitMix64.
    struct Mix(u64);

    impl RngCore for Mix {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            rand_core::impls::fill_bytes_via_next(self, dest)
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    #[test]
    fn cap_doubles_then_saturates() {
        let b = Backoff::DEFAULT;
        let caps: [u64; 8] = core::array::from_fn(|n| b.cap(n as u32).as_millis());
        assert_eq!(caps, [500, 1000, 2000, 4000, 4000, 4000, 4000, 4000]);
        assert_eq!(b.cap(63).as_millis(), 4000);
        assert_eq!(b.cap(u32::MAX).as_millis(), 4000);
    }

    #[test]
    fn delay_stays_within_half_cap_and_cap_and_varies() {
        let b = Backoff::DEFAULT;
        let mut rng = Mix(1);
        for attempt in 0..20 {
            let cap = b.cap(attempt);
            let mut seen_low = false;
            let mut seen_high = false;
            for _ in 0..200 {
                let d = b.delay(attempt, &mut rng);
                assert!(
                    d >= cap / 2 && d <= cap,
                    "attempt {attempt}: {d:?} vs {cap:?}"
                );
                seen_low |= d < cap * 5 / 8;
                seen_high |= d > cap * 7 / 8;
            }
            assert!(seen_low && seen_high, "attempt {attempt}: no spread");
        }
    }

    #[test]
    fn same_rng_state_gives_same_schedule() {
        let b = Backoff::DEFAULT;
        let now = Instant::from_secs(100);
        let a = b.next_attempt(3, &mut Mix(42), now);
        assert_eq!(a, b.next_attempt(3, &mut Mix(42), now));
        assert!(a >= now + Duration::from_secs(2) && a <= now + Duration::from_secs(4));
    }

    #[test]
    fn zero_base_retries_at_once() {
        let b = Backoff {
            base: Duration::from_ticks(0),
            max: Duration::from_secs(1),
        };
        assert_eq!(b.delay(5, &mut Mix(0)), Duration::from_ticks(0));
    }

    #[test]
    fn reconnect_grows_and_resets_after_a_stable_connection() {
        let mut r = Reconnect::new(Backoff::DEFAULT);
        let mut rng = Mix(7);
        let t0 = Instant::from_secs(10);
        assert!(r.due(t0));
        r.failed(&mut rng, t0);
        assert!(!r.due(t0));
        assert!(r.not_before() <= t0 + Duration::from_millis(500));
        r.failed(&mut rng, t0);
        r.failed(&mut rng, t0);
        assert_eq!(r.failures(), 3);
        assert!(r.not_before() >= t0 + Duration::from_secs(1));
        // A short connection does not reset the count...
        r.connected(t0);
        r.failed(&mut rng, t0 + Duration::from_secs(1));
        assert_eq!(r.failures(), 4);
        // ...a long one does.
        r.connected(t0);
        r.failed(&mut rng, t0 + Reconnect::STABLE);
        assert_eq!(r.failures(), 1);
        assert!(r.not_before() <= t0 + Reconnect::STABLE + Duration::from_millis(500));
    }
}
