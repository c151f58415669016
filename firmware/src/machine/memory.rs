//! The Altair's 64 KiB address space: RAM with optional write-protected (ROM) pages.
//!
//! ROM is modelled at 256-byte page granularity, the size of the MITS boot PROM card's
//! window at 0xFF00. A write to a ROM page is ignored, as on the bus of the real machine.

/// Bytes in the 8080's address space.
pub const SIZE: usize = 0x1_0000;
/// ROM is protected in pages of this many bytes.
pub const PAGE: usize = 0x100;

/// Why an image could not be placed in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LoadError {
    /// The image would run past 0xFFFF.
    PastEnd {
        /// Load address.
        at: u16,
        /// Image length in bytes.
        len: usize,
    },
}

impl core::fmt::Display for LoadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            LoadError::PastEnd { at, len } => write!(
                f,
                "{len} bytes at {at:#06X} run past the end of memory (at most {} fit there)",
                SIZE - at as usize
            ),
        }
    }
}

impl core::error::Error for LoadError {}

/// 64 KiB of memory, of which some pages may be ROM.
pub struct Memory {
    bytes: [u8; SIZE],
    rom: [bool; SIZE / PAGE],
}

impl Default for Memory {
    fn default() -> Self {
        Self::new()
    }
}

impl Memory {
    /// All RAM, all zero.
    pub const fn new() -> Self {
        Memory {
            bytes: [0; SIZE],
            rom: [false; SIZE / PAGE],
        }
    }

    /// Reads one byte.
    #[inline(always)]
    pub fn read(&self, addr: u16) -> u8 {
        self.bytes[addr as usize]
    }

    /// Reads the little-endian word at `addr`, wrapping from 0xFFFF to 0x0000.
    #[inline(always)]
    pub fn read_word(&self, addr: u16) -> u16 {
        let a = addr as usize;
        if a < SIZE - 1 {
            // One 16-bit load on the hot path of every 3-byte instruction.
            u16::from_le_bytes([self.bytes[a], self.bytes[a + 1]])
        } else {
            u16::from_le_bytes([self.bytes[a], self.bytes[0]])
        }
    }

    /// Writes one byte unless `addr` is in a ROM page.
    #[inline(always)]
    pub fn write(&mut self, addr: u16, value: u8) {
        if !self.rom[addr as usize / PAGE] {
            self.bytes[addr as usize] = value;
        }
    }

    /// Copies `image` to `at`, ignoring ROM protection (this is how ROM gets its contents).
    pub fn load(&mut self, at: u16, image: &[u8]) -> Result<(), LoadError> {
        let start = at as usize;
        let Some(dest) = self.bytes.get_mut(start..start + image.len()) else {
            return Err(LoadError::PastEnd {
                at,
                len: image.len(),
            });
        };
        dest.copy_from_slice(image);
        Ok(())
    }

    /// Marks the pages that hold `at..at + len` as ROM (`true`) or RAM (`false`).
    pub fn protect(&mut self, at: u16, len: usize, rom: bool) {
        let first = at as usize / PAGE;
        let last = (at as usize + len.max(1) - 1).min(SIZE - 1) / PAGE;
        for page in &mut self.rom[first..=last] {
            *page = rom;
        }
    }

    /// Whether `addr` is in a ROM page.
    pub fn is_rom(&self, addr: u16) -> bool {
        self.rom[addr as usize / PAGE]
    }

    /// All 64 KiB, for snapshots and tests.
    pub fn bytes(&self) -> &[u8; SIZE] {
        &self.bytes
    }

    /// Makes every page RAM and every byte zero.
    pub fn clear(&mut self) {
        *self = Self::new();
    }
}
