//! The Altair 8800 core shared by the device firmware and host-sim.
//!
//! The crate is `no_std` without `alloc`: every buffer is a fixed-size array or a
//! `heapless` collection whose size is a documented constant. It never touches sockets
//! or files; each platform hands those in through the small traits in [`platform`], and
//! registers embassy-time's driver, the one clock the firmware reads.
//!
//! Layers, from the bottom up:
//! - [`cpu`]: the Intel 8080, which sees the world only through [`cpu::Bus`].
//! - [`disasm`]: 8080 mnemonics for the monitor and traces.
//! - [`machine`]: the Altair 8800 that owns memory and routes ports to devices.
//! - [`monitor`]: the front-panel monitor (examine, deposit, single step) for a stopped CPU.
//! - [`panel`]: the front panel's lights and switches, and drivers for the panel kit
//!   (SPI) and the Retro Click (I2C).
//! - [`session`]: the terminal over MQTT (topics, batching, offline buffer, monitor mode)
//!   as a sans-IO state machine the platform's MQTT client drives.
//! - [`cpm_com`]: the CP/M `.COM` harness used by the CPU conformance programs.
//! - [`pace`]: turning wall time into state budgets for real-speed runs.
//! - [`vdisk`]: the virtual disk client: a drive whose image is on a disk server over MQTT.
//! - [`net`]: the transport to the broker: MQTT 5 over TLS 1.3 with mutual authentication.
//! - [`guest`]: the machine, session, virtual disk and pacing as every platform's run
//!   loop drives them.
#![no_std]
#![deny(unsafe_code)]

// Declared first so every module below can use the logging macros.
#[macro_use]
mod fmt;

pub mod cpm_com;
pub mod cpu;
pub mod disasm;
pub mod guest;
pub mod machine;
pub mod monitor;
pub mod net;
pub mod pace;
pub mod panel;
pub mod platform;
pub mod session;
pub mod vdisk;
