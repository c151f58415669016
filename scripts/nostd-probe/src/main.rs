//! Size probe: the smallest Cortex-M4F image that runs the `altair-firmware` machine.
//!
//! Built by `scripts/nostd-build.sh`; never run. The machine lives in a `static`, so
//! `.data`/`.bss` show the device's real static RAM (64 KiB of guest memory included),
//! and `main` drives everything the device's run loop will (the 8080, the devices, the
//! monitor) so that `.text`/`.rodata` show its code size. `black_box` keeps the
//! optimiser from discarding any of it.
#![no_std]
#![no_main]

use core::hint::black_box;

use altair_firmware::machine::Altair;
use altair_firmware::monitor::{MAX_REPLY_LEN, Monitor};
use altair_firmware::platform::{BlockStorage, SECTOR_BYTES, nb};
use cortex_m_rt::entry;

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {
        cortex_m::asm::nop();
    }
}

/// A stand-in drive (the probe links no disk image): reads a formatted, empty sector.
struct BlankDisk;

impl BlockStorage for BlankDisk {
    type Error = ();
    fn read_sector(&mut self, _offset: u32, buf: &mut [u8; SECTOR_BYTES]) -> nb::Result<(), ()> {
        buf.fill(0xE5);
        Ok(())
    }
    fn write_sector(&mut self, _offset: u32, _data: &[u8; SECTOR_BYTES]) -> nb::Result<(), ()> {
        Ok(())
    }
}

#[entry]
fn main() -> ! {
    // cortex-m-rt turns a `static mut` declared in `#[entry]` into a `&'static mut`
    // that only `main` can reach, so no `unsafe` is needed. All-zero, so it lands in .bss.
    static mut MACHINE: Altair<BlankDisk> = Altair::new();
    let machine: &'static mut Altair<BlankDisk> = MACHINE;
    machine.devices.disks.attach(0, BlankDisk);
    let mut monitor = Monitor::new();
    let mut reply = heapless::String::<MAX_REPLY_LEN>::new();
    let mut out = [0u8; 256];
    loop {
        machine.devices.console.push_key(black_box(b'\r'));
        black_box(machine.run(black_box(20_000)));
        let n = machine.devices.console.drain_output(&mut out);
        black_box(&out[..n]);
        reply.clear();
        let _ = monitor.command(machine, black_box("E 0100"), &mut reply);
        black_box(reply.as_str());
    }
}
