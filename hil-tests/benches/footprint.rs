//! The QEMU image's measured peak stack: boots it against a local rig (broker, disk
//! server, `ALTAIR_HIL_DEVICE=qemu` not needed) and reads the `footprint: stack peak`
//! line the image logs once CP/M first waits for a key, after TLS, MQTT and the disk
//! have all run. `scripts/qemu-footprint.sh` prints it with the image's section sizes.
//!
//! `cargo bench -p altair-hil-tests --bench footprint` (needs Mosquitto, ../shared,
//! qemu-system-arm and the image from scripts/qemu-build.sh; says what is missing).

use std::time::{Duration, Instant};

use altair_hil::{Failure, LocalRig, RigOptions, qemu_image};

fn main() -> Result<(), Failure> {
    let Some(image) = qemu_image() else {
        println!("no QEMU image: run scripts/qemu-build.sh first");
        return Ok(());
    };
    let Some(shared) = host_sim::media::shared_dir() else {
        println!("../shared not found (set ALTAIR_SHARED)");
        return Ok(());
    };
    let options = RigOptions {
        quiet: true,
        qemu_image: Some(image),
        ..RigOptions::default()
    };
    let rig = LocalRig::start(&shared, options)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = rig.device_log();
        if let Some(line) = log.lines().find(|l| l.contains("footprint: stack peak")) {
            let bytes = line.rsplit("peak ").next().unwrap_or("").trim();
            println!(
                "measured peak stack (QEMU, boot to A> with TLS, MQTT and the virtual disk): {bytes}"
            );
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Failure(format!(
                "no footprint line in the image's log:\n{log}"
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
