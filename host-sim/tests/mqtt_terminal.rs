//! `host-sim mqtt` end to end: the Altair's terminal through a real Mosquitto over
//! mutual TLS. The broker comes from `altair-cloud broker init` on a copy of the
//! development PKI; host-sim boots CP/M with the device certificate given at run time;
//! `mosquitto_sub` / `mosquitto_pub` with the same device's certificate (another client
//! id) read `web` and type on `dev` and `dev/ctrl`. Every wait is bounded; the test
//! skips (saying why) without Mosquitto or ../shared.

mod support;

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use altair_sphere::config::CHANNEL;
use support::broker::{Broker, Subscriber, have_mosquitto, topic};
use support::{copy_disk, host_sim, shared_or_skip};

/// `host-sim mqtt` running against `broker`; killed on drop, its stderr kept in a file.
struct HostSim {
    child: Child,
    log: std::path::PathBuf,
}

impl HostSim {
    fn start(broker: &Broker, shared: &Path, dir: &Path) -> HostSim {
        let disk = copy_disk(shared, "cpm63k.dsk", dir);
        let rom = shared.join("disks/88dskrom.bin");
        let log = dir.join("host-sim.log");
        let mut cmd: Command = host_sim();
        cmd.arg("mqtt")
            .args(["--broker", &format!("localhost:{}", broker.tls_port)])
            .args(["--channel", CHANNEL])
            .args(["--ca", &broker.path("ca.crt")])
            .args(["--cert", &broker.path(&format!("devices/{CHANNEL}.crt"))])
            .args(["--key", &broker.path(&format!("devices/{CHANNEL}.key"))])
            .arg(format!("--disk=A={}", disk.display()))
            .arg(format!("--rom=0xFF00={}", rom.display()))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("log file"));
        let child = cmd.spawn().expect("start host-sim mqtt");
        HostSim { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for HostSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("host-sim's log:\n{}", self.log());
        }
    }
}

#[test]
fn cp_m_and_the_monitor_through_mosquitto() {
    const TEST: &str = "cp_m_and_the_monitor_through_mosquitto";
    if !have_mosquitto(TEST) {
        return;
    }
    let Some(shared) = shared_or_skip(TEST) else {
        return;
    };
    let broker = Broker::start(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let (web, status, dev, ctrl) = (
        topic("web"),
        topic("status"),
        topic("dev"),
        topic("dev/ctrl"),
    );
    let mut sub = Subscriber::start(&broker, "test-terminal", &[&web, &status]);
    let sim = HostSim::start(&broker, &shared, dir.path());

    sub.expect(&status, "online");
    sub.expect_text(&web, "A>");

    broker.publish(&dev, "DIR\r");
    let listing = sub.expect_text(&web, "MBASIC   COM");
    assert!(listing.contains("DIR"), "{listing:?}");
    sub.expect_text(&web, "A>");

    broker.publish(&ctrl, "M");
    sub.expect_text(&web, "MONITOR: CPU stopped at PC=");
    broker.publish(&dev, "R");
    broker.publish(&dev, "\r");
    let registers = sub.expect_text(&web, "INTE=");
    assert!(registers.contains("SP="), "{registers:?}");
    broker.publish(&dev, "G\r");
    sub.expect_text(&web, "RUN from PC=");

    // Back in CP/M: it answers again.
    broker.publish(&dev, "DIR\r");
    sub.expect_text(&web, "MBASIC   COM");
    drop(sim);
}
