//! The dates a certificate is valid between.

use std::time::{Duration, SystemTime};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The period a certificate is valid: from `not_before` to `not_after`.
///
/// Certificates store whole seconds, so sub-second parts are dropped when issuing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    /// The first moment the certificate is valid.
    pub not_before: SystemTime,
    /// The last moment the certificate is valid.
    pub not_after: SystemTime,
}

impl Validity {
    /// How long a CA made by [`Ca::load_or_create`](crate::Ca::load_or_create) is valid: 10 years.
    pub const CA_DAYS: u64 = 3650;
    /// How long a server or device certificate is valid by default: 825 days (the longest
    /// period Apple's TLS clients accept for server certificates).
    pub const LEAF_DAYS: u64 = 825;

    /// Valid from an hour ago (so a client whose clock is a little behind still accepts it)
    /// for `days` days.
    pub fn days_from_now(days: u64) -> Self {
        let now = SystemTime::now();
        Self {
            not_before: now - Duration::from_secs(60 * 60),
            not_after: now + DAY * u32::try_from(days).unwrap_or(u32::MAX),
        }
    }

    /// The default for a CA: [`Self::CA_DAYS`] from now.
    pub fn ca_default() -> Self {
        Self::days_from_now(Self::CA_DAYS)
    }

    /// The default for a server or device certificate: [`Self::LEAF_DAYS`] from now.
    pub fn leaf_default() -> Self {
        Self::days_from_now(Self::LEAF_DAYS)
    }

    /// A period that ended yesterday (valid from 2 days ago to 1 day ago): for tests that
    /// need an expired certificate.
    pub fn expired() -> Self {
        let now = SystemTime::now();
        Self {
            not_before: now - 2 * DAY,
            not_after: now - DAY,
        }
    }

    /// Whether `at` lies within the period.
    pub fn contains(&self, at: SystemTime) -> bool {
        self.not_before <= at && at <= self.not_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_contain_now_and_expired_does_not() {
        let now = SystemTime::now();
        assert!(Validity::ca_default().contains(now));
        assert!(Validity::leaf_default().contains(now));
        assert!(!Validity::expired().contains(now));
        assert!(Validity::ca_default().not_after > Validity::leaf_default().not_after);
    }
}
