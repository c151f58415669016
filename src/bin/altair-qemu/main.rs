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
//! front-panel monitor. `-append mhz=2` paces the guest at 2 MHz (flat out by default).
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
use rand_chacha::ChaCha20Rng;

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
    static mut BOARD: MaybeUninit<board::Board> = MaybeUninit::uninit();
    static mut RNG: MaybeUninit<ChaCha20Rng> = MaybeUninit::uninit();
    run::paint_stack();
    let device = setup(MACHINE, DISK, SESSION, BUFFERS, BOARD, RNG);
    run::run(device)
}

/// Builds everything. Out of line: the session and the virtual disk are made on its
/// stack (19 KiB) before they move to their statics, and this frame is gone before the
/// run loop's deepest calls (the TLS handshake) need the room.
#[inline(never)]
fn setup(
    machine: &'static mut Altair<&'static mut VirtualDisk>,
    disk: &'static mut MaybeUninit<VirtualDisk>,
    session: &'static mut MaybeUninit<Session>,
    buffers: &'static mut LinkBuffers,
    board: &'static mut MaybeUninit<board::Board>,
    rng: &'static mut MaybeUninit<ChaCha20Rng>,
) -> run::Device<'static> {
    let board = board.write(board::init());
    board::init_log();
    log::info!("altair-qemu: channel {CHANNEL}, broker {MQTT_HOST} on UART0");
    let Some(seeded) = board::TestEntropy::rng() else {
        fail("entropy", &"the host gave no seed through semihosting")
    };
    let rng = rng.write(seeded);
    let disk = match VirtualDisk::new(CHANNEL, vdisk::Options::default()) {
        Ok(d) => disk.write(d),
        Err(e) => fail("channel", &e),
    };
    let session = match Session::new(CHANNEL, Options::default()) {
        Ok(s) => session.write(s),
        Err(e) => fail("channel", &e),
    };
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
            log::warn!(
                "no boot ROM linked in (ALTAIR_BOOT_ROM at build time): starting in the monitor"
            );
            true
        }
    };
    let mut line = [0u8; 128];
    let hz = board::command_line(&mut line).and_then(run::mhz_option);
    if let Some(hz) = hz {
        log::info!("paced at {hz} Hz");
    }
    run::Device {
        hz,
        uart: &mut board.uart,
        rng,
        machine,
        session,
        buffers,
        credentials: Credentials {
            ca_cert_der: CA_CERT_DER,
            client_cert_der: CLIENT_CERT_DER,
            client_key_der: CLIENT_KEY_DER,
        },
        start_in_monitor,
    }
}
