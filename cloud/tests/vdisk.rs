//! `altair-cloud vdisk serve` as a process against a real Mosquitto made by `broker init`,
//! driven over the local listener by a client speaking the original device's protocol:
//! one 4-byte read at a time, 141-byte writes sent without waiting for anything.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use altair_cloud::mqtt::{BrokerUrl, Connect, Endpoint, QoS, Session, Transport};
use altair_firmware::platform::{IMAGE_BYTES, PADDED_EXTRA, SECTOR_BYTES, sector_offset};
use altair_firmware::vdisk::wire;
use common::{Fixture, running};

/// How long a reply may take.
const REPLY: Duration = Duration::from_secs(5);

/// A recognisable image: every byte depends on its offset.
fn pattern(len: u32) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31) >> 3) as u8).collect()
}

/// A new, empty folder for the images.
fn disks_dir(fixture: &Fixture) -> PathBuf {
    let disks = fixture.tmp.path().join("disks");
    fs::create_dir(&disks).unwrap();
    disks
}

/// The broker's plain local listener, anonymous: the disk topics only.
fn local_endpoint(fixture: &Fixture) -> Endpoint {
    Endpoint {
        url: BrokerUrl::parse(&format!("mqtt://127.0.0.1:{}", fixture.local_port)).unwrap(),
        ca: None,
        identity: None,
        credentials: None,
    }
}

/// A running `vdisk serve`, its stderr in a file; killed on drop.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn start(fixture: &Fixture, dir: &Path, name: &str, extra: &[&str]) -> Server {
        let log = fixture.tmp.path().join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_altair-cloud"))
            .args(["vdisk", "serve", "--broker"])
            .arg(format!("mqtt://127.0.0.1:{}", fixture.local_port))
            .arg("--dir")
            .arg(dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start vdisk serve");
        let server = Server { child, log };
        server.wait_log("vdisk: serving");
        server
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for `text` in the log.
    fn wait_log(&self, text: &str) {
        let deadline = Instant::now() + REPLY;
        while !self.log().contains(text) {
            assert!(
                Instant::now() < deadline,
                "no {text:?} in the log:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM; returns whether it exited 0 within 5 s, and its log.
    fn terminate(mut self) -> (bool, String) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("pid");
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("kill");
        let deadline = Instant::now() + REPLY;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (status.success(), self.log());
            }
            if Instant::now() > deadline {
                return (false, self.log());
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A device-side client on the local listener, subscribed to a channel's replies.
struct Device {
    session: Session<Box<dyn Transport + Send>>,
    channel: String,
}

impl Device {
    fn connect(fixture: &Fixture, channel: &str) -> Device {
        let mut session = Session::new(local_endpoint(fixture).open(REPLY).expect("connect"));
        let id = format!("test-device-{channel}");
        session
            .connect(&Connect::new(&id), Instant::now() + REPLY)
            .expect("CONNECT");
        for kind in ["data", "ack"] {
            session
                .subscribe(
                    &format!("altair/{channel}/vdisk/{kind}"),
                    QoS::AtMostOnce,
                    Instant::now() + REPLY,
                )
                .expect("SUBSCRIBE");
        }
        Device {
            session,
            channel: channel.to_owned(),
        }
    }

    fn send(&mut self, kind: &str, payload: &[u8]) {
        let topic = format!("altair/{}/vdisk/{kind}", self.channel);
        self.session
            .publish(&topic, payload, QoS::AtMostOnce, false, Instant::now())
            .expect("publish");
    }

    /// The next reply on `kind` (`data` or `ack`), skipping the other kind.
    fn reply(&mut self, kind: &str) -> Option<Vec<u8>> {
        let topic = format!("altair/{}/vdisk/{kind}", self.channel);
        let deadline = Instant::now() + REPLY;
        while let Some(message) = self.session.receive(deadline).expect("receive") {
            if message.topic == topic {
                return Some(message.payload);
            }
        }
        None
    }

    /// The original device's read: one request, then wait for its data.
    fn read(&mut self, offset: u32) -> [u8; SECTOR_BYTES] {
        self.send("read", &wire::encode_offset(offset));
        let payload = self
            .reply("data")
            .unwrap_or_else(|| panic!("no data for {offset}"));
        let (got, sector) = wire::parse_sector(&payload).expect("a well-formed reply");
        assert_eq!(got, offset);
        *sector
    }

    /// Whether any `data` comes within `wait`.
    fn silent(&mut self, wait: Duration) -> bool {
        self.session
            .receive(Instant::now() + wait)
            .expect("receive")
            .is_none()
    }
}

fn sector_of(image: &[u8], offset: u32) -> &[u8] {
    &image[offset as usize..offset as usize + SECTOR_BYTES]
}

#[test]
fn the_original_devices_pattern_is_served_and_a_sigterm_stops_cleanly() {
    let Some((fixture, _broker)) = running("vdisk original pattern", &["dev1"]) else {
        return;
    };
    let disks = disks_dir(&fixture);
    // The padded size, as SIMH writes it.
    let mut expected = pattern(IMAGE_BYTES + PADDED_EXTRA);
    fs::write(disks.join("dev1.dsk"), &expected).unwrap();
    let server = Server::start(&fixture, &disks, "server", &["--channel", "dev1"]);
    let mut device = Device::connect(&fixture, "dev1");
    for (track, sector) in [(0, 0), (0, 31), (2, 7), (40, 16), (76, 31)] {
        let offset = sector_offset(track, sector);
        assert_eq!(
            device.read(offset),
            sector_of(&expected, offset),
            "{track}/{sector}"
        );
    }
    // Writes sent back to back, never waiting, as the original does.
    let written: Vec<u32> = (0..10).map(|n| sector_offset(3 + n, n * 3)).collect();
    for (n, &offset) in written.iter().enumerate() {
        let sector = [n as u8 ^ 0x5A; SECTOR_BYTES];
        device.send("write", &wire::encode_sector(offset, &sector));
        expected[offset as usize..offset as usize + SECTOR_BYTES].copy_from_slice(&sector);
    }
    for &offset in &written {
        assert_eq!(device.read(offset), sector_of(&expected, offset));
    }
    let (clean, log) = server.terminate();
    assert!(clean, "exit status after SIGTERM; log:\n{log}");
    assert!(log.contains("vdisk: stopped: "), "{log}");
    assert!(log.contains("10 written"), "{log}");
    assert_eq!(
        fs::read(disks.join("dev1.dsk")).unwrap(),
        expected,
        "the image, byte for byte"
    );
}

#[test]
fn a_write_is_acknowledged_once_it_is_in_the_image_and_survives_kill_9() {
    let Some((fixture, _broker)) = running("vdisk ack", &["dev1"]) else {
        return;
    };
    let disks = disks_dir(&fixture);
    let mut expected = pattern(IMAGE_BYTES);
    fs::write(disks.join("dev1.dsk"), &expected).unwrap();
    let server = Server::start(&fixture, &disks, "server", &["--all"]);
    let mut device = Device::connect(&fixture, "dev1");
    let offset = sector_offset(9, 9);
    let sector = [0xC3; SECTOR_BYTES];
    device.send("write", &wire::encode_sector(offset, &sector));
    let ack = device.reply("ack").expect("an ack");
    assert_eq!(wire::parse_offset(&ack), Ok(offset));
    // Killed straight after the ack: the sector is in the file.
    drop(server);
    expected[offset as usize..offset as usize + SECTOR_BYTES].copy_from_slice(&sector);
    assert_eq!(fs::read(disks.join("dev1.dsk")).unwrap(), expected);
}

#[test]
fn malformed_requests_are_dropped_and_the_server_carries_on() {
    let Some((fixture, _broker)) = running("vdisk malformed", &["dev1"]) else {
        return;
    };
    let disks = disks_dir(&fixture);
    let image = pattern(IMAGE_BYTES);
    fs::write(disks.join("dev1.dsk"), &image).unwrap();
    let server = Server::start(&fixture, &disks, "server", &["--all"]);
    let mut device = Device::connect(&fixture, "dev1");
    let mut misaligned_write = wire::encode_sector(137, &[1; SECTOR_BYTES]).to_vec();
    misaligned_write[0] = 1;
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("read", vec![]),
        ("read", vec![0; 3]),
        ("read", vec![0; 5]),
        ("read", 138u32.to_le_bytes().to_vec()),
        ("read", IMAGE_BYTES.to_le_bytes().to_vec()),
        ("read", u32::MAX.to_le_bytes().to_vec()),
        ("write", vec![0; 140]),
        ("write", vec![0; 142]),
        ("write", misaligned_write),
        (
            "write",
            [&IMAGE_BYTES.to_le_bytes()[..], &[9; SECTOR_BYTES]].concat(),
        ),
        ("write", vec![0xFF; 60_000]),
    ];
    for (kind, payload) in &bad {
        device.send(kind, payload);
    }
    assert!(
        device.silent(Duration::from_millis(500)),
        "no reply to a bad request"
    );
    // A channel name that is not one (it would be a file name).
    let mut odd = Session::new(local_endpoint(&fixture).open(REPLY).unwrap());
    odd.connect(&Connect::new("odd"), Instant::now() + REPLY)
        .unwrap();
    odd.publish(
        "altair/dev1.dsk/vdisk/read",
        &[0; 4],
        QoS::AtMostOnce,
        false,
        Instant::now(),
    )
    .unwrap();
    // Still serving, and nothing changed.
    assert_eq!(
        &device.read(IMAGE_BYTES - SECTOR_BYTES as u32)[..],
        &image[image.len() - SECTOR_BYTES..]
    );
    let log = server.log();
    for why in [
        "payload of 0 bytes (want 4)",
        "offset 138 is not a multiple of 137",
        "is past the last sector",
        "payload of 60000 bytes (want 141)",
        "dropped a 4-byte message on altair/dev1.dsk/vdisk/read: not a valid channel name",
    ] {
        assert!(log.contains(why), "{why:?} not in the log:\n{log}");
    }
    assert_eq!(fs::read(disks.join("dev1.dsk")).unwrap(), image);
    assert!(!disks.join("dev1.dsk.dsk").exists());
}

#[test]
fn a_new_channel_gets_the_template_and_a_wrong_sized_image_is_left_alone() {
    let Some((fixture, _broker)) = running("vdisk template", &["dev1"]) else {
        return;
    };
    let disks = disks_dir(&fixture);
    let template = fixture.tmp.path().join("empty.dsk");
    let empty = pattern(IMAGE_BYTES);
    fs::write(&template, &empty).unwrap();
    let truncated = pattern(IMAGE_BYTES - 1000);
    fs::write(disks.join("short.dsk"), &truncated).unwrap();
    let server = Server::start(
        &fixture,
        &disks,
        "server",
        &["--all", "--template", template.to_str().unwrap()],
    );
    let mut fresh = Device::connect(&fixture, "fresh");
    assert_eq!(
        fresh.read(sector_offset(1, 2)),
        sector_of(&empty, sector_offset(1, 2))
    );
    assert_eq!(fs::read(disks.join("fresh.dsk")).unwrap(), empty);
    let leftovers: Vec<_> = fs::read_dir(&disks)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let mut short = Device::connect(&fixture, "short");
    short.send("read", &wire::encode_offset(0));
    assert!(
        short.silent(Duration::from_millis(500)),
        "no answer from a bad image"
    );
    short.send("write", &wire::encode_sector(0, &[0; SECTOR_BYTES]));
    assert!(short.silent(Duration::from_millis(500)));
    server.wait_log(&format!(
        "short.dsk is {} bytes, not a disk image",
        IMAGE_BYTES - 1000
    ));
    assert_eq!(fs::read(disks.join("short.dsk")).unwrap(), truncated);
    // Logged once, not per request.
    assert_eq!(
        server.log().matches("short.dsk is").count(),
        1,
        "{}",
        server.log()
    );
}

#[test]
fn without_a_template_the_originals_empty_dsk_is_copied_but_never_served() {
    let Some((fixture, _broker)) = running("vdisk Empty.dsk", &["dev1"]) else {
        return;
    };
    let disks = disks_dir(&fixture);
    let empty = pattern(IMAGE_BYTES + PADDED_EXTRA);
    fs::write(disks.join("Empty.dsk"), &empty).unwrap();
    let server = Server::start(&fixture, &disks, "server", &["--all"]);
    let mut new = Device::connect(&fixture, "new");
    new.send("write", &wire::encode_sector(0, &[1; SECTOR_BYTES]));
    assert_eq!(
        new.reply("ack").map(|a| wire::parse_offset(&a)),
        Some(Ok(0))
    );
    let mut image = empty.clone();
    image[..SECTOR_BYTES].fill(1);
    assert_eq!(fs::read(disks.join("new.dsk")).unwrap(), image);
    // The channel called Empty would write into the template: refused.
    let mut sneaky = Device::connect(&fixture, "Empty");
    sneaky.send("write", &wire::encode_sector(0, &[2; SECTOR_BYTES]));
    assert!(sneaky.silent(Duration::from_millis(500)));
    server.wait_log("is the template image");
    assert_eq!(fs::read(disks.join("Empty.dsk")).unwrap(), empty);
}

#[test]
fn servers_in_one_group_split_the_requests_and_answer_each_once() {
    let Some((fixture, _broker)) = running("vdisk shared", &["dev1"]) else {
        return;
    };
    let disks = disks_dir(&fixture);
    let image = pattern(IMAGE_BYTES);
    fs::write(disks.join("dev1.dsk"), &image).unwrap();
    let one = Server::start(&fixture, &disks, "one", &["--all"]);
    let two = Server::start(&fixture, &disks, "two", &["--all"]);
    let mut device = Device::connect(&fixture, "dev1");
    for n in 0..100u32 {
        let offset = n * 7 * SECTOR_BYTES as u32;
        assert_eq!(device.read(offset), sector_of(&image, offset));
    }
    assert!(
        device.silent(Duration::from_millis(300)),
        "a request answered twice"
    );
    let reads = |log: &str| -> u64 {
        let line = log
            .lines()
            .find(|l| l.starts_with("vdisk: stopped: "))
            .expect("stats");
        line["vdisk: stopped: ".len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (ok1, log1) = one.terminate();
    let (ok2, log2) = two.terminate();
    assert!(ok1 && ok2, "{log1}\n{log2}");
    let (r1, r2) = (reads(&log1), reads(&log2));
    assert_eq!(r1 + r2, 100, "{log1}\n{log2}");
    assert!(r1 > 0 && r2 > 0, "both served: {r1} and {r2}");
}

#[test]
fn the_server_comes_back_by_itself_after_the_broker_restarts() {
    let Some((fixture, broker)) = running("vdisk broker restart", &["dev1"]) else {
        return;
    };
    let disks = disks_dir(&fixture);
    let image = pattern(IMAGE_BYTES);
    fs::write(disks.join("dev1.dsk"), &image).unwrap();
    let server = Server::start(&fixture, &disks, "server", &["--all"]);
    drop(broker);
    server.wait_log("vdisk: connection to mqtt://");
    let _broker = fixture.start();
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.log().matches("vdisk: serving").count() < 2 {
        assert!(Instant::now() < deadline, "no reconnect:\n{}", server.log());
        thread::sleep(Duration::from_millis(50));
    }
    let mut device = Device::connect(&fixture, "dev1");
    assert_eq!(device.read(137), sector_of(&image, 137));
}
