//! The Intel 8080.
//!
//! The CPU owns only its registers and counters. Memory and I/O are reached through one
//! trait, [`Bus`], which the machine implements; the CPU knows nothing about what lives at
//! an address or a port, nor about time beyond counting states.
//!
//! How to drive it:
//! 1. Build a [`Cpu`] with [`Cpu::new`] (everything zero, as after RESET: PC = 0).
//! 2. Call [`Cpu::run`] with a state budget. It executes whole instructions until the
//!    budget is spent, the CPU halts, or the bus asks it to yield after an I/O access,
//!    and says which in an [`Exit`].
//! 3. Interrupts: [`Cpu::interrupt`] offers an RST instruction on the data bus, as the
//!    Altair's vectored interrupt logic does. It is taken only when INTE is set, and it
//!    wakes a halted CPU. A device that wants to interrupt mid-batch makes the bus yield.
//!
//! Timing: every instruction's states come from [`timing::STATES`] (plus
//! [`timing::BRANCH_TAKEN_EXTRA`] for a taken conditional CALL/RET), so `cycles` is the
//! exact number of clock periods a real 8080 would have used.

mod execute;
pub mod flags;
pub mod timing;

#[cfg(test)]
mod tests;

/// Whether [`Cpu::run`] checks its budget once per pair of instructions rather than
/// after each. The execute loop then holds the `match` twice, which saves the check on
/// every second instruction (8080EXM about 10% faster, CPUTEST 11.6 -> 10.6 host
/// instructions per 8080 instruction when the check was a branch), and [`Cpu::step`]
/// keeps its single copy: one more copy of the `match`, about 10 KiB on the Cortex-M4.
/// So bare-metal builds (the device image, 256 KiB of flash for everything) check after
/// each instruction.
pub const PAIRED: bool = cfg!(not(target_os = "none"));

/// How far past 0xFFFF the address of an opcode fetch may run (see [`Bus::fetch`]).
/// With [`PAIRED`] the execute loop wraps its PC at 16 bits only when a batch ends, so
/// straight-line code may run a whole batch past 0xFFFF: at most `MAX_BATCH / 4 + 2`
/// instructions (4 states is the cheapest, and the budget is checked before every
/// second one), 3 bytes each. Without it the PC wraps at every fetch.
pub const FETCH_OVERRUN: usize = if PAIRED {
    3 * (timing::MAX_BATCH as usize / 4 + 2)
} else {
    0
};

/// The CPU's window on the machine: memory and I/O ports.
///
/// Implementations MUST NOT panic for any address or port: every one of the 65,536
/// addresses and 256 ports is valid on an 8080 (unmapped reads return what the machine
/// decides, usually 0xFF). `read` and `write` sit on the hot path and should inline.
pub trait Bus {
    /// Reads the byte at `addr`: data, and opcodes and operands too unless the bus
    /// overrides [`Bus::fetch`], [`Bus::read_after`] and [`Bus::read_word_after`].
    /// Reads must have no side effects: the CPU skips some (a conditional jump not taken
    /// does not read its address) and repeats others (an opcode fetched when a batch's
    /// budget turns out spent is fetched again by the next batch).
    fn read(&mut self, addr: u16) -> u8;
    /// Reads the little-endian word at `addr` (high byte from `addr + 1`, wrapping at
    /// 0xFFFF). Override it when memory can do this in one access: it serves every
    /// 16-bit operand, POP and RET.
    #[inline(always)]
    fn read_word(&mut self, addr: u16) -> u16 {
        u16::from_le_bytes([self.read(addr), self.read(addr.wrapping_add(1))])
    }
    /// Reads the opcode at `at`, which may run up to [`FETCH_OVERRUN`] past 0xFFFF:
    /// such an address stands for `at - 0x10000`. Override it when memory keeps a copy
    /// of itself past 0xFFFF, so that every fetch is one load with no wrap.
    #[inline(always)]
    fn fetch(&mut self, at: usize) -> u8 {
        self.read(at as u16)
    }
    /// Reads the byte after `at`, an opcode's address as for [`Bus::fetch`]: an
    /// instruction's 8-bit operand. Override it as `fetch`.
    #[inline(always)]
    fn read_after(&mut self, at: usize) -> u8 {
        self.read((at as u16).wrapping_add(1))
    }
    /// Reads the little-endian word after `at`, an opcode's address as for
    /// [`Bus::fetch`]: an instruction's 16-bit operand. Override it as `fetch`.
    #[inline(always)]
    fn read_word_after(&mut self, at: usize) -> u16 {
        self.read_word((at as u16).wrapping_add(1))
    }
    /// Writes `value` at `addr`; writes to ROM are the bus's to ignore.
    fn write(&mut self, addr: u16, value: u8);
    /// Writes the little-endian word `value` at `addr` (high byte at `addr + 1`, wrapping
    /// at 0xFFFF): PUSH, CALL, RST, SHLD and XTHL. Override it when memory can store the
    /// word in one access, so that a 16-bit read of it soon after is quick (see
    /// `Memory::write_word`).
    #[inline(always)]
    fn write_word(&mut self, addr: u16, value: u16) {
        let [lo, hi] = value.to_le_bytes();
        self.write(addr, lo);
        self.write(addr.wrapping_add(1), hi);
    }
    /// `IN port`. `cycle` is the CPU's state count when the instruction started, so
    /// devices can model time without a clock of their own.
    fn input(&mut self, port: u8, cycle: u64) -> u8;
    /// `OUT port`. `cycle` as for [`Bus::input`].
    fn output(&mut self, port: u8, value: u8, cycle: u64);
    /// Asked after every IN and OUT: `true` makes [`Cpu::run`] return [`Exit::Yield`]
    /// after the current instruction (for example, the guest is waiting for a key, an
    /// output buffer is full, or a device raised an interrupt).
    fn yield_requested(&mut self) -> bool {
        false
    }
}

/// Why [`Cpu::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Exit {
    /// The state budget is spent.
    Budget,
    /// A HLT instruction executed; the CPU waits for an interrupt.
    Halt,
    /// The bus asked to yield after an I/O access.
    Yield,
}

/// Registers, interrupt state and counters of one 8080.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Cpu {
    /// Accumulator.
    pub a: u8,
    /// Flags, in PSW layout (see [`flags`]); bits 1, 3 and 5 are kept 0 here.
    pub f: u8,
    // C before B and E before D (`repr(C)` keeps the order): each pair is then a
    // little-endian word in memory, which the execute loop loads and stores whole with
    // no byte swap (INX D is one `incw`; 8080EXM 3% fewer host instructions;
    // docs/cpu-performance.md, session 10).
    /// Register C.
    pub c: u8,
    /// Register B.
    pub b: u8,
    /// Register E.
    pub e: u8,
    /// Register D.
    pub d: u8,
    /// Register H.
    pub h: u8,
    /// Register L.
    pub l: u8,
    /// Stack pointer.
    pub sp: u16,
    /// Program counter.
    pub pc: u16,
    /// Interrupt enable flip-flop (INTE).
    pub inte: bool,
    /// Set by HLT until an interrupt or reset.
    pub halted: bool,
    /// States executed since reset.
    pub cycles: u64,
    /// Instructions executed since reset.
    pub instructions: u64,
    /// An interrupt instruction offered while it could not be taken yet.
    pending_interrupt: Option<u8>,
    /// Interrupts are accepted once `instructions` reaches this: EI sets it to one past
    /// the instruction after itself.
    interrupts_from: u64,
}

impl Cpu {
    /// A CPU as after RESET: PC = 0, interrupts disabled, counters zero.
    pub const fn new() -> Self {
        Cpu {
            a: 0,
            f: 0,
            b: 0,
            c: 0,
            d: 0,
            e: 0,
            h: 0,
            l: 0,
            sp: 0,
            pc: 0,
            inte: false,
            halted: false,
            cycles: 0,
            instructions: 0,
            pending_interrupt: None,
            interrupts_from: 0,
        }
    }

    /// RESET: PC = 0, INTE off, not halted. Registers and counters keep their values,
    /// as on the chip.
    pub fn reset(&mut self) {
        self.pc = 0;
        self.inte = false;
        self.halted = false;
        self.pending_interrupt = None;
        self.interrupts_from = 0;
    }

    /// Executes instructions until at least `budget` states have run, the CPU halts, or
    /// the bus yields. Whole instructions only, and on hosts the budget is checked
    /// before every second instruction ([`PAIRED`]), so it may overshoot by up to two
    /// instructions (35 states); the states are counted exactly either way. A budget
    /// of 0 runs no instruction (a pending interrupt may still be accepted); any other
    /// runs at least one.
    ///
    /// A halted CPU with no interrupt to take spends the whole budget waiting, as the
    /// chip does, and returns [`Exit::Halt`].
    pub fn run<B: Bus>(&mut self, bus: &mut B, budget: u64) -> Exit {
        let end = self.cycles.saturating_add(budget);
        loop {
            self.take_pending_interrupt(bus);
            if self.halted {
                self.cycles = end;
                return Exit::Halt;
            }
            // One batch holds at most MAX_BATCH states; a longer budget takes several.
            let left = end.saturating_sub(self.cycles);
            // After an EI that ended the last batch: one instruction, then the interrupt.
            // A budget of one state is one instruction, paired or not.
            let batch = if self.interrupt_after_next() {
                1
            } else {
                left.min(timing::MAX_BATCH)
            };
            let exit = self.execute::<B, PAIRED>(bus, batch);
            if exit != Exit::Budget || self.cycles >= end {
                return exit;
            }
        }
    }

    /// Executes exactly one instruction (or takes a pending interrupt) and returns the
    /// states it used. A halted CPU stays halted and uses 0 states.
    pub fn step<B: Bus>(&mut self, bus: &mut B) -> u64 {
        let before = self.cycles;
        if self.take_pending_interrupt(bus) {
            return self.cycles - before;
        }
        if self.halted {
            return 0;
        }
        // A budget of one state ends the batch after its first instruction.
        self.execute::<B, false>(bus, 1);
        self.cycles - before
    }

    /// Offers an interrupt: `opcode` is the instruction on the data bus, normally an RST
    /// (0xC7 | n << 3); anything else is treated as the RST it would alias to. Taken at
    /// the next instruction boundary once INTE is set; until then it stays pending (a
    /// newer offer replaces an older one, like a level-triggered line).
    pub fn interrupt(&mut self, opcode: u8) {
        self.pending_interrupt = Some(opcode);
    }

    /// Withdraws an interrupt offered with [`Cpu::interrupt`] that has not been taken.
    pub fn clear_interrupt(&mut self) {
        self.pending_interrupt = None;
    }

    /// Whether an interrupt is waiting for INTE.
    pub fn interrupt_pending(&self) -> bool {
        self.pending_interrupt.is_some()
    }

    /// Whether an interrupt waits only for the instruction after an EI.
    fn interrupt_after_next(&self) -> bool {
        self.pending_interrupt.is_some() && self.inte && self.instructions < self.interrupts_from
    }

    /// Takes the pending interrupt if INTE (and the instruction after an EI) allows;
    /// returns whether it did.
    fn take_pending_interrupt<B: Bus>(&mut self, bus: &mut B) -> bool {
        match self.pending_interrupt {
            Some(opcode) if self.inte && self.instructions >= self.interrupts_from => {
                self.pending_interrupt = None;
                self.accept_interrupt(bus, opcode);
                true
            }
            _ => false,
        }
    }

    fn accept_interrupt<B: Bus>(&mut self, bus: &mut B, opcode: u8) {
        self.inte = false;
        self.halted = false;
        execute::push(bus, &mut self.sp, self.pc);
        self.pc = (opcode & 0x38) as u16;
        // RST's 11 states; the interrupt acknowledge replaces the opcode fetch.
        self.cycles += timing::STATES[0xFF] as u64;
        self.instructions += 1;
    }

    /// BC register pair.
    #[inline(always)]
    pub fn bc(&self) -> u16 {
        u16::from_be_bytes([self.b, self.c])
    }
    /// DE register pair.
    #[inline(always)]
    pub fn de(&self) -> u16 {
        u16::from_be_bytes([self.d, self.e])
    }
    /// HL register pair.
    #[inline(always)]
    pub fn hl(&self) -> u16 {
        u16::from_be_bytes([self.h, self.l])
    }
    /// Sets the BC register pair.
    #[inline(always)]
    pub fn set_bc(&mut self, v: u16) {
        [self.b, self.c] = v.to_be_bytes();
    }
    /// Sets the DE register pair.
    #[inline(always)]
    pub fn set_de(&mut self, v: u16) {
        [self.d, self.e] = v.to_be_bytes();
    }
    /// Sets the HL register pair.
    #[inline(always)]
    pub fn set_hl(&mut self, v: u16) {
        [self.h, self.l] = v.to_be_bytes();
    }
    /// The processor status word as `PUSH PSW` stores it: A high, flags low with bit 1
    /// set and bits 3 and 5 clear.
    #[inline(always)]
    pub fn psw(&self) -> u16 {
        u16::from_be_bytes([self.a, (self.f & flags::MASK) | flags::ALWAYS_ONE])
    }
    /// Sets A and the flags as `POP PSW` does.
    #[inline(always)]
    pub fn set_psw(&mut self, v: u16) {
        let [a, f] = v.to_be_bytes();
        self.a = a;
        self.f = f & flags::MASK;
    }
}
