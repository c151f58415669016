//! The CP/M `.COM` harness the CPU conformance programs run in (reference.md section 1).
//!
//! A flat 64 KiB of RAM with the program at 0x0100 and just enough of CP/M to print: a
//! call to the BDOS entry at 0x0005 with C = 2 prints E, with C = 9 prints the string at
//! DE up to `$`. The program ends when it jumps to 0x0000.
//!
//! Beyond the reference's two functions the harness serves the rest of CP/M 2.2's console
//! output, so that ordinary CP/M programs that only print run too: function 0 (system
//! reset) ends the program as a jump to 0 does, 6 (direct console I/O) prints E or
//! reports no key, 11 (console status) reports no key, 12 (version) answers 2.2. There is
//! no console input and no disk, so any other function stops the run with
//! [`Status::Unsupported`] rather than returning a made-up answer the program would
//! go on with.
//!
//! Both addresses hold HLT, so the hot loop carries no per-instruction check: the CPU
//! stops by itself and the harness does the work. The counts are kept exact: the HLT at
//! 0x0005 stands in for the BDOS's RET (one instruction; its 7 states are topped up to
//! RET's 10) and the HLT at 0x0000 is taken back, so totals count up to and including
//! the jump to 0, as the reference table does.

use crate::cpu::{Bus, Cpu, Exit};
use crate::machine::memory::Memory;

/// Where CP/M loads a `.COM` program and starts it.
pub const LOAD_ADDRESS: u16 = 0x0100;
/// The BDOS entry point programs CALL.
pub const BDOS_ENTRY: u16 = 0x0005;
/// The largest program that fits between 0x0100 and the top of memory.
pub const MAX_PROGRAM_LEN: usize = 0x1_0000 - LOAD_ADDRESS as usize;

const HLT: u8 = 0x76;
/// BDOS function numbers (register C) the harness serves.
const BDOS_SYSTEM_RESET: u8 = 0;
const BDOS_PRINT_CHAR: u8 = 2;
const BDOS_DIRECT_IO: u8 = 6;
const BDOS_PRINT_STRING: u8 = 9;
const BDOS_CONSOLE_STATUS: u8 = 11;
const BDOS_VERSION: u8 = 12;
/// Function 6's E that asks for a key instead of printing (0xFE asks for the status,
/// in CP/M 3); the harness has no keys, so both read 0.
const DIRECT_IO_INPUT: u8 = 0xFE;
/// Function 12's answer in HL: CP/M 2.2 (H = 0: CP/M, not MP/M; L = version 2.2).
const CPM_VERSION: u16 = 0x0022;
/// The names of CP/M 2.2's BDOS functions 0 to 12, for messages such as
/// [`Status::Unsupported`]'s; 13 to 40 are the disk and file functions.
const BDOS_NAMES: [&str; 13] = [
    "system reset",
    "console input",
    "console output",
    "reader input",
    "punch output",
    "list output",
    "direct console I/O",
    "get I/O byte",
    "set I/O byte",
    "print string",
    "read console buffer",
    "console status",
    "version number",
];

/// A name for BDOS function `function`, for messages.
pub fn bdos_function_name(function: u8) -> &'static str {
    match BDOS_NAMES.get(usize::from(function)) {
        Some(name) => name,
        None if function <= 40 => "a disk or file function",
        None => "not a CP/M 2.2 function",
    }
}

/// Why a program could not be loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LoadError {
    /// The program is longer than the [`MAX_PROGRAM_LEN`] bytes above 0x0100.
    TooLarge {
        /// The program's length in bytes.
        len: usize,
    },
}

impl core::fmt::Display for LoadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LoadError::TooLarge { len } => write!(
                f,
                "program is {len} bytes; a .COM file holds at most {MAX_PROGRAM_LEN}"
            ),
        }
    }
}

impl core::error::Error for LoadError {}

/// Where a run stands after [`ComRunner::run`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Status {
    /// The budget ran out; call `run` again.
    Running,
    /// The program jumped to 0x0000, or called BDOS function 0: it is done.
    Finished,
    /// A HLT outside the harness. Nothing here raises an interrupt, so whether or not
    /// interrupts are enabled the CPU can never go on.
    Stuck {
        /// The address of the HLT.
        pc: u16,
    },
    /// The program called a BDOS function the harness does not serve (console input,
    /// the disk, another device): it stopped there, before the call returned.
    Unsupported {
        /// The function number (register C).
        function: u8,
        /// The return address on the stack, less 3: the CALL's address when a CALL
        /// made it.
        pc: u16,
    },
}

/// The harness's bus: all 64 KiB are RAM, so writes skip the page table
/// ([`Memory::write_ram`]). I/O ports read 0xFF (an empty data bus) and writes to them
/// go nowhere: the conformance programs do no I/O.
struct FlatRam(Memory);

impl Bus for FlatRam {
    #[inline(always)]
    fn read(&mut self, addr: u16) -> u8 {
        self.0.read(addr)
    }
    #[inline(always)]
    fn read_word(&mut self, addr: u16) -> u16 {
        self.0.read_word(addr)
    }

    #[inline(always)]
    fn fetch(&mut self, at: usize) -> u8 {
        self.0.fetch(at)
    }

    #[inline(always)]
    fn read_after(&mut self, at: usize) -> u8 {
        self.0.read_after(at)
    }

    #[inline(always)]
    fn read_word_after(&mut self, at: usize) -> u16 {
        self.0.read_word_after(at)
    }
    #[inline(always)]
    fn write(&mut self, addr: u16, value: u8) {
        self.0.write_ram(addr, value)
    }

    #[inline(always)]
    fn write_word(&mut self, addr: u16, value: u16) {
        self.0.write_word_ram(addr, value)
    }
    fn input(&mut self, _port: u8, _cycle: u64) -> u8 {
        0xFF
    }
    fn output(&mut self, _port: u8, _value: u8, _cycle: u64) {}
}

/// A `.COM` program with its CPU and memory.
pub struct ComRunner {
    cpu: Cpu,
    ram: FlatRam,
}

impl ComRunner {
    /// Loads `program` at 0x0100 with PC there and SP = 0 (the stack grows down from the
    /// top of memory).
    pub fn new(program: &[u8]) -> Result<Self, LoadError> {
        if program.len() > MAX_PROGRAM_LEN {
            return Err(LoadError::TooLarge { len: program.len() });
        }
        let mut memory = Memory::new();
        memory
            .load(LOAD_ADDRESS, program)
            .map_err(|_| LoadError::TooLarge { len: program.len() })?;
        memory.write(0, HLT);
        memory.write(BDOS_ENTRY, HLT);
        let ram = FlatRam(memory);
        let mut cpu = Cpu::new();
        cpu.pc = LOAD_ADDRESS;
        Ok(ComRunner { cpu, ram })
    }

    /// The CPU, for its registers and counters.
    pub fn cpu(&self) -> &Cpu {
        &self.cpu
    }

    /// Runs for about `budget` states, handing each console byte to `console`.
    pub fn run(&mut self, budget: u64, console: &mut impl FnMut(u8)) -> Status {
        let end = self.cpu.cycles.saturating_add(budget);
        while self.cpu.cycles < end {
            match self.run_cpu(end - self.cpu.cycles) {
                Exit::Budget | Exit::Yield => {}
                Exit::Halt => {
                    // PC has moved past the HLT.
                    let at = self.cpu.pc.wrapping_sub(1);
                    if at == 0 {
                        self.take_back_halt(0);
                        return Status::Finished;
                    }
                    if at != BDOS_ENTRY {
                        return Status::Stuck { pc: at };
                    }
                    if let Some(done) = self.bdos(console) {
                        return done;
                    }
                }
            }
        }
        Status::Running
    }

    /// Runs to completion (or until stuck), handing each console byte to `console`.
    pub fn run_to_end(&mut self, console: &mut impl FnMut(u8)) -> Status {
        loop {
            match self.run(u64::MAX / 2, console) {
                Status::Running => {}
                done => return done,
            }
        }
    }

    /// The CPU on the harness's RAM. Not generic and never inlined, so the interpreter
    /// loop is compiled once, with the RAM at a fixed offset from `self`, whatever calls
    /// the harness: inlined into each caller instead, 8080EXM's time moved between 2.6
    /// and 3.4 s with unrelated edits elsewhere in host-sim (most likely code placement,
    /// which host-sim's 64-byte block alignment removes: docs/cpu-performance.md).
    #[inline(never)]
    fn run_cpu(&mut self, budget: u64) -> Exit {
        self.cpu.run(&mut self.ram, budget)
    }

    /// Undoes the HLT the harness put at `at`, so the counts end with the instruction
    /// that reached it, and leaves PC there.
    fn take_back_halt(&mut self, at: u16) {
        self.cpu.instructions -= 1;
        self.cpu.cycles -= u64::from(crate::cpu::timing::STATES[HLT as usize]);
        self.cpu.pc = at;
    }

    /// Serves the BDOS call the CPU halted at, then returns from it; or returns how the
    /// run ended when the call ends it.
    fn bdos(&mut self, console: &mut impl FnMut(u8)) -> Option<Status> {
        let cpu = &mut self.cpu;
        match cpu.c {
            BDOS_SYSTEM_RESET => {
                self.take_back_halt(BDOS_ENTRY);
                return Some(Status::Finished);
            }
            BDOS_PRINT_CHAR => console(cpu.e),
            BDOS_DIRECT_IO if cpu.e >= DIRECT_IO_INPUT => cpu.a = 0,
            BDOS_DIRECT_IO => console(cpu.e),
            BDOS_CONSOLE_STATUS => cpu.a = 0,
            BDOS_VERSION => {
                cpu.set_hl(CPM_VERSION);
                cpu.a = CPM_VERSION as u8;
                cpu.b = (CPM_VERSION >> 8) as u8;
            }
            BDOS_PRINT_STRING => {
                let mut addr = self.cpu.de();
                // A string without `$` stops after one lap of memory.
                for _ in 0..0x1_0000u32 {
                    let byte = self.ram.0.read(addr);
                    if byte == b'$' {
                        break;
                    }
                    console(byte);
                    addr = addr.wrapping_add(1);
                }
            }
            function => {
                let pc = self.ram.0.read_word(cpu.sp).wrapping_sub(3);
                self.take_back_halt(BDOS_ENTRY);
                return Some(Status::Unsupported { function, pc });
            }
        }
        // The RET the HLT stands in for.
        let sp = self.cpu.sp;
        let ret = self.ram.0.read_word(sp);
        self.cpu.sp = sp.wrapping_add(2);
        self.cpu.pc = ret;
        self.cpu.halted = false;
        let states = &crate::cpu::timing::STATES;
        self.cpu.cycles += u64::from(states[0xC9] - states[HLT as usize]);
        None
    }
}
