//! The virtual disk: an 88-DCDD drive whose image lives on a disk server reached over
//! MQTT, as a sans-IO client like [`crate::session`].
//!
//! [`VirtualDisk`] is the drive's [`BlockStorage`]. It speaks the original protocol
//! (reference.md section 3: 4-byte `read` requests, 141-byte `write`s and `data` replies)
//! with one addition, the server's `ack` of each durable write, and does better than the
//! original device in three ways:
//!
//! - **Read-ahead.** A read that misses the cache asks for the sector and, in the same
//!   burst, for every other sector of its track not already held (in rotation order,
//!   from the one after it around to the one before it). The BIOS then finds the rest of
//!   the track in the cache: one round trip per track instead of one per sector.
//! - **No stale data.** A request unanswered for [`READ_TIMEOUT_MS`] is sent again, up to
//!   [`READ_TRIES`] times in all; then the read fails and the controller hands the guest
//!   a sector that fails its checksum (`disk.rs`), so the BIOS retries and then reports a
//!   disk error. The original carried on with whatever the buffer held after 8 s.
//! - **No lost writes.** A write is one outstanding sector: `write_sector` answers
//!   `WouldBlock`, which keeps the guest waiting on the controller's status, until the
//!   server's `ack` says the sector is durable (sent again every [`WRITE_RETRY_MS`],
//!   for as long as it takes). When the guest's write returns, the sector is on the
//!   server's disk. [`Options::acknowledged_writes`] `false` is the switch for servers
//!   that never acknowledge (the original's): a write then completes once the link has
//!   taken it at QoS 1.
//!
//! While the link is down nothing times out: the guest waits, and on
//! [`VirtualDisk::connected`] every outstanding request and the write go out again.
//!
//! A reply that answers nothing asked (a duplicate, or data for a sector written since
//! it was requested) is counted and dropped; a malformed one is logged and dropped.
//!
//! # The platform's loop
//!
//! ```text
//! on CONNACK:          disk.connected()          on connection lost: disk.disconnected()
//! on each message:     disk.on_message(topic, payload, now) is false → the terminal's
//! after each run:      disk.flush(now, |t| client.send(t))   (or poll_transmit/transmitted)
//! sleep at most until: disk.next_deadline_ms()
//! ```
//!
//! # Memory
//!
//! The cache ([`CACHE_SECTORS`] slots of 168 bytes: a sector and its state, 10,752 bytes),
//! the write (137 bytes), one encoded message (141 bytes), the send queue (64 bytes) and
//! the four topics (4 x 84 bytes): `size_of::<VirtualDisk>()` is 11,640 bytes on a 64-bit
//! host, pinned by a test and bounded at compile time. On the device it belongs in a
//! static beside the guest's memory.

mod cache;
pub mod topics;
pub mod wire;

#[cfg(test)]
mod tests;

use core::fmt;

use heapless::Deque;

use crate::platform::{BlockStorage, SECTOR_BYTES, SECTORS_PER_TRACK, TRACK_BYTES, nb};
use crate::session::{Outgoing, Publish, QoS, SessionError, Transmit};
pub use cache::CACHE_SECTORS;
use cache::{Cache, State};
pub use topics::DiskTopics;
use wire::SECTOR_MESSAGE_LEN;

/// How long a read request waits for its `data` before it is sent again: 1 s, ten times
/// a slow round trip to a cloud broker and far beyond one on a LAN.
pub const READ_TIMEOUT_MS: u64 = 1_000;
/// Requests sent for one sector before the read fails: 4, so a disk server that is gone
/// costs the guest 4 s per sector (the original waited 8 s, then used stale data).
pub const READ_TRIES: u8 = 4;
/// How long a write waits for its `ack` before it is sent again. There is no limit on
/// tries: a write is never given up.
pub const WRITE_RETRY_MS: u64 = 1_000;

// The RAM figure of the module doc, checked on every target.
const _: () = assert!(core::mem::size_of::<VirtualDisk>() <= 12_000);

/// Construction options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Options {
    /// Ask for the rest of the track with each miss (default). `false` asks for one
    /// sector at a time, as the original device did.
    pub read_ahead: bool,
    /// Wait for the server's `ack` before a write completes (default). `false` for
    /// servers that never send one: a write completes when the link takes it.
    pub acknowledged_writes: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            read_ahead: true,
            acknowledged_writes: true,
        }
    }
}

/// Why a sector could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DiskError {
    /// No `data` came for the sector at this offset after [`READ_TRIES`] requests.
    NoAnswer(u32),
    /// The controller asked for an offset that is not a sector of the image.
    BadOffset(u32),
}

impl fmt::Display for DiskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiskError::NoAnswer(offset) => write!(
                f,
                "no answer from the disk server for the sector at {offset} after {READ_TRIES} requests"
            ),
            DiskError::BadOffset(offset) => write!(f, "{offset} is not a sector of the image"),
        }
    }
}

impl core::error::Error for DiskError {}

/// Counters for logs, benchmarks and tests. All saturate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// Reads answered from the cache (or from the write in progress).
    pub hits: u64,
    /// Reads that missed and had to wait for the server: round trips.
    pub misses: u64,
    /// `read` requests sent (read-ahead and retries included).
    pub requests: u64,
    /// `read` requests sent again after a timeout.
    pub read_retries: u64,
    /// Reads that failed after every try.
    pub read_failures: u64,
    /// Sectors received that were asked for.
    pub data_received: u64,
    /// Writes completed.
    pub writes: u64,
    /// Writes sent again after a timeout or a reconnect.
    pub write_retries: u64,
    /// Replies that answered nothing outstanding (duplicates, superseded data).
    pub unexpected: u64,
    /// Replies refused as malformed.
    pub malformed: u64,
}

/// The one write in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WriteState {
    /// No write.
    Idle,
    /// Due to be sent; `tries` sent so far.
    Due { tries: u32 },
    /// Sent at `at_ms`, awaiting its `ack`.
    Sent { at_ms: u64, tries: u32 },
    /// Acknowledged (or taken by the link, without acks): the controller's next try of
    /// the same write completes it.
    Done,
}

/// What the last [`VirtualDisk::poll_transmit`] handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Polled {
    Subscribe,
    Write { now_ms: u64 },
    Read { slot: usize, now_ms: u64 },
}

/// The virtual disk of one channel. See the module doc.
pub struct VirtualDisk {
    topics: DiskTopics,
    options: Options,
    online: bool,
    need_subscribe: bool,
    polled: Option<Polled>,
    cache: Cache,
    /// Slots whose request is due, in the order to send them (the sector the guest waits
    /// for first). An entry whose slot no longer wants a request is skipped.
    due: Deque<u8, CACHE_SECTORS>,
    write_offset: u32,
    write_state: WriteState,
    write_data: [u8; SECTOR_BYTES],
    /// The payload of the message handed out last.
    message: [u8; SECTOR_MESSAGE_LEN],
    stats: Stats,
}

impl VirtualDisk {
    /// A disconnected virtual disk for `channel`.
    pub fn new(channel: &str, options: Options) -> Result<Self, SessionError> {
        Ok(VirtualDisk {
            topics: DiskTopics::new(channel)?,
            options,
            online: false,
            need_subscribe: false,
            polled: None,
            cache: Cache::new(),
            due: Deque::new(),
            write_offset: 0,
            write_state: WriteState::Idle,
            write_data: [0; SECTOR_BYTES],
            message: [0; SECTOR_MESSAGE_LEN],
            stats: Stats::default(),
        })
    }

    /// The channel's disk topics.
    pub fn topics(&self) -> &DiskTopics {
        &self.topics
    }

    /// The options it was made with.
    pub fn options(&self) -> Options {
        self.options
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Whether a write waits for its acknowledgement.
    pub fn write_pending(&self) -> bool {
        matches!(
            self.write_state,
            WriteState::Due { .. } | WriteState::Sent { .. }
        )
    }

    /// The client is connected: subscribe, then send every outstanding request and the
    /// write again (what was in flight may have been lost with the connection).
    pub fn connected(&mut self) {
        self.online = true;
        self.need_subscribe = true;
        self.polled = None;
        self.due.clear();
        let waiting: heapless::Vec<usize, CACHE_SECTORS> = self
            .cache
            .states()
            .filter(|(_, s)| s.in_flight())
            .map(|(i, _)| i)
            .collect();
        for index in waiting {
            self.cache.slot_mut(index).state = State::Wanted { tries: 0 };
            // Cannot overflow: one entry per slot.
            let _ = self.due.push_back(index as u8);
        }
        if let WriteState::Sent { tries, .. } = self.write_state {
            self.write_state = WriteState::Due { tries };
        }
    }

    /// The connection is gone: nothing times out until [`VirtualDisk::connected`].
    pub fn disconnected(&mut self) {
        self.online = false;
        self.polled = None;
    }

    /// Takes a message if it is on a disk topic (returns `false` otherwise, for the
    /// terminal session). Malformed and unexpected replies are counted and dropped.
    pub fn on_message(&mut self, topic: &str, payload: &[u8]) -> bool {
        let Some(inbound) = self.topics.inbound(topic) else {
            return false;
        };
        match inbound {
            topics::Inbound::Data => match wire::parse_sector(payload) {
                Ok((offset, sector)) => self.on_data(offset, sector),
                Err(e) => self.malformed("data", e),
            },
            topics::Inbound::Ack => match wire::parse_offset(payload) {
                Ok(offset) => self.on_ack(offset),
                Err(e) => self.malformed("ack", e),
            },
        }
        true
    }

    /// When the disk next wants [`VirtualDisk::poll_transmit`] called: `Some(t)` at or
    /// before now means at once; `None` means only after a message, a read or a write.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        if !self.online {
            return None;
        }
        let write = match self.write_state {
            WriteState::Due { .. } => Some(0),
            WriteState::Sent { at_ms, .. } => Some(at_ms.saturating_add(WRITE_RETRY_MS)),
            WriteState::Idle | WriteState::Done => None,
        };
        let reads = self.cache.states().filter_map(|(_, s)| match s {
            State::Wanted { .. } => Some(0),
            State::Asked { at_ms, .. } => Some(at_ms.saturating_add(READ_TIMEOUT_MS)),
            _ => None,
        });
        let immediate = self.need_subscribe.then_some(0);
        reads.chain(write).chain(immediate).min()
    }

    /// Requests unanswered for [`READ_TIMEOUT_MS`] are due again, or fail after
    /// [`READ_TRIES`].
    fn expire_reads(&mut self, now_ms: u64) {
        let expired: heapless::Vec<(usize, u8), CACHE_SECTORS> = self
            .cache
            .states()
            .filter_map(|(i, s)| match s {
                State::Asked { at_ms, tries }
                    if now_ms >= at_ms.saturating_add(READ_TIMEOUT_MS) =>
                {
                    Some((i, tries))
                }
                _ => None,
            })
            .collect();
        for (index, tries) in expired {
            let slot = self.cache.slot_mut(index);
            if tries >= READ_TRIES {
                warn!(
                    "vdisk: no answer for the sector at {} after {} requests",
                    slot.offset, tries
                );
                slot.state = State::Failed;
            } else {
                slot.state = State::Wanted { tries };
                // Cannot overflow: one entry per slot, and this one's was popped.
                let _ = self.due.push_back(index as u8);
            }
        }
    }

    fn on_data(&mut self, offset: u32, sector: &[u8; SECTOR_BYTES]) {
        let superseded = self.write_state != WriteState::Idle && self.write_offset == offset;
        match self.cache.find(offset) {
            Some(index) if !superseded && self.cache.slot(index).state.in_flight() => {
                let slot = self.cache.slot_mut(index);
                slot.data = *sector;
                slot.state = State::Valid;
                self.stats.data_received = self.stats.data_received.saturating_add(1);
            }
            _ => {
                debug!("vdisk: data for {} answers no request", offset);
                self.stats.unexpected = self.stats.unexpected.saturating_add(1);
            }
        }
    }

    fn on_ack(&mut self, offset: u32) {
        match self.write_state {
            WriteState::Due { .. } | WriteState::Sent { .. } if offset == self.write_offset => {
                self.write_state = WriteState::Done;
            }
            _ => {
                debug!("vdisk: ack for {} answers no write", offset);
                self.stats.unexpected = self.stats.unexpected.saturating_add(1);
            }
        }
    }

    fn malformed(&mut self, what: &str, error: wire::WireError) {
        warn!("vdisk: dropped a malformed {} reply: {}", what, error);
        self.stats.malformed = self.stats.malformed.saturating_add(1);
    }

    /// A miss: claims a slot for `offset` and, with read-ahead, for the rest of its track.
    fn request(&mut self, offset: u32) {
        let Some(index) = self.cache.claim(offset, State::Wanted { tries: 0 }) else {
            // Every slot awaits a reply: this read asks again once one arrives.
            return;
        };
        self.stats.misses = self.stats.misses.saturating_add(1);
        self.queue(index);
        if !self.options.read_ahead {
            return;
        }
        let track_start = offset - offset % TRACK_BYTES;
        let sector = (offset % TRACK_BYTES) / SECTOR_BYTES as u32;
        let sectors = u32::from(SECTORS_PER_TRACK);
        for step in 1..sectors {
            let ahead = track_start + (sector + step) % sectors * SECTOR_BYTES as u32;
            let written = self.write_state != WriteState::Idle && self.write_offset == ahead;
            if written || self.cache.find(ahead).is_some() {
                continue;
            }
            match self.cache.claim(ahead, State::Wanted { tries: 0 }) {
                Some(index) => self.queue(index),
                None => break,
            }
        }
    }

    fn queue(&mut self, index: usize) {
        if self.due.push_back(index as u8).is_err() {
            // Full means every slot is queued already; this one is among them.
            debug!("vdisk: send queue full");
        }
    }

    /// Copies the sector being written, or a cached one, into `buf`.
    fn lookup(
        &mut self,
        offset: u32,
        buf: &mut [u8; SECTOR_BYTES],
    ) -> Option<Result<(), DiskError>> {
        if self.write_state != WriteState::Idle && self.write_offset == offset {
            *buf = self.write_data;
            return Some(Ok(()));
        }
        let index = self.cache.find(offset)?;
        match self.cache.slot(index).state {
            State::Valid => {
                *buf = self.cache.slot(index).data;
                self.cache.touch(index);
                Some(Ok(()))
            }
            State::Failed => {
                self.cache.slot_mut(index).state = State::Free;
                self.stats.read_failures = self.stats.read_failures.saturating_add(1);
                Some(Err(DiskError::NoAnswer(offset)))
            }
            // Awaited: the caller waits.
            State::Wanted { .. } | State::Asked { .. } => None,
            State::Free => None,
        }
    }

    /// Puts a written sector in the cache (a request for it in flight is superseded).
    fn store(&mut self, offset: u32, data: &[u8; SECTOR_BYTES]) {
        let index = self
            .cache
            .find(offset)
            .or_else(|| self.cache.claim(offset, State::Valid));
        if let Some(index) = index {
            let slot = self.cache.slot_mut(index);
            slot.state = State::Valid;
            slot.data = *data;
            self.cache.touch(index);
        }
    }
}

impl Outgoing for VirtualDisk {
    /// What to send now, if anything: the subscription after connecting, then the
    /// write (the guest waits on it), then due and timed-out read requests. The same
    /// thing is offered again until [`VirtualDisk::transmitted`].
    fn poll_transmit(&mut self, now_ms: u64) -> Option<Transmit<'_>> {
        self.polled = None;
        if !self.online {
            return None;
        }
        if self.need_subscribe {
            self.polled = Some(Polled::Subscribe);
            return Some(Transmit::Subscribe(self.topics.subscriptions()));
        }
        let write_due = match self.write_state {
            WriteState::Due { .. } => true,
            WriteState::Sent { at_ms, .. } => now_ms >= at_ms.saturating_add(WRITE_RETRY_MS),
            WriteState::Idle | WriteState::Done => false,
        };
        if write_due {
            self.message = wire::encode_sector(self.write_offset, &self.write_data);
            self.polled = Some(Polled::Write { now_ms });
            return Some(Transmit::Publish(Publish {
                topic: self.topics.write(),
                payload: &self.message,
                qos: QoS::AtLeastOnce,
                retain: false,
            }));
        }
        self.expire_reads(now_ms);
        while let Some(&slot) = self.due.front() {
            let slot = usize::from(slot);
            if matches!(self.cache.slot(slot).state, State::Wanted { .. }) {
                let offset = self.cache.slot(slot).offset;
                self.message[..wire::OFFSET_LEN].copy_from_slice(&wire::encode_offset(offset));
                self.polled = Some(Polled::Read { slot, now_ms });
                return Some(Transmit::Publish(Publish {
                    topic: self.topics.read(),
                    payload: &self.message[..wire::OFFSET_LEN],
                    qos: QoS::AtMostOnce,
                    retain: false,
                }));
            }
            // Answered, superseded by a write, or evicted since it was queued.
            self.due.pop_front();
        }
        None
    }

    /// The client took what [`VirtualDisk::poll_transmit`] last returned.
    fn transmitted(&mut self) {
        match self.polled.take() {
            Some(Polled::Subscribe) => self.need_subscribe = false,
            Some(Polled::Write { now_ms }) => {
                let tries = match self.write_state {
                    WriteState::Due { tries } | WriteState::Sent { tries, .. } => tries,
                    WriteState::Idle | WriteState::Done => return,
                };
                if tries > 0 {
                    self.stats.write_retries = self.stats.write_retries.saturating_add(1);
                    warn!(
                        "vdisk: write at {} sent again (try {})",
                        self.write_offset,
                        tries + 1
                    );
                }
                self.write_state = if self.options.acknowledged_writes {
                    WriteState::Sent {
                        at_ms: now_ms,
                        tries: tries.saturating_add(1),
                    }
                } else {
                    WriteState::Done
                };
            }
            Some(Polled::Read { slot, now_ms }) => {
                self.due.pop_front();
                let slot = self.cache.slot_mut(slot);
                if let State::Wanted { tries } = slot.state {
                    slot.state = State::Asked {
                        at_ms: now_ms,
                        tries: tries.saturating_add(1),
                    };
                    self.stats.requests = self.stats.requests.saturating_add(1);
                    if tries > 0 {
                        self.stats.read_retries = self.stats.read_retries.saturating_add(1);
                    }
                }
            }
            None => {}
        }
    }
}

impl BlockStorage for VirtualDisk {
    type Error = DiskError;

    fn read_sector(
        &mut self,
        offset: u32,
        buf: &mut [u8; SECTOR_BYTES],
    ) -> nb::Result<(), DiskError> {
        wire::check_offset(offset).map_err(|_| nb::Error::Other(DiskError::BadOffset(offset)))?;
        match self.lookup(offset, buf) {
            Some(Ok(())) => {
                self.stats.hits = self.stats.hits.saturating_add(1);
                Ok(())
            }
            Some(Err(e)) => Err(nb::Error::Other(e)),
            None => {
                if self.cache.find(offset).is_none() {
                    self.request(offset);
                }
                Err(nb::Error::WouldBlock)
            }
        }
    }

    fn write_sector(
        &mut self,
        offset: u32,
        data: &[u8; SECTOR_BYTES],
    ) -> nb::Result<(), DiskError> {
        wire::check_offset(offset).map_err(|_| nb::Error::Other(DiskError::BadOffset(offset)))?;
        let same = self.write_offset == offset && self.write_data == *data;
        match self.write_state {
            WriteState::Done if same => {
                self.write_state = WriteState::Idle;
                self.stats.writes = self.stats.writes.saturating_add(1);
                Ok(())
            }
            // One write at a time: the guest waits for the one in progress.
            WriteState::Due { .. } | WriteState::Sent { .. } => Err(nb::Error::WouldBlock),
            // Idle, or a completed write the controller never came back for (it was
            // reset): this one starts.
            WriteState::Idle | WriteState::Done => {
                self.write_offset = offset;
                self.write_data = *data;
                self.write_state = WriteState::Due { tries: 0 };
                self.store(offset, data);
                Err(nb::Error::WouldBlock)
            }
        }
    }
}
