//! The altair-sphere firmware as a Cortex-M4 image for QEMU's `mps2-an386`: the same
//! firmware library as host-sim (CPU, machine, terminal session, virtual disk, TLS 1.3 +
//! MQTT 5 link) on the board of [`board`], with drive A on the disk server and the
//! network on UART0.
//!
//! Built by `scripts/qemu-build.sh` (thumbv7em-none-eabihf, Debian's Rust with
//! build-std); run by `scripts/qemu-run.sh` or the hil-tests' QEMU rig:
//! `qemu-system-arm -M mps2-an386 -nographic -monitor none -semihosting-config
//! enable=on,target=native -kernel altair-qemu -chardev socket,id=s0,host=127.0.0.1,
//! port=8884,reconnect=1 -serial chardev:s0`.
//!
//! The broker's name, the channel and the certificates are the build's configuration
//! (`build.rs`), baked in. The disk boot ROM is linked in from the path in
//! `ALTAIR_BOOT_ROM` at build time (never committed); without it the image starts in the
//! front-panel monitor.
#![no_std]
#![no_main]

use core::mem::MaybeUninit;

mod board;
mod run;

use altair_sphere::config::{CA_CERT_DER, CHANNEL, CLIENT_CERT_DER, CLIENT_KEY_DER, MQTT_HOST};
use altair_sphere::firmware::machine::{Altair, DISK_BOOT_ROM};
use altair_sphere::firmware::net::{Credentials, LinkBuffers};
use altair_sphere::firmware::session::{Options, Session};
use altair_sphere::firmware::vdisk::{self, VirtualDisk};

/// The disk boot ROM, if the build was given one.
const BOOT_ROM: Option<&[u8]> = include!(concat!(env!("OUT_DIR"), "/boot_rom.rs"));

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    use core::fmt::Write as _;
    let _ = writeln!(board::HostStderr, "altair-qemu: panic: {info}");
    board::exit(101)
}

/// Says what is wrong and stops QEMU with exit status 2.
fn fail(what: &str, why: &dyn core::fmt::Display) -> ! {
    log::error!("{what}: {why}");
    board::exit(2)
}

#[cortex_m_rt::entry]
fn main() -> ! {
    // cortex-m-rt makes each `static mut` here a `&'static mut` only `main` can reach: the
    // big state lives in .bss, not on the stack, without `unsafe`.
    static mut MACHINE: Altair<&'static mut VirtualDisk> = Altair::new();
    // Uninitialised rather than `Option`s: `None` is not all zeros, and would cost their
    // 19 KiB twice, in RAM and again in flash as .data's initial image.
    static mut DISK: MaybeUninit<VirtualDisk> = MaybeUninit::uninit();
    static mut SESSION: MaybeUninit<Session> = MaybeUninit::uninit();
    static mut BUFFERS: LinkBuffers = LinkBuffers::new();
    run::paint_stack();
    let mut board = board::init();
    board::init_log();
    log::info!("altair-qemu: channel {CHANNEL}, broker {MQTT_HOST} on UART0");
    let Some(mut rng) = board::TestEntropy::rng() else {
        fail("entropy", &"the host gave no seed through semihosting")
    };
    let disk = match VirtualDisk::new(CHANNEL, vdisk::Options::default()) {
        Ok(disk) => DISK.write(disk),
        Err(e) => fail("channel", &e),
    };
    let session = match Session::new(CHANNEL, Options::default()) {
        Ok(session) => SESSION.write(session),
        Err(e) => fail("channel", &e),
    };
    let machine: &'static mut Altair<&'static mut VirtualDisk> = MACHINE;
    machine.devices.disks.attach(0, disk);
    let start_in_monitor = match BOOT_ROM {
        Some(rom) => match machine.load_rom(DISK_BOOT_ROM, rom) {
            Ok(()) => {
                machine.cpu.pc = DISK_BOOT_ROM;
                false
            }
            Err(e) => fail("boot ROM", &e),
        },
        None => {
            log::warn!("no boot ROM linked in (ALTAIR_BOOT_ROM at build time): starting in the monitor");
            true
        }
    };
    let credentials = Credentials {
        ca_cert_der: CA_CERT_DER,
        client_cert_der: CLIENT_CERT_DER,
        client_key_der: CLIENT_KEY_DER,
    };
    run::run(run::Device {
        uart: &mut board.uart,
        rng: &mut rng,
        machine,
        session,
        buffers: BUFFERS,
        credentials,
        start_in_monitor,
    })
}
