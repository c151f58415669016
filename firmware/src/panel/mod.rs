//! The front panel: the Altair's lights computed from the machine, and its switches
//! carried out on it, for panels made of real LEDs and switches.
//!
//! This module is the hardware-independent half; the drivers turn it into bus traffic:
//! - [`spi_kit`]: the Altair 8800 front panel kit (74HC595 LED chain, 74HC165 switch
//!   chain) over SPI;
//! - [`retro_click`]: the MikroE 8800 Retro Click (an AS1115 driving an 8x8 LED matrix
//!   and reading a 4x4 keypad) over I2C.
//!
//! Both are generic over the embedded-hal 1.0 blocking traits, use fixed-size buffers,
//! and return bus errors instead of panicking. host-sim renders the same [`Lights`] in
//! its monitor.
//!
//! # Lights
//!
//! [`Lights`] is what the panel shows at one instant. The emulator does not record its
//! bus cycles, so the lights are the ones it can know honestly:
//! - stopped ([`Mode::Stopped`], the WAIT light on): the address register of the
//!   [`Monitor`] on the address LEDs and the byte there on the data LEDs, as the real
//!   panel shows the location examined, with the status of the instruction fetch the CPU
//!   waits in;
//! - running: PC and the byte there, sampled between batches: the fetch of the next
//!   instruction. A real panel glows with the average of every cycle; this one shows one
//!   sample each time the platform refreshes it.
//!
//! The status byte is the 8080's status word, the one the Altair latches onto its
//! status LEDs (Intel 8080 Microcomputer Systems User's Manual, table 4-1, "8080 Status
//! Bit Definitions"; constants in [`status`]). An instruction fetch is MEMR, M1 and WO
//! (WO is active low: set means "not a write"); a halted CPU shows halt acknowledge,
//! MEMR, HLTA and WO. INTE, PROT and WAIT are separate LEDs on the Altair and separate
//! fields here. INT (interrupt acknowledge) and HLDA (DMA hold) are left dark: the
//! emulator has no DMA and does not sample the interrupt cycle.
//!
//! # Switches
//!
//! A driver's [`Input`] carries the 16 address/data switches and the command switches
//! pressed since the last poll, as [`Commands`]. [`handle`] stores the switches in
//! [`Devices::switches`](crate::machine::Devices::switches) (where IN 0FFH and the
//! monitor read them) and carries out each [`Command`] through
//! [`Monitor::switch`], the same code as the typed monitor commands.
//!
//! As on the real machine, EXAMINE, DEPOSIT and SINGLE STEP only work while the CPU is
//! stopped; while it runs only STOP and RESET act. Unlike the typed monitor (whose
//! address register is kept apart from PC), a physical panel's address register is PC,
//! as on the real Altair, where EXAMINE jams a JMP into the CPU: RUN and SINGLE STEP
//! continue from the address shown, and a CPU halted elsewhere wakes there.

pub mod retro_click;
pub mod spi_kit;

use core::fmt::Write;

use crate::machine::Altair;
use crate::monitor::{Monitor, Reply};
use crate::platform::BlockStorage;

/// The 8080 status word bits (Intel table 4-1), as the status LEDs show them.
pub mod status {
    /// D0: interrupt acknowledge.
    pub const INTA: u8 = 1 << 0;
    /// D1: WO, active low: set when the cycle is NOT a memory write or output.
    pub const WO: u8 = 1 << 1;
    /// D2: the address bus holds the stack pointer.
    pub const STACK: u8 = 1 << 2;
    /// D3: halt acknowledge.
    pub const HLTA: u8 = 1 << 3;
    /// D4: the address bus holds an output port.
    pub const OUT: u8 = 1 << 4;
    /// D5: the fetch of an instruction's first byte.
    pub const M1: u8 = 1 << 5;
    /// D6: the address bus holds an input port.
    pub const INP: u8 = 1 << 6;
    /// D7: the data bus carries memory read data.
    pub const MEMR: u8 = 1 << 7;
    /// An instruction fetch (Intel's status word chart, column 1).
    pub const FETCH: u8 = MEMR | M1 | WO;
    /// Halt acknowledge (Intel's status word chart, column 7).
    pub const HALT_ACK: u8 = MEMR | HLTA | WO;
}

/// Whether the platform is running the CPU or holding it stopped in the monitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Mode {
    /// The CPU runs; the panel samples PC.
    Running,
    /// The CPU waits; the panel shows the monitor's address register.
    Stopped,
}

/// The panel's LEDs at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Lights {
    /// A15..A0.
    pub address: u16,
    /// D7..D0.
    pub data: u8,
    /// The 8080 status word ([`status`]).
    pub status: u8,
    /// INTE: interrupts enabled.
    pub inte: bool,
    /// PROT: the addressed memory is write-protected (ROM here).
    pub prot: bool,
    /// WAIT: the CPU is stopped.
    pub wait: bool,
}

impl Lights {
    /// The lights for `altair` with the platform in `mode`; `monitor` holds the address
    /// register shown while stopped.
    pub fn new<S: BlockStorage>(altair: &Altair<S>, monitor: &Monitor, mode: Mode) -> Self {
        let cpu = &altair.cpu;
        let memory = &altair.devices.memory;
        let address = match mode {
            Mode::Running => cpu.pc,
            Mode::Stopped => monitor.address(),
        };
        // A halted 8080 sits in halt acknowledge at PC; anywhere else the panel shows
        // the fetch it would do there.
        let status = if cpu.halted && address == cpu.pc {
            status::HALT_ACK
        } else {
            status::FETCH
        };
        Lights {
            address,
            data: memory.read(address),
            status,
            inte: cpu.inte,
            prot: memory.is_rom(address),
            wait: mode == Mode::Stopped,
        }
    }

    /// Whether every status bit in `mask` ([`status`]) is lit.
    pub fn status_lit(&self, mask: u8) -> bool {
        self.status & mask == mask
    }
}

/// One command switch: the Altair's momentary switches a panel driver reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Command {
    /// STOP: the CPU stops and the panel shows PC.
    Stop,
    /// RESET: PC = 0, devices to their power-on state, memory kept.
    Reset,
    /// RUN: the CPU runs from the address shown.
    Run,
    /// SINGLE STEP: one instruction at the address shown.
    SingleStep,
    /// EXAMINE: the address register takes the 16 switches.
    Examine,
    /// EXAMINE NEXT: the address register steps by one.
    ExamineNext,
    /// DEPOSIT: the low 8 switches are written at the address register.
    Deposit,
    /// DEPOSIT NEXT: the address register steps by one, then deposits.
    DepositNext,
}

impl Command {
    /// Every command, in the order [`Commands`] yields them: STOP and RESET first, so a
    /// press of STOP with anything else stops before the rest is looked at.
    pub const ALL: [Command; 8] = [
        Command::Stop,
        Command::Reset,
        Command::Run,
        Command::SingleStep,
        Command::Examine,
        Command::ExamineNext,
        Command::Deposit,
        Command::DepositNext,
    ];

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of [`Command`]s pressed in one poll; iterating yields them in
/// [`Command::ALL`] order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Commands(u8);

impl Commands {
    /// No command.
    pub const NONE: Commands = Commands(0);

    /// The set with `command` added.
    #[must_use]
    pub const fn with(self, command: Command) -> Self {
        Commands(self.0 | command.bit())
    }

    /// Whether `command` is in the set.
    pub const fn contains(self, command: Command) -> bool {
        self.0 & command.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl Iterator for Commands {
    type Item = Command;

    fn next(&mut self) -> Option<Command> {
        if self.0 == 0 {
            return None;
        }
        let index = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Command::ALL.get(index).copied()
    }
}

/// What one poll of a panel driver found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Input {
    /// The 16 address/data switches, when they changed (the kit also reports its first
    /// settled reading): the monitor's `SW` keeps its value until the panel's switches
    /// move.
    pub switches: Option<u16>,
    /// The command switches pressed since the last poll.
    pub commands: Commands,
}

/// What the platform must do after [`apply`] or [`handle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use = "`Run` and `Stop` change whether the platform runs the CPU"]
pub enum Effect {
    /// Nothing changes.
    Stay,
    /// Leave the monitor and run the CPU from its PC.
    Run,
    /// Stop the CPU and enter the monitor ([`Monitor::enter`]).
    Stop,
}

/// Carries out one command switch with the platform in `mode`, writing the monitor's
/// reply (the panel line) to `out`; switches that do nothing in `mode` write nothing.
pub fn apply<S: BlockStorage, W: Write + ?Sized>(
    command: Command,
    mode: Mode,
    altair: &mut Altair<S>,
    monitor: &mut Monitor,
    out: &mut W,
) -> Effect {
    match (mode, command) {
        (Mode::Running, Command::Stop) => Effect::Stop,
        // RESET works while running, as on the real machine: the CPU restarts at 0.
        (_, Command::Reset) => {
            let _ = monitor.switch(altair, command, out);
            Effect::Stay
        }
        (Mode::Running, _) | (Mode::Stopped, Command::Stop) => Effect::Stay,
        (Mode::Stopped, Command::Run | Command::SingleStep) => {
            // The panel's address register is PC (see the module docs).
            let at = monitor.address();
            if at != altair.cpu.pc {
                altair.cpu.pc = at;
                altair.cpu.halted = false;
            }
            match monitor.switch(altair, command, out) {
                Reply::Run => Effect::Run,
                Reply::Stay => Effect::Stay,
            }
        }
        (Mode::Stopped, _) => {
            let _ = monitor.switch(altair, command, out);
            Effect::Stay
        }
    }
}

/// Takes one poll's [`Input`]: stores the switches, then applies each command in turn,
/// following RUN and STOP among them. Returns the last [`Effect::Run`] or
/// [`Effect::Stop`], which the platform must act on, or [`Effect::Stay`].
pub fn handle<S: BlockStorage, W: Write + ?Sized>(
    input: Input,
    mut mode: Mode,
    altair: &mut Altair<S>,
    monitor: &mut Monitor,
    out: &mut W,
) -> Effect {
    if let Some(switches) = input.switches {
        altair.devices.switches = switches;
    }
    let mut effect = Effect::Stay;
    for command in input.commands {
        match apply(command, mode, altair, monitor, out) {
            Effect::Stay => {}
            Effect::Run => {
                mode = Mode::Running;
                effect = Effect::Run;
            }
            Effect::Stop => {
                mode = Mode::Stopped;
                effect = Effect::Stop;
                // The platform would show PC on entering the monitor; later commands
                // in this poll act from there.
                monitor.enter(altair, &mut Discard);
            }
        }
    }
    effect
}

/// A writer that drops everything, for the banner [`handle`] does not show.
struct Discard;

impl Write for Discard {
    fn write_str(&mut self, _: &str) -> core::fmt::Result {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
