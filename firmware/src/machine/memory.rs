//! The Altair's 64 KiB address space: RAM with optional write-protected (ROM) pages.
//!
//! ROM is modelled at 256-byte page granularity, the size of the MITS boot PROM card's
//! window at 0xFF00. A write to a ROM page is ignored, as on the bus of the real machine.

use crate::cpu::{FETCH_OVERRUN, PAIRED};

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

/// Bytes kept past 0xFFFF as copies of the first bytes of memory, so that every fetch
/// the CPU makes ([`FETCH_OVERRUN`] past 0xFFFF at most) and the two operand bytes after
/// it are plain loads with no wrap test.
///
/// On hosts that is a whole second copy of memory, which every write keeps up to date
/// with a second store: a fetch there may run most of a batch past 0xFFFF, and the
/// write needs no test for the copy. On a device, whose loop wraps its PC at every
/// fetch, it is the 2 bytes an operand of an opcode at 0xFFFF reads, refreshed by the
/// writes to page 0 (64 KiB more RAM is not there to spend).
const MIRROR: usize = if PAIRED { SIZE } else { FETCH_OVERRUN + 2 };
const _: () = assert!(FETCH_OVERRUN + 2 <= MIRROR);
/// Whether the mirror is a whole second copy of memory.
const FULL_MIRROR: bool = MIRROR == SIZE;
/// Where the page table starts in [`Memory`]'s array: one [`Page`] per page.
const PAGE_TABLE: usize = SIZE + MIRROR;

/// What a write to a page does. The hot path of [`Memory::write`] tests for
/// [`Page::Ram`] alone; the others take [`Memory::write_special`].
///
/// A fresh memory must be all zero bits (a device keeps its machine in `.bss`, and one
/// non-zero byte would put all of it in flash as an initializer), so the zero kind is
/// RAM through the slower path: correct for every page, and a page becomes
/// [`Page::Ram`] at its first write (on a device, every page but page 0).
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Page {
    /// RAM written through the slower path: a page not written since it became RAM,
    /// or on a device page 0, whose first [`MIRROR`] bytes are copied past 0xFFFF.
    RamChecked = 0,
    /// Plain RAM.
    Ram,
    /// Write-protected: writes are ignored.
    Rom,
}

/// 64 KiB of memory, of which some pages may be ROM.
///
/// One array holds the address space, its mirror and the page table, so that the
/// execute loop reaches all three from one base register. With the page table as a
/// field of its own, LLVM kept a pointer to each in a register of its own for the
/// whole loop, and the machine's copy of the loop spilled more of the 8080's registers
/// (docs/cpu-performance.md, session 9).
pub struct Memory {
    /// The address space, then [`MIRROR`] bytes of copies, then the page table.
    bytes: [u8; PAGE_TABLE + SIZE / PAGE],
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
            bytes: [0; PAGE_TABLE + SIZE / PAGE],
        }
    }

    /// The kind of page `index`.
    #[inline(always)]
    fn page(&self, index: usize) -> Page {
        match self.bytes[PAGE_TABLE + index] {
            0 => Page::RamChecked,
            1 => Page::Ram,
            _ => Page::Rom,
        }
    }

    /// Sets the kind of pages `first..=last`.
    fn set_pages(&mut self, first: usize, last: usize, kind: Page) {
        self.bytes[PAGE_TABLE + first..=PAGE_TABLE + last].fill(kind as u8);
    }

    /// Reads one byte.
    #[inline(always)]
    pub fn read(&self, addr: u16) -> u8 {
        self.bytes[addr as usize]
    }

    /// Reads the little-endian word at `addr`, wrapping from 0xFFFF to 0x0000.
    #[inline(always)]
    pub fn read_word(&self, addr: u16) -> u16 {
        self.load_word(addr as usize)
    }

    /// Reads the opcode at `at`, an address up to [`FETCH_OVERRUN`] past 0xFFFF (which
    /// stands for `at - 0x10000`, as for [`Bus::fetch`](crate::cpu::Bus::fetch)).
    ///
    /// # Panics
    /// If `at` is further past 0xFFFF.
    #[inline(always)]
    pub fn fetch(&self, at: usize) -> u8 {
        self.bytes[at]
    }

    /// Reads the byte after `at`, an opcode's address as for [`Memory::fetch`]: an
    /// 8-bit operand. Panics as `fetch`.
    #[inline(always)]
    pub fn read_after(&self, at: usize) -> u8 {
        self.bytes[at + 1]
    }

    /// Reads the little-endian word after `at`, an opcode's address as for
    /// [`Memory::fetch`]: a 16-bit operand. Panics as `fetch`.
    #[inline(always)]
    pub fn read_word_after(&self, at: usize) -> u16 {
        self.load_word(at + 1)
    }

    /// The little-endian word at index `a` of the array, read as one 16-bit load.
    ///
    /// Two byte loads put together let LLVM split the word again where it indexes
    /// memory (LHLD: `lo + (hi << 8)` folded into the address, 5 host instructions
    /// where a 16-bit load and the indexed load are 2).
    #[inline(always)]
    fn load_word(&self, a: usize) -> u16 {
        // Two bytes always make a `[u8; 2]`; past the array, the slicing panics as an
        // index would.
        let word: [u8; 2] = self.bytes[a..a + 2].try_into().unwrap_or_default();
        u16::from_le_bytes(word)
    }

    /// Stores a byte at `a` and, with a full mirror, in its copy.
    #[inline(always)]
    fn store(&mut self, a: usize, value: u8) {
        self.bytes[a] = value;
        if FULL_MIRROR {
            self.bytes[a + SIZE] = value;
        }
    }

    /// Stores a word at `a` (at most 0xFFFE) and, with a full mirror, in its copy.
    #[inline(always)]
    fn store_word(&mut self, a: usize, value: u16) {
        self.bytes[a..a + 2].copy_from_slice(&value.to_le_bytes());
        if FULL_MIRROR {
            self.bytes[a + SIZE..a + SIZE + 2].copy_from_slice(&value.to_le_bytes());
        }
    }

    /// Writes one byte as RAM, whatever the kind of its page: for a bus that maps no ROM
    /// (the `.COM` harness), whose writes then need no look at the page table.
    #[inline(always)]
    pub fn write_ram(&mut self, addr: u16, value: u8) {
        self.store(addr as usize, value);
        if !FULL_MIRROR && (addr as usize) < MIRROR {
            self.refresh_mirror();
        }
    }

    /// Writes a little-endian word as RAM, as two [`Memory::write_ram`]s would.
    #[inline(always)]
    pub fn write_word_ram(&mut self, addr: u16, value: u16) {
        let a = addr as usize;
        if a != SIZE - 1 && (FULL_MIRROR || a >= MIRROR) {
            self.store_word(a, value);
        } else {
            self.write_word_bytes(addr, value, Self::write_ram);
        }
    }

    /// Writes one byte unless `addr` is in a ROM page.
    #[inline(always)]
    pub fn write(&mut self, addr: u16, value: u8) {
        let page = self.page(addr as usize / PAGE);
        // Plain RAM first: one test on the hot path (a `match` tested the rare kinds first).
        if page == Page::Ram {
            self.store(addr as usize, value);
        } else {
            self.write_special(page, addr, value);
        }
    }

    /// Writes the little-endian word `value` at `addr` (high byte at `addr + 1`, wrapping
    /// at 0xFFFF), as two [`Memory::write`]s would; bytes in ROM stay as they are.
    ///
    /// Both bytes go in one 16-bit store when they are in one plain-RAM page. A 16-bit
    /// load of the word soon after (POP after PUSH, RET after CALL) then takes its value
    /// straight from that store; after two byte stores the host makes it wait for both to
    /// reach the cache, about 15 cycles (docs/cpu-performance.md, session 6).
    #[inline(always)]
    pub fn write_word(&mut self, addr: u16, value: u16) {
        let a = addr as usize;
        if self.page(a / PAGE) == Page::Ram && a % PAGE != PAGE - 1 {
            self.store_word(a, value);
        } else {
            self.write_word_bytes(addr, value, Self::write);
        }
    }

    /// A word written as two bytes with `write`: [`Memory::write_word`] across a page end
    /// or into a page that is not plain RAM, [`Memory::write_word_ram`] at 0xFFFF or into
    /// a device's mirrored bytes. Out of line, so that the execute loop carries one call
    /// here rather than two inlined writes with a call each.
    #[cold]
    #[inline(never)]
    fn write_word_bytes(&mut self, addr: u16, value: u16, write: fn(&mut Self, u16, u8)) {
        let [lo, hi] = value.to_le_bytes();
        write(self, addr, lo);
        write(self, addr.wrapping_add(1), hi);
    }

    /// A write to a page that is not [`Page::Ram`]: ignored in ROM; otherwise the page
    /// becomes [`Page::Ram`], except a device's page 0, whose first bytes are copied
    /// past 0xFFFF at every write.
    fn write_special(&mut self, page: Page, addr: u16, value: u8) {
        if page == Page::Rom {
            return;
        }
        self.store(addr as usize, value);
        match addr as usize / PAGE {
            0 if !FULL_MIRROR => self.refresh_mirror(),
            index => self.set_pages(index, index, Page::Ram),
        }
    }

    /// Copies the first [`MIRROR`] bytes past 0xFFFF.
    #[cold]
    fn refresh_mirror(&mut self) {
        let (memory, mirror) = self.bytes.split_at_mut(SIZE);
        mirror[..MIRROR].copy_from_slice(&memory[..MIRROR]);
    }

    /// Copies `image` to `at`, ignoring ROM protection (this is how ROM gets its contents).
    pub fn load(&mut self, at: u16, image: &[u8]) -> Result<(), LoadError> {
        let start = at as usize;
        let Some(dest) = self.bytes[..SIZE].get_mut(start..start + image.len()) else {
            return Err(LoadError::PastEnd {
                at,
                len: image.len(),
            });
        };
        dest.copy_from_slice(image);
        self.refresh_mirror();
        Ok(())
    }

    /// Marks the pages that hold `at..at + len` as ROM (`true`) or RAM (`false`).
    pub fn protect(&mut self, at: u16, len: usize, rom: bool) {
        let first = at as usize / PAGE;
        let last = (at as usize + len.max(1) - 1).min(SIZE - 1) / PAGE;
        // A ROM is only ever written by `load`, which refreshes the copies past 0xFFFF
        // itself.
        let kind = if rom { Page::Rom } else { Page::RamChecked };
        self.set_pages(first, last, kind);
    }

    /// Whether `addr` is in a ROM page.
    pub fn is_rom(&self, addr: u16) -> bool {
        self.page(addr as usize / PAGE) == Page::Rom
    }

    /// All 64 KiB, for snapshots and tests.
    pub fn bytes(&self) -> &[u8; SIZE] {
        self.bytes
            .first_chunk()
            .expect("the mirror comes after a whole address space")
    }

    /// Makes every page RAM and every byte zero.
    pub fn clear(&mut self) {
        *self = Self::new();
    }
}

#[cfg(test)]
mod tests {
    use super::{FETCH_OVERRUN, Memory, PAGE, SIZE};

    /// Every fetch and operand read agrees with plain reads of the wrapped addresses, at
    /// every address the CPU can fetch from (up to FETCH_OVERRUN past 0xFFFF).
    fn assert_operand_reads_wrap(memory: &Memory) {
        for at in 0..=0xFFFF + FETCH_OVERRUN {
            let addr = at as u16;
            let next = addr.wrapping_add(1);
            let word = u16::from_le_bytes([memory.read(next), memory.read(next.wrapping_add(1))]);
            assert_eq!(memory.fetch(at), memory.read(addr), "{at:#07X}");
            assert_eq!(memory.read_after(at), memory.read(next), "{at:#07X}");
            assert_eq!(memory.read_word_after(at), word, "{at:#07X}");
            let word = u16::from_le_bytes([memory.read(addr), memory.read(next)]);
            assert_eq!(memory.read_word(addr), word, "{at:#07X}");
        }
    }

    /// Writes a word at each address into `words` with `word`, and its two bytes into
    /// `bytes` with `byte`, and checks after each that both memories hold the same.
    fn compare_word_and_byte_writes(
        words: &mut Memory,
        bytes: &mut Memory,
        addresses: &[u16],
        word: fn(&mut Memory, u16, u16),
        byte: fn(&mut Memory, u16, u8),
    ) {
        for (i, &addr) in addresses.iter().enumerate() {
            let value = 0x1234u16.wrapping_mul(i as u16 + 1);
            word(words, addr, value);
            let [lo, hi] = value.to_le_bytes();
            byte(bytes, addr, lo);
            byte(bytes, addr.wrapping_add(1), hi);
            assert_eq!(words.bytes(), bytes.bytes(), "{addr:#06X}");
        }
    }

    #[test]
    fn word_writes_equal_two_byte_writes_at_page_ends_rom_and_the_top() {
        let mut words = Memory::new();
        let mut bytes = Memory::new();
        for memory in [&mut words, &mut bytes] {
            memory.protect(0x1000, PAGE, true);
            // One plain-RAM page (written before), one not written yet.
            memory.write(0x2000, 0);
        }
        let addresses = [
            0x0000, 0x0001, 0x00FF, 0x0FFE, 0x0FFF, 0x1000, 0x10FF, 0x2000, 0x2080, 0x20FF, 0x3080,
            0xFFFE, 0xFFFF,
        ];
        compare_word_and_byte_writes(
            &mut words,
            &mut bytes,
            &addresses,
            Memory::write_word,
            Memory::write,
        );
        assert_ne!(words.read_word(0x2080), 0);
        assert_eq!(words.read_word(0x1000), 0);
        assert_operand_reads_wrap(&words);
    }

    #[test]
    fn ram_writes_write_through_rom_and_equal_byte_writes() {
        let mut words = Memory::new();
        let mut bytes = Memory::new();
        for memory in [&mut words, &mut bytes] {
            memory.protect(0x1000, PAGE, true);
        }
        let addresses = [
            0x0000, 0x0001, 0x0006, 0x0007, 0x00FF, 0x0FFF, 0x1000, 0x10FF, 0x8000, 0xC0FE, 0xFFFE,
            0xFFFF,
        ];
        compare_word_and_byte_writes(
            &mut words,
            &mut bytes,
            &addresses,
            Memory::write_word_ram,
            Memory::write_ram,
        );
        // The seventh word went to 0x1000, in ROM, which stays ROM.
        assert_eq!(words.read_word(0x1000), 0x1234 * 7);
        assert!(words.is_rom(0x1000));
        assert_operand_reads_wrap(&words);
    }

    #[test]
    fn reads_past_0xffff_wrap_after_writes_loads_and_rom_changes() {
        let mut memory = Memory::new();
        let pattern: [u8; SIZE] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        memory.load(0, &pattern).unwrap();
        assert_operand_reads_wrap(&memory);

        memory.write(0x0000, 0xA5);
        memory.write(0x0001, 0x5A);
        memory.write(0x0007, 0x77);
        assert_eq!(
            memory.read_word(0xFFFF),
            u16::from_le_bytes([pattern[0xFFFF], 0xA5])
        );
        assert_operand_reads_wrap(&memory);

        // ROM at page 0: writes are ignored, a load still shows through the top.
        memory.protect(0, PAGE, true);
        memory.write(0x0000, 0x11);
        assert_eq!(memory.read(0), 0xA5);
        memory.load(0, &[0x22, 0x33]).unwrap();
        assert_operand_reads_wrap(&memory);
        assert!(memory.is_rom(0x00FF) && !memory.is_rom(0x0100));

        // Back to RAM: writes show through again.
        memory.protect(0, PAGE, false);
        memory.write(0x0001, 0x44);
        assert_eq!(memory.read_word_after(0xFFFF), 0x4422);
        assert_operand_reads_wrap(&memory);

        memory.clear();
        assert_operand_reads_wrap(&memory);
        assert_eq!(memory.read_word(0xFFFF), 0);
    }
}
