//! Size probe: the smallest Cortex-M4F image that keeps `altair-firmware` alive.
//!
//! Built by `scripts/nostd-build.sh`; never run. Everything the firmware puts in RAM
//! should end up in a `static` here so that `.data`/`.bss` show the device's real
//! static RAM, and everything it executes should be reachable from `main` so that
//! `.text`/`.rodata` show its code size. `black_box` keeps the optimiser from
//! discarding either.
#![no_std]
#![no_main]

use core::hint::black_box;

use altair_firmware::cpu::Cpu;
use cortex_m_rt::entry;

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {
        cortex_m::asm::nop();
    }
}

#[entry]
fn main() -> ! {
    // cortex-m-rt turns a `static mut` declared in `#[entry]` into a `&'static mut`
    // that only `main` can reach, so no `unsafe` is needed. All-zero, so it lands in .bss.
    static mut CPU: Cpu = Cpu::new();
    let cpu: &'static mut Cpu = black_box(CPU);

    loop {
        black_box(&mut *cpu);
        cortex_m::asm::nop();
    }
}
