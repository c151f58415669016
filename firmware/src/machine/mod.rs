//! The Altair 8800: memory, the terminal's serial boards, the 88-DCDD disk controller
//! and the front panel's switches around one 8080.
//!
//! The machine owns the memory map and routes ports to devices (reference.md section 2):
//!
//! | port | device |
//! |---|---|
//! | 0x00 / 0x01 | 88-SIO status / data (the terminal) |
//! | 0x08 / 0x09 / 0x0A | 88-DCDD status+select / sector+control / data |
//! | 0x10 / 0x11 | 88-2SIO port A status+control / data (the terminal) |
//! | 0xFF | IN: the upper eight front-panel switches (sense switches) |
//!
//! Every other port reads 0xFF, what a floating data bus shows, and ignores writes, as
//! the real machine does with no board at that address.
//!
//! [`Altair::run`] executes in batches with no per-instruction I/O polling: the CPU stops
//! only when the batch is spent or a device asks it to yield, and the reason comes back
//! as a [`Stop`] so the platform knows whether to sleep (the guest is idle), drain output
//! or pump storage.

pub mod console;
pub mod disk;
pub mod memory;

use crate::cpu::{Bus, Cpu, Exit};
use crate::platform::BlockStorage;
use console::Console;
use disk::DiskController;
use memory::Memory;

/// Where the MITS disk boot loader PROM sits.
pub const DISK_BOOT_ROM: u16 = 0xFF00;
/// The Altair's clock: 2 MHz.
pub const CLOCK_HZ: u64 = 2_000_000;

/// An empty console poll closer than this many states to the previous one counts as the
/// guest spinning on it. A wait loop (IN, ANI, JZ) takes 24 to 40 states; BASIC polling
/// between statements of a running program is hundreds apart.
const IDLE_POLL_GAP: u64 = 200;
/// Back-to-back empty polls that make the guest idle: about 50 to 100 us of guest time
/// at 2 MHz, short enough to sleep promptly and long enough to skip output waits.
const IDLE_POLL_STREAK: u32 = 64;
/// RST 7: what the data bus reads during interrupt acknowledge on an Altair without a
/// vectored interrupt board (all lines pulled high).
const RST7: u8 = 0xFF;

/// Why [`Altair::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Stop {
    /// The budget is spent.
    Budget,
    /// The guest is spinning on the console waiting for a key: sleep until one comes.
    Idle,
    /// The output queue is full: drain it.
    OutputFull,
    /// A disk is waiting on its storage: pump it.
    Storage,
    /// The CPU halted. With interrupts disabled it can only be reset.
    Halted,
}

/// Counts back-to-back empty polls of the console status.
#[derive(Clone, Copy, Default)]
struct IdleWatch {
    last_poll: u64,
    streak: u32,
}

impl IdleWatch {
    /// Records an empty poll at `cycle`; `true` once the guest is spinning.
    fn empty_poll(&mut self, cycle: u64) -> bool {
        if cycle.wrapping_sub(self.last_poll) <= IDLE_POLL_GAP {
            self.streak = self.streak.saturating_add(1);
        } else {
            self.streak = 1;
        }
        self.last_poll = cycle;
        self.streak >= IDLE_POLL_STREAK
    }

    fn activity(&mut self) {
        self.streak = 0;
    }
}

/// Everything on the Altair's bus except the CPU.
///
/// `repr(C)` keeps `memory` first, at the address of the bus itself, so that the
/// execute loop needs no register for a pointer to it: without it, 8K BASIC ran 8% more
/// host instructions (docs/cpu-performance.md, session 9).
#[repr(C)]
pub struct Devices<S> {
    /// The 64 KiB address space (first: see above).
    pub memory: Memory,
    /// The terminal.
    pub console: Console,
    /// The floppy controller and its drives.
    pub disks: DiskController<S>,
    /// The 16 front-panel address/data switches; IN 0xFF reads the upper eight.
    pub switches: u16,
    idle: IdleWatch,
    /// Why the batch should end, valid while `stop_requested` (an `Option<Stop>` would
    /// make a fresh machine non-zero, costing the device 64 KiB of flash initializer).
    stop: Stop,
    stop_requested: bool,
}

impl<S: BlockStorage> Devices<S> {
    fn request(&mut self, stop: Stop) {
        // The first reason wins; any of them ends the batch.
        if !self.stop_requested {
            self.stop = stop;
            self.stop_requested = true;
        }
    }

    fn take_stop(&mut self) -> Option<Stop> {
        core::mem::take(&mut self.stop_requested).then_some(self.stop)
    }

    fn console_status(&mut self, status: u8, rx_ready: bool, cycle: u64) -> u8 {
        if rx_ready {
            self.idle.activity();
        } else if self.idle.empty_poll(cycle) {
            self.request(Stop::Idle);
        }
        status
    }

    fn disk_io(&mut self) {
        self.idle.activity();
        if self.disks.take_waiting() {
            self.request(Stop::Storage);
        }
    }
}

impl<S: BlockStorage> Bus for Devices<S> {
    #[inline(always)]
    fn read(&mut self, addr: u16) -> u8 {
        self.memory.read(addr)
    }

    #[inline(always)]
    fn read_word(&mut self, addr: u16) -> u16 {
        self.memory.read_word(addr)
    }

    #[inline(always)]
    fn fetch(&mut self, at: usize) -> u8 {
        self.memory.fetch(at)
    }

    #[inline(always)]
    fn read_after(&mut self, at: usize) -> u8 {
        self.memory.read_after(at)
    }

    #[inline(always)]
    fn read_word_after(&mut self, at: usize) -> u16 {
        self.memory.read_word_after(at)
    }

    #[inline(always)]
    fn write(&mut self, addr: u16, value: u8) {
        self.memory.write(addr, value)
    }

    #[inline(always)]
    fn write_word(&mut self, addr: u16, value: u16) {
        self.memory.write_word(addr, value)
    }

    fn input(&mut self, port: u8, cycle: u64) -> u8 {
        match port {
            0x00 => {
                let status = self.console.sio_status();
                self.console_status(status, status & 0x01 == 0, cycle)
            }
            0x10 => {
                let status = self.console.sio2_status();
                self.console_status(status, status & console::SIO2_RDRF != 0, cycle)
            }
            0x01 | 0x11 => {
                self.idle.activity();
                self.console.read_data()
            }
            0x08 => {
                let v = self.disks.status();
                self.disk_io();
                v
            }
            0x09 => {
                let v = self.disks.sector_position();
                self.disk_io();
                v
            }
            0x0A => {
                let v = self.disks.read_data();
                self.disk_io();
                v
            }
            0xFF => (self.switches >> 8) as u8,
            _ => 0xFF,
        }
    }

    fn output(&mut self, port: u8, value: u8, _cycle: u64) {
        match port {
            0x01 | 0x11 => {
                self.idle.activity();
                self.console.write_data(value);
                if self.console.output_full() {
                    self.request(Stop::OutputFull);
                }
            }
            0x10 => {
                self.console.sio2_control(value);
                // Enabling receive interrupts must be seen before the batch ends.
                if self.console.interrupt_requested() {
                    self.request(Stop::Budget);
                }
            }
            0x08 => {
                self.disks.select(value);
                self.disk_io();
            }
            0x09 => {
                self.disks.control(value);
                self.disk_io();
            }
            0x0A => {
                self.disks.write_data(value);
                self.disk_io();
            }
            _ => {}
        }
    }

    fn yield_requested(&mut self) -> bool {
        self.stop_requested
    }
}

/// The whole machine.
pub struct Altair<S> {
    /// The 8080.
    pub cpu: Cpu,
    /// Memory and devices.
    pub devices: Devices<S>,
}

impl<S: BlockStorage> Default for Altair<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: BlockStorage> Altair<S> {
    /// A machine with 64 KiB of zeroed RAM, no ROM, no disks, PC = 0. `const` so the
    /// device can place it in a static instead of on its small stack.
    pub const fn new() -> Self {
        Altair {
            cpu: Cpu::new(),
            devices: Devices {
                memory: Memory::new(),
                console: Console::new(),
                disks: DiskController::new(),
                switches: 0,
                idle: IdleWatch {
                    last_poll: 0,
                    streak: 0,
                },
                stop: Stop::Budget,
                stop_requested: false,
            },
        }
    }

    /// Copies `image` into RAM at `at`.
    pub fn load(&mut self, at: u16, image: &[u8]) -> Result<(), memory::LoadError> {
        self.devices.memory.load(at, image)?;
        self.devices.memory.protect(at, image.len(), false);
        Ok(())
    }

    /// Copies `image` to `at` and write-protects it (a PROM, such as the disk boot loader
    /// at [`DISK_BOOT_ROM`]).
    pub fn load_rom(&mut self, at: u16, image: &[u8]) -> Result<(), memory::LoadError> {
        self.devices.memory.load(at, image)?;
        self.devices.memory.protect(at, image.len(), true);
        Ok(())
    }

    /// The front panel's RESET: the CPU restarts at 0 and the devices return to their
    /// power-on state. Memory and disks keep their contents.
    pub fn reset(&mut self) {
        self.cpu.reset();
        self.devices.console.clear();
        self.devices.disks.reset();
        self.devices.idle = IdleWatch::default();
        self.devices.stop_requested = false;
    }

    /// Runs about `budget` states (whole instructions), returning early when a device
    /// needs the platform's attention.
    pub fn run(&mut self, budget: u64) -> Stop {
        let end = self.cpu.cycles.saturating_add(budget);
        loop {
            // The 2SIO's interrupt line is level-triggered: offer RST 7 while it is up.
            if self.devices.console.interrupt_requested() {
                self.cpu.interrupt(RST7);
            } else {
                self.cpu.clear_interrupt();
            }
            let left = end.saturating_sub(self.cpu.cycles);
            if left == 0 {
                return Stop::Budget;
            }
            match self.cpu.run(&mut self.devices, left) {
                Exit::Halt => return Stop::Halted,
                Exit::Budget => {}
                Exit::Yield => {}
            }
            match self.devices.take_stop() {
                Some(Stop::Budget) | None => {}
                Some(stop) => return stop,
            }
        }
    }

    /// Executes one instruction (the front panel's SINGLE STEP) and returns its states.
    pub fn step(&mut self) -> u64 {
        let states = self.cpu.step(&mut self.devices);
        self.devices.stop_requested = false;
        states
    }
}

#[cfg(test)]
mod tests;
