//! [`Drive`]: what an 88-DCDD drive of host-sim holds, a disk image file or the device's
//! virtual disk on the disk server (`--disk A=mqtt`, in `host-sim mqtt` only).

use std::fmt;
use std::io;

use altair_firmware::guest::VirtualDrive;
use altair_firmware::platform::{BlockStorage, SECTOR_BYTES, nb};
use altair_firmware::vdisk::{DiskError, VirtualDisk};

use crate::file_disk::FileDisk;

/// The `--disk` value that makes a drive the virtual disk.
pub const VIRTUAL: &str = "mqtt";

/// The medium in one drive.
pub enum Drive {
    /// An image file on this host.
    File(FileDisk),
    /// The channel's virtual disk. Boxed: it carries its 11 KiB sector cache, and the
    /// controller keeps a slot for each of its four drives.
    Virtual(Box<VirtualDisk>),
}

/// A failed sector access, of either medium.
#[derive(Debug)]
pub enum DriveError {
    /// The image file could not be read or written.
    File(io::Error),
    /// The disk server did not answer.
    Virtual(DiskError),
}

impl fmt::Display for DriveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriveError::File(e) => e.fmt(f),
            DriveError::Virtual(e) => e.fmt(f),
        }
    }
}

impl VirtualDrive for Drive {
    fn virtual_disk(&mut self) -> Option<&mut VirtualDisk> {
        match self {
            Drive::Virtual(disk) => Some(disk),
            Drive::File(_) => None,
        }
    }
}

impl BlockStorage for Drive {
    type Error = DriveError;

    fn read_sector(
        &mut self,
        offset: u32,
        buf: &mut [u8; SECTOR_BYTES],
    ) -> nb::Result<(), DriveError> {
        match self {
            Drive::File(d) => d
                .read_sector(offset, buf)
                .map_err(|e| e.map(DriveError::File)),
            Drive::Virtual(d) => d
                .read_sector(offset, buf)
                .map_err(|e| e.map(DriveError::Virtual)),
        }
    }

    fn write_sector(
        &mut self,
        offset: u32,
        data: &[u8; SECTOR_BYTES],
    ) -> nb::Result<(), DriveError> {
        match self {
            Drive::File(d) => d
                .write_sector(offset, data)
                .map_err(|e| e.map(DriveError::File)),
            Drive::Virtual(d) => d
                .write_sector(offset, data)
                .map_err(|e| e.map(DriveError::Virtual)),
        }
    }
}
