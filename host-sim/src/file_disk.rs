//! Disk images in files, as 88-DCDD drives.
//!
//! The image is read into memory once (337 KB) and every written sector goes straight to
//! the file with a positioned write, so a sector the guest wrote is in the file as soon
//! as the controller has accepted it, whatever happens to host-sim afterwards. An image
//! the user cannot write (the shared reference images are read-only) is served from
//! memory: writes work for the session and are lost at exit, and host-sim says so.
//!
//! A writable image is locked (`flock`) while it is open: a second host-sim on the same
//! file would write through its own stale copy, so it is refused instead. The disk
//! server (`altair-cloud vdisk serve`) keeps no copy and takes no lock.

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use altair_firmware::platform::{
    BlockStorage, IMAGE_BYTES, PADDED_EXTRA, SECTOR_BYTES, is_image_size, nb,
};

/// Why an image could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// The file could not be opened or read.
    Io {
        /// The image's path.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// Another process holds the image's lock: it has the image open for writing.
    InUse {
        /// The image's path.
        path: PathBuf,
    },
    /// The file is not a disk image's size (truncated, or something else entirely).
    WrongSize {
        /// The image's path.
        path: PathBuf,
        /// Its length in bytes.
        len: u64,
    },
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Io { path, source } => {
                write!(f, "cannot open disk image {}: {source}", path.display())
            }
            OpenError::InUse { path } => write!(
                f,
                "disk image {} is in use: another program (another host-sim?) has it open \
                 for writing, and two writers would corrupt it",
                path.display()
            ),
            OpenError::WrongSize { path, len } => write!(
                f,
                "disk image {} is {len} bytes; an 88-DCDD image is {IMAGE_BYTES} bytes \
                 (77 tracks x 32 sectors x 137 bytes) or {} (the same with {PADDED_EXTRA} \
                 bytes of padding)",
                path.display(),
                IMAGE_BYTES + PADDED_EXTRA
            ),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpenError::Io { source, .. } => Some(source),
            OpenError::InUse { .. } | OpenError::WrongSize { .. } => None,
        }
    }
}

/// A disk image backed by a file.
pub struct FileDisk {
    path: PathBuf,
    /// `None` when the file is read-only: writes stay in `image`.
    file: Option<File>,
    image: Vec<u8>,
}

impl FileDisk {
    /// Opens `path` for reading and writing (or, failing permission, reading only),
    /// locks it when writable, and checks its size.
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        let io_err = |source| OpenError::Io {
            path: path.to_path_buf(),
            source,
        };
        let (mut file, writable) = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => (f, true),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                (File::open(path).map_err(io_err)?, false)
            }
            Err(e) => return Err(io_err(e)),
        };
        if writable {
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    return Err(OpenError::InUse {
                        path: path.to_path_buf(),
                    });
                }
                // A file system without locks: go on unlocked, as before locks were taken.
                Err(TryLockError::Error(e)) if e.kind() == io::ErrorKind::Unsupported => {}
                Err(TryLockError::Error(e)) => return Err(io_err(e)),
            }
        }
        let len = file.metadata().map_err(io_err)?.len();
        if !is_image_size(len) {
            return Err(OpenError::WrongSize {
                path: path.to_path_buf(),
                len,
            });
        }
        let mut image = Vec::with_capacity(len as usize);
        file.read_to_end(&mut image).map_err(io_err)?;
        Ok(FileDisk {
            path: path.to_path_buf(),
            file: writable.then_some(file),
            image,
        })
    }

    /// The image's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether writes reach the file (false: kept in memory for this session only).
    pub fn is_writable(&self) -> bool {
        self.file.is_some()
    }

    fn sector(&self, offset: u32) -> io::Result<std::ops::Range<usize>> {
        let start = offset as usize;
        let end = start + SECTOR_BYTES;
        if end > self.image.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "sector at {offset} is past the end of {}",
                    self.path.display()
                ),
            ));
        }
        Ok(start..end)
    }
}

impl BlockStorage for FileDisk {
    type Error = io::Error;

    fn read_sector(
        &mut self,
        offset: u32,
        buf: &mut [u8; SECTOR_BYTES],
    ) -> nb::Result<(), io::Error> {
        let range = self.sector(offset)?;
        buf.copy_from_slice(&self.image[range]);
        Ok(())
    }

    fn write_sector(
        &mut self,
        offset: u32,
        data: &[u8; SECTOR_BYTES],
    ) -> nb::Result<(), io::Error> {
        let range = self.sector(offset)?;
        if let Some(file) = &self.file {
            file.write_all_at(data, offset as u64)?;
        }
        self.image[range].copy_from_slice(data);
        Ok(())
    }
}
