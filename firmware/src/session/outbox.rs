//! Output on its way to the `web` topic: a ring of unpublished bytes, the one message
//! handed to the MQTT client and not yet accepted, and the batching decision.
//!
//! Bytes leave the ring only into the staged message, and the staged message is only
//! cleared when the platform says its client accepted it, so a refused publish loses
//! nothing. When the ring is full the oldest byte goes (the session only lets that
//! happen while offline, or for its own notices) and is counted; the count comes out as
//! a marker at the head of the next message, which is exactly where the gap is: every
//! byte before it was published (or staged), every byte after it is still here.

use core::fmt::{self, Write};

use heapless::{Deque, Vec};

use super::{MAX_MESSAGE_LEN, OUTPUT_BUFFER_LEN};

/// The longest gap marker: `\r\n[altair: ` + 20 digits + ` bytes of output lost ` + the
/// longer reason + `]\r\n`, 90 bytes.
const MAX_MARKER_LEN: usize = 90;
const _: () = assert!(MAX_MARKER_LEN < MAX_MESSAGE_LEN);

pub(super) struct Outbox {
    /// Unpublished output, oldest first.
    ring: Deque<u8, OUTPUT_BUFFER_LEN>,
    /// The message handed out by `staged` and not yet acknowledged.
    staged: Vec<u8, MAX_MESSAGE_LEN>,
    /// Bytes dropped from the ring since the last marker.
    lost: u64,
    /// Bytes dropped from the ring, ever.
    lost_total: u64,
    /// Whether any of them were dropped while offline (picks the marker's wording).
    lost_offline: bool,
    /// When the oldest byte in the ring arrived, for the latency limit.
    batch_since: u64,
    /// Publish everything in the ring now, without waiting for a full message.
    flush_all: bool,
}

impl Outbox {
    pub(super) const fn new() -> Self {
        Outbox {
            ring: Deque::new(),
            staged: Vec::new(),
            lost: 0,
            lost_total: 0,
            lost_offline: false,
            batch_since: 0,
            flush_all: false,
        }
    }

    /// Free room in the ring.
    pub(super) fn free(&self) -> usize {
        OUTPUT_BUFFER_LEN - self.ring.len()
    }

    /// Bytes waiting, staged or not (the gap marker not counted).
    pub(super) fn len(&self) -> usize {
        self.ring.len() + self.staged.len()
    }

    /// Bytes dropped, ever.
    pub(super) fn lost_total(&self) -> u64 {
        self.lost_total
    }

    /// Appends one byte at `now_ms`, dropping the oldest unstaged byte if the ring is full.
    pub(super) fn push(&mut self, byte: u8, now_ms: u64, online: bool) {
        if self.ring.is_empty() {
            self.batch_since = now_ms;
        }
        if self.ring.is_full() {
            let _ = self.ring.pop_front();
            self.lost = self.lost.saturating_add(1);
            self.lost_total = self.lost_total.saturating_add(1);
            self.lost_offline |= !online;
        }
        // Cannot fail: there is room now.
        let _ = self.ring.push_back(byte);
    }

    /// Asks for everything in the ring to be published without waiting.
    pub(super) fn flush(&mut self) {
        if !self.ring.is_empty() || self.lost > 0 {
            self.flush_all = true;
        }
    }

    /// When the next message is due: `Some(0)` for now, `None` for never (nothing waits).
    pub(super) fn deadline(&self, max_latency_ms: u64) -> Option<u64> {
        if !self.staged.is_empty()
            || self.lost > 0
            || self.flush_all
            || self.ring.len() >= MAX_MESSAGE_LEN
        {
            Some(0)
        } else if self.ring.is_empty() {
            None
        } else {
            Some(self.batch_since.saturating_add(max_latency_ms))
        }
    }

    /// The message to publish at `now_ms`, staging one from the ring if one is due.
    /// Empty when nothing is due.
    pub(super) fn staged(&mut self, now_ms: u64, max_latency_ms: u64) -> &[u8] {
        let due = self.deadline(max_latency_ms).is_some_and(|at| at <= now_ms);
        if self.staged.is_empty() && due {
            self.stage();
        }
        &self.staged
    }

    /// Fills the staged message: the gap marker if bytes were lost, then ring bytes.
    fn stage(&mut self) {
        if self.lost > 0 {
            let reason = if self.lost_offline {
                "while offline"
            } else {
                "because the output buffer was full"
            };
            let mut marker = StagedText(&mut self.staged);
            // Fits: MAX_MARKER_LEN < MAX_MESSAGE_LEN and the message is empty.
            let _ = write!(
                marker,
                "\r\n[altair: {} bytes of output lost {reason}]\r\n",
                self.lost
            );
            self.lost = 0;
            self.lost_offline = false;
        }
        while !self.staged.is_full() {
            let Some(byte) = self.ring.pop_front() else {
                break;
            };
            let _ = self.staged.push(byte);
        }
        if self.ring.is_empty() {
            self.flush_all = false;
        }
    }

    /// The client accepted the staged message.
    pub(super) fn ack(&mut self) -> usize {
        let n = self.staged.len();
        self.staged.clear();
        n
    }
}

/// Text appended to the staged message.
struct StagedText<'a>(&'a mut Vec<u8, MAX_MESSAGE_LEN>);

impl Write for StagedText<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0
            .extend_from_slice(s.as_bytes())
            .map_err(|_| fmt::Error)
    }
}

/// A [`Write`] that appends text to the outbox (the session's notices and the monitor's
/// replies). It never fails: when the ring is full the oldest bytes make room, as for
/// guest output.
pub(super) struct OutboxText<'a> {
    pub(super) outbox: &'a mut Outbox,
    pub(super) now_ms: u64,
    pub(super) online: bool,
}

impl OutboxText<'_> {
    pub(super) fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.outbox.push(b, self.now_ms, self.online);
        }
        self.outbox.flush();
    }
}

impl Write for OutboxText<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.bytes(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec::Vec;

    use super::*;

    fn drain(outbox: &mut Outbox, now: u64) -> Vec<Vec<u8>> {
        let mut messages = Vec::new();
        loop {
            let staged = outbox.staged(now, 20);
            if staged.is_empty() {
                return messages;
            }
            messages.push(staged.to_vec());
            outbox.ack();
        }
    }

    #[test]
    fn a_partial_batch_waits_for_the_latency_limit() {
        let mut o = Outbox::new();
        o.push(b'a', 100, true);
        o.push(b'b', 110, true);
        assert_eq!(o.deadline(20), Some(120));
        assert!(drain(&mut o, 119).is_empty());
        assert_eq!(drain(&mut o, 120), [b"ab".to_vec()]);
        assert_eq!(o.deadline(20), None);
    }

    #[test]
    fn a_full_message_goes_at_once_and_the_rest_waits() {
        let mut o = Outbox::new();
        for i in 0..300u32 {
            o.push(i as u8, 0, true);
        }
        let messages = drain(&mut o, 0);
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].len(), MAX_MESSAGE_LEN);
        assert_eq!(o.len(), 300 - MAX_MESSAGE_LEN);
        o.flush();
        assert_eq!(drain(&mut o, 0)[0].len(), 300 - MAX_MESSAGE_LEN);
    }

    #[test]
    fn an_unacknowledged_message_is_offered_again() {
        let mut o = Outbox::new();
        o.push(b'x', 0, true);
        o.flush();
        assert_eq!(o.staged(0, 20), b"x");
        o.push(b'y', 0, true);
        assert_eq!(o.staged(0, 20), b"x");
        o.ack();
        assert_eq!(o.staged(19, 20), b"");
        assert_eq!(o.staged(20, 20), b"y");
    }

    #[test]
    fn overflow_drops_the_oldest_and_marks_the_gap() {
        let mut o = Outbox::new();
        for i in 0..OUTPUT_BUFFER_LEN + 1234 {
            o.push(b'a' + (i % 26) as u8, 0, false);
        }
        assert_eq!(o.lost, 1234);
        assert_eq!(o.lost_total(), 1234);
        o.flush();
        let all: Vec<u8> = drain(&mut o, 0).concat();
        let marker = b"\r\n[altair: 1234 bytes of output lost while offline]\r\n";
        assert_eq!(&all[..marker.len()], marker);
        let expected: Vec<u8> = (1234..OUTPUT_BUFFER_LEN + 1234)
            .map(|i| b'a' + (i % 26) as u8)
            .collect();
        assert!(all[marker.len()..] == expected[..], "{} bytes", all.len());
    }

    #[test]
    fn the_longest_marker_fits() {
        let mut o = Outbox::new();
        o.lost = u64::MAX;
        o.ring.push_back(b'z').unwrap();
        let staged = o.staged(0, 20).to_vec();
        assert!(staged.starts_with(b"\r\n[altair: 18446744073709551615 bytes"));
        assert!(staged.ends_with(b"full]\r\nz"), "{staged:?}");
        assert_eq!(staged.len(), MAX_MARKER_LEN + 1);
    }
}
