//! The platform traits: everything the firmware needs from the device or the host, each
//! a small trait with its contract in MUST sentences. One implementation per platform:
//! the device's board module, host-sim, and test doubles.
//!
//! [`BlockStorage`] is what an 88-DCDD drive needs from whatever holds its image. An image is 77 tracks of 32 sectors of 137 bytes ([`IMAGE_BYTES`]); some images carry
//! [`PADDED_EXTRA`] bytes of trailing padding, which implementations MUST accept and
//! preserve. Offsets are byte offsets into the image, always on a sector boundary.

/// The non-blocking result type [`BlockStorage`] speaks, re-exported so platforms use
/// the same version.
pub use nb;

/// Bytes in one 88-DCDD sector.
pub const SECTOR_BYTES: usize = 137;
/// Sectors per track.
pub const SECTORS_PER_TRACK: u8 = 32;
/// Tracks per disk.
pub const TRACKS: u8 = 77;
/// Bytes in one track.
pub const TRACK_BYTES: u32 = SECTOR_BYTES as u32 * SECTORS_PER_TRACK as u32;
/// Bytes in an unpadded image: 77 x 32 x 137 = 337,568.
pub const IMAGE_BYTES: u32 = TRACK_BYTES * TRACKS as u32;
/// Trailing padding some images (SIMH's) carry: 337,664 bytes in all.
pub const PADDED_EXTRA: u32 = 96;

/// The byte offset of `sector` on `track`.
pub const fn sector_offset(track: u8, sector: u8) -> u32 {
    track as u32 * TRACK_BYTES + sector as u32 * SECTOR_BYTES as u32
}

/// Whether `len` is a disk image size this project accepts.
pub const fn is_image_size(len: u64) -> bool {
    len == IMAGE_BYTES as u64 || len == (IMAGE_BYTES + PADDED_EXTRA) as u64
}

/// Sector storage behind one drive.
///
/// Calls follow `nb`: an implementation backed by something slow (a network disk)
/// returns `Err(nb::Error::WouldBlock)` until the data is there, and the controller keeps
/// the guest waiting (its "read data available" status stays false) and asks again.
pub trait BlockStorage {
    /// What went wrong, for the log.
    type Error: core::fmt::Debug;

    /// Fills `buf` with the sector at `offset`. It MUST NOT return partial data.
    fn read_sector(
        &mut self,
        offset: u32,
        buf: &mut [u8; SECTOR_BYTES],
    ) -> nb::Result<(), Self::Error>;

    /// Stores `data` as the sector at `offset`. Once it returns `Ok`, a later read MUST
    /// return `data`, and the implementation is responsible for making it durable.
    fn write_sector(
        &mut self,
        offset: u32,
        data: &[u8; SECTOR_BYTES],
    ) -> nb::Result<(), Self::Error>;
}

/// A drive's storage held elsewhere: a device keeps its one virtual disk (with its sector
/// cache) in a `static` and lends the controller a reference, so the four drive slots
/// cost a pointer each rather than a cache each.
impl<T: BlockStorage + ?Sized> BlockStorage for &mut T {
    type Error = T::Error;

    fn read_sector(
        &mut self,
        offset: u32,
        buf: &mut [u8; SECTOR_BYTES],
    ) -> nb::Result<(), T::Error> {
        (**self).read_sector(offset, buf)
    }

    fn write_sector(&mut self, offset: u32, data: &[u8; SECTOR_BYTES]) -> nb::Result<(), T::Error> {
        (**self).write_sector(offset, data)
    }
}

/// Storage for a drive slot that holds nothing: every access fails. For a machine with no
/// disks (8K BASIC, the monitor, tests), where `Altair<S>` still needs some `S`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoStorage;

impl BlockStorage for NoStorage {
    type Error = ();

    fn read_sector(&mut self, _offset: u32, _buf: &mut [u8; SECTOR_BYTES]) -> nb::Result<(), ()> {
        Err(nb::Error::Other(()))
    }

    fn write_sector(&mut self, _offset: u32, _data: &[u8; SECTOR_BYTES]) -> nb::Result<(), ()> {
        Err(nb::Error::Other(()))
    }
}
