//! Real-speed pacing: how many 8080 states the guest may run by a given moment.
//!
//! The pacer is pure arithmetic over times the platform passes in, so the same code paces
//! the device and host-sim. It anchors a (time, states) pair and allows
//! `hz x elapsed` states since then. A guest that fell far behind (the host was
//! suspended, a debugger stopped it) is re-anchored instead of being allowed to race to
//! catch up, so a pause never turns into a burst of full-speed execution.

/// How far behind real time the guest may fall before the pacer forgets the debt.
pub const MAX_LAG_US: u64 = 100_000;

/// Paces a guest at a fixed clock rate.
#[derive(Clone, Copy, Debug)]
pub struct Pacer {
    hz: u64,
    anchor_us: u64,
    anchor_states: u64,
}

impl Pacer {
    /// A pacer for a `hz` clock (2,000,000 for the Altair's 2 MHz 8080), anchored at
    /// `now_us` with the CPU at `states`.
    pub fn new(hz: u64, now_us: u64, states: u64) -> Self {
        Pacer {
            hz: hz.max(1),
            anchor_us: now_us,
            anchor_states: states,
        }
    }

    /// The clock rate in Hz.
    pub fn hz(&self) -> u64 {
        self.hz
    }

    /// States the guest may run now, given that it has run `states` so far.
    pub fn allowance(&mut self, now_us: u64, states: u64) -> u64 {
        let elapsed = now_us.saturating_sub(self.anchor_us);
        let due = self.anchor_states + elapsed.saturating_mul(self.hz) / 1_000_000;
        let lag_states = MAX_LAG_US * self.hz / 1_000_000;
        if due > states + lag_states {
            // Too far behind: start again from here.
            *self = Pacer::new(self.hz, now_us, states);
            return 0;
        }
        due.saturating_sub(states)
    }

    /// Microseconds until the guest, having run `states`, is due to run again.
    pub fn wait_us(&self, now_us: u64, states: u64) -> u64 {
        let ahead = states.saturating_sub(self.anchor_states);
        let due_at = self.anchor_us + ahead.saturating_mul(1_000_000).div_ceil(self.hz);
        due_at.saturating_sub(now_us)
    }

    /// Re-anchors after a pause the guest should not make up for (idle, monitor).
    pub fn rebase(&mut self, now_us: u64, states: u64) {
        *self = Pacer::new(self.hz, now_us, states);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_two_states_per_microsecond_at_2_mhz() {
        let mut p = Pacer::new(2_000_000, 1_000, 0);
        assert_eq!(p.allowance(1_000, 0), 0);
        assert_eq!(p.allowance(2_000, 0), 2_000);
        assert_eq!(p.allowance(2_000, 1_500), 500);
        assert_eq!(p.allowance(2_000, 2_017), 0, "overshoot is paid back");
        assert_eq!(p.wait_us(2_000, 2_017), 9);
    }

    #[test]
    fn forgets_a_debt_longer_than_the_lag_limit() {
        let mut p = Pacer::new(2_000_000, 0, 0);
        // Suspended for a second: no burst afterwards.
        assert_eq!(p.allowance(1_000_000, 0), 0);
        assert_eq!(p.allowance(1_000_010, 0), 20);
    }
}
