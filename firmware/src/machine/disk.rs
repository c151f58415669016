//! The MITS 88-DCDD floppy controller with up to [`DRIVES`] drives.
//!
//! Behaviour follows reference.md section 2, which matches SIMH's AltairZ80 model:
//! - OUT 0x08 selects a drive (bits 0-3) or deselects (bit 7).
//! - IN 0x08 is the status, all bits active low: 0xFF with no drive; otherwise 0xE7 with
//!   bit 1 cleared when the head may move, bit 6 on track 0, bits 2 and 7 while the head
//!   is loaded (read data available), bit 0 while a write sequence is open.
//! - OUT 0x09 steps the head (bit 0 in, bit 1 out), loads (bit 2) or unloads (bit 3) it,
//!   and opens a write sequence (bit 7).
//! - IN 0x09 is the sector position: the "sector true" bit alternates on every read and
//!   every second read moves to the next sector (mod 32), as a spinning disk would.
//! - Port 0x0A moves sector data a byte at a time; a write completes after 137 bytes,
//!   and the sequence stays open (bytes ignored) until the sector passes, because the
//!   BIOSes send fill bytes after the data, each after waiting for "write ready".
//!
//! Sectors go through one 137-byte buffer, fetched from [`BlockStorage`] on the first
//! data read of a sector. Storage that returns `WouldBlock` keeps "read data available"
//! false until the sector arrives, which is how the boot ROM and the BIOSes wait.

use crate::platform::{BlockStorage, SECTOR_BYTES, SECTORS_PER_TRACK, TRACKS, sector_offset};

/// Drives the controller holds (the 88-DCDD addresses 16; four is what CP/M's BIOSes use).
pub const DRIVES: usize = 4;

/// Status bits, active high here and inverted on the way out.
mod flag {
    pub const WRITE_READY: u8 = 0x01;
    pub const HEAD_MAY_MOVE: u8 = 0x02;
    pub const HEAD_LOADED: u8 = 0x04;
    pub const TRACK_ZERO: u8 = 0x40;
    pub const READ_READY: u8 = 0x80;
}
/// Status with a drive selected and every condition false (bits 3 and 4 read 0).
const STATUS_IDLE: u8 = 0xE7;

/// The controller's account of the last storage failure, for the platform to report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DiskFault {
    /// Drive number.
    pub drive: u8,
    /// Byte offset of the sector.
    pub offset: u32,
    /// Whether it was a write.
    pub write: bool,
}

/// One drive slot: its medium, if any, and its head.
///
/// Every field's empty state is all-zero bits (no `Option` of a type with a niche), so
/// a controller with no media is all zeros and a device can keep the machine in `.bss`.
struct Drive<S> {
    storage: Option<S>,
    track: u8,
    /// Meaningful once `sector_known`: set by the first sector pulse after a head load
    /// or step.
    sector: u8,
    sector_known: bool,
    head_loaded: bool,
}

impl<S: BlockStorage> Drive<S> {
    const EMPTY: Self = Drive {
        storage: None,
        track: 0,
        sector: 0,
        sector_known: false,
        head_loaded: false,
    };

    /// This slot, if a medium is in it.
    fn attached(&self) -> Option<&Self> {
        self.storage.is_some().then_some(self)
    }

    /// This slot, mutably, if a medium is in it.
    fn attached_mut(&mut self) -> Option<&mut Self> {
        self.storage.is_some().then_some(self)
    }

    /// The sector under the head; sector 0 before the first pulse, as the real
    /// controller's counter would read.
    fn sector(&self) -> u8 {
        if self.sector_known { self.sector } else { 0 }
    }

    fn forget_sector(&mut self) {
        self.sector_known = false;
    }

    fn read(&mut self, offset: u32, buf: &mut [u8; SECTOR_BYTES]) -> nb::Result<(), S::Error> {
        match self.storage.as_mut() {
            Some(storage) => storage.read_sector(offset, buf),
            None => Err(nb::Error::WouldBlock),
        }
    }

    fn write(&mut self, offset: u32, data: &[u8; SECTOR_BYTES]) -> nb::Result<(), S::Error> {
        match self.storage.as_mut() {
            Some(storage) => storage.write_sector(offset, data),
            None => Err(nb::Error::WouldBlock),
        }
    }
}

/// What the one sector buffer holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Buffer {
    /// Nothing valid (no sector under the head yet).
    Empty,
    /// The sector at this offset, read from storage.
    Read { offset: u32 },
    /// Storage is still fetching the sector at this offset.
    Pending { offset: u32 },
    /// A write sequence; `len` bytes received so far.
    Writing { len: usize },
    /// 137 bytes waiting to go to storage at `offset` (storage said WouldBlock).
    Unflushed { offset: u32 },
    /// The sector is stored; the write sequence stays open until the sector passes and
    /// further bytes (BIOSes send a few fill bytes) are ignored.
    Written,
}

/// The 88-DCDD controller.
pub struct DiskController<S> {
    drives: [Drive<S>; DRIVES],
    selected: Option<usize>,
    /// The bit IN 0x09 returns in bit 0: 0 means "at the start of the sector".
    sector_bit: u8,
    buffer: [u8; SECTOR_BYTES],
    state: Buffer,
    byte: usize,
    /// The last storage failure, valid while `fault_pending` (kept apart from an
    /// `Option` so an idle controller is all zeros).
    last_fault: DiskFault,
    fault_pending: bool,
    /// Set when storage asked the guest to wait, so the machine can yield to the platform.
    waiting: bool,
}

impl<S: BlockStorage> Default for DiskController<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: BlockStorage> DiskController<S> {
    /// A controller with no drives attached.
    pub const fn new() -> Self {
        DiskController {
            drives: [Drive::EMPTY, Drive::EMPTY, Drive::EMPTY, Drive::EMPTY],
            selected: None,
            sector_bit: 0,
            buffer: [0; SECTOR_BYTES],
            state: Buffer::Empty,
            byte: 0,
            last_fault: DiskFault {
                drive: 0,
                offset: 0,
                write: false,
            },
            fault_pending: false,
            waiting: false,
        }
    }

    /// Puts `storage` in drive `n` (0-3), returning what was there.
    pub fn attach(&mut self, n: usize, storage: S) -> Option<S> {
        let slot = self.drives.get_mut(n)?;
        core::mem::replace(
            slot,
            Drive {
                storage: Some(storage),
                ..Drive::EMPTY
            },
        )
        .storage
    }

    /// Removes the medium from drive `n`.
    pub fn detach(&mut self, n: usize) -> Option<S> {
        if self.selected == Some(n) {
            self.flush();
            self.selected = None;
            self.state = Buffer::Empty;
        }
        core::mem::replace(self.drives.get_mut(n)?, Drive::EMPTY).storage
    }

    /// The medium in drive `n`.
    pub fn storage(&self, n: usize) -> Option<&S> {
        self.drives.get(n)?.storage.as_ref()
    }

    /// The medium in drive `n`, mutably (for example to pump a network disk).
    pub fn storage_mut(&mut self, n: usize) -> Option<&mut S> {
        self.drives.get_mut(n)?.storage.as_mut()
    }

    /// The last storage failure, if any, cleared by reading it.
    pub fn take_fault(&mut self) -> Option<DiskFault> {
        core::mem::take(&mut self.fault_pending).then_some(self.last_fault)
    }

    /// Whether the guest waited on storage since the last call.
    pub fn take_waiting(&mut self) -> bool {
        core::mem::take(&mut self.waiting)
    }

    /// Deselects and unloads every head, as on reset. A finished write that storage has
    /// not taken yet is retried first.
    pub fn reset(&mut self) {
        self.flush();
        self.selected = None;
        self.state = Buffer::Empty;
        for drive in &mut self.drives {
            drive.head_loaded = false;
            drive.forget_sector();
        }
    }

    /// Retries a completed write that storage could not take yet. Returns `true` when
    /// nothing is left unwritten.
    pub fn flush(&mut self) -> bool {
        let Buffer::Unflushed { offset } = self.state else {
            return true;
        };
        let Some(n) = self.selected else {
            return false;
        };
        let Some(drive) = self.drives[n].attached_mut() else {
            return false;
        };
        match drive.write(offset, &self.buffer) {
            Ok(()) => {
                self.state = Buffer::Written;
                true
            }
            Err(nb::Error::WouldBlock) => {
                self.waiting = true;
                false
            }
            Err(nb::Error::Other(e)) => {
                self.record_fault(
                    DiskFault {
                        drive: n as u8,
                        offset,
                        write: true,
                    },
                    &e,
                );
                self.state = Buffer::Empty;
                true
            }
        }
    }

    /// Logs a storage failure and keeps it for [`DiskController::take_fault`].
    fn record_fault(&mut self, fault: DiskFault, error: &S::Error) {
        let op = if fault.write { "write" } else { "read" };
        error!(
            "disk {}: {} at {} failed: {:?}",
            fault.drive,
            op,
            fault.offset,
            crate::fmt::debug(error)
        );
        self.last_fault = fault;
        self.fault_pending = true;
    }

    /// Reads the sector under the head into the buffer, or notes that storage is busy.
    fn fetch(&mut self, offset: u32) {
        let Some(n) = self.selected else {
            return;
        };
        let Some(drive) = self.drives[n].attached_mut() else {
            return;
        };
        self.byte = 0;
        match drive.read(offset, &mut self.buffer) {
            Ok(()) => self.state = Buffer::Read { offset },
            Err(nb::Error::WouldBlock) => {
                self.waiting = true;
                self.state = Buffer::Pending { offset };
            }
            Err(nb::Error::Other(e)) => {
                self.record_fault(
                    DiskFault {
                        drive: n as u8,
                        offset,
                        write: false,
                    },
                    &e,
                );
                // Never stale data: 0xFF fails the BIOS's checksum, and it retries.
                self.buffer = [0xFF; SECTOR_BYTES];
                self.state = Buffer::Read { offset };
            }
        }
    }

    /// Whether the sector's data can be read now. Retries a fetch that storage deferred,
    /// and fetches lazily when the guest reads before the first sector pulse.
    fn read_ready(&mut self) -> bool {
        match self.state {
            Buffer::Read { .. } => return true,
            Buffer::Pending { offset } => self.fetch(offset),
            Buffer::Empty => {
                let Some(drive) = self.selected.and_then(|n| self.drives[n].attached()) else {
                    return false;
                };
                let offset = sector_offset(drive.track, drive.sector());
                self.fetch(offset);
            }
            Buffer::Writing { .. } | Buffer::Unflushed { .. } | Buffer::Written => return false,
        }
        matches!(self.state, Buffer::Read { .. })
    }

    /// OUT 0x08: select or deselect.
    pub fn select(&mut self, value: u8) {
        self.flush();
        let n = (value & 0x0F) as usize;
        let present = n < DRIVES && self.drives[n].storage.is_some();
        self.selected = (value & 0x80 == 0 && present).then_some(n);
        self.sector_bit = 0;
        if !matches!(self.state, Buffer::Unflushed { .. }) {
            self.state = Buffer::Empty;
        }
    }

    /// IN 0x08: status, active low.
    pub fn status(&mut self) -> u8 {
        let Some(n) = self.selected else {
            return 0xFF;
        };
        if !self.flush() {
            // Storage still owes a write: the head may not move, nothing is ready.
            return STATUS_IDLE;
        }
        let write_open = matches!(self.state, Buffer::Writing { .. } | Buffer::Written);
        // As on the real board, data counts as available once the head is loaded; only a
        // fetch that storage deferred holds it back (checked again here).
        let read_ready = match self.state {
            Buffer::Pending { .. } => self.read_ready(),
            _ => true,
        };
        let Some(drive) = self.drives[n].attached() else {
            return 0xFF;
        };
        let mut active = flag::HEAD_MAY_MOVE;
        if drive.track == 0 {
            active |= flag::TRACK_ZERO;
        }
        if drive.head_loaded {
            active |= flag::HEAD_LOADED;
            if read_ready || write_open {
                active |= flag::READ_READY;
            }
        }
        if write_open {
            active |= flag::WRITE_READY;
        }
        STATUS_IDLE & !active
    }

    /// OUT 0x09: head control.
    pub fn control(&mut self, value: u8) {
        self.flush();
        let Some(n) = self.selected else {
            return;
        };
        let Some(drive) = self.drives[n].attached_mut() else {
            return;
        };
        if value & 0x01 != 0 && drive.track < TRACKS - 1 {
            drive.track += 1;
            drive.forget_sector();
        }
        if value & 0x02 != 0 && drive.track > 0 {
            drive.track -= 1;
            drive.forget_sector();
        }
        if value & 0x04 != 0 {
            drive.head_loaded = true;
        }
        if value & 0x08 != 0 {
            drive.head_loaded = false;
            drive.forget_sector();
        }
        if value & 0x80 != 0 {
            self.state = Buffer::Writing { len: 0 };
        } else if !drive.sector_known && !matches!(self.state, Buffer::Unflushed { .. }) {
            self.state = Buffer::Empty;
        }
    }

    /// IN 0x09: sector position, `0xC0 | sector << 1 | sector_bit`. Every read flips
    /// the bit; when it returns to 0 the next sector has arrived under the head.
    pub fn sector_position(&mut self) -> u8 {
        let Some(n) = self.selected else {
            return 0xFF;
        };
        if !self.flush() {
            return 0xFF;
        }
        let Some(drive) = self.drives[n].attached_mut() else {
            return 0xFF;
        };
        if !drive.head_loaded {
            return 0xFF;
        }
        self.sector_bit ^= 1;
        if self.sector_bit == 0 {
            let next = if drive.sector_known {
                (drive.sector + 1) % SECTORS_PER_TRACK
            } else {
                0
            };
            drive.sector = next;
            drive.sector_known = true;
            let offset = sector_offset(drive.track, next);
            // A write sequence left open when the sector passes is abandoned, as on the
            // real drive, where the data would have gone to the passing sector's gap.
            self.fetch(offset);
        }
        0xC0 | (self.drives[n].sector() << 1) | self.sector_bit
    }

    /// IN 0x0A: the next byte of the sector under the head (0xFF when none is ready).
    pub fn read_data(&mut self) -> u8 {
        if !self.read_ready() {
            return 0xFF;
        }
        let value = self.buffer.get(self.byte).copied().unwrap_or(0);
        self.byte = (self.byte + 1).min(SECTOR_BYTES);
        value
    }

    /// OUT 0x0A: the next byte of a write sequence; the 137th completes the sector and
    /// later ones are fill, ignored.
    pub fn write_data(&mut self, value: u8) {
        let Buffer::Writing { len } = self.state else {
            return;
        };
        self.buffer[len] = value;
        if len + 1 < SECTOR_BYTES {
            self.state = Buffer::Writing { len: len + 1 };
            return;
        }
        let Some(n) = self.selected else {
            self.state = Buffer::Empty;
            return;
        };
        let Some(drive) = self.drives[n].attached() else {
            self.state = Buffer::Empty;
            return;
        };
        let offset = sector_offset(drive.track, drive.sector());
        self.state = Buffer::Unflushed { offset };
        self.flush();
    }
}
