//! The virtual disk's speed through Mosquitto on loopback:
//!
//! 1. From reset to CP/M's `A>` with drive A on the disk server: wall time, `read`
//!    requests and round trips (a round trip starts when the device asks with nothing
//!    outstanding), with read-ahead (ours) and one sector at a time (the original's
//!    pattern, `--vdisk-no-read-ahead --vdisk-no-acks`). The device is a fresh
//!    `host-sim mqtt` process each time, so its cache is cold.
//! 2. The disk server with many channels: sector reads per second (every client one
//!    request at a time) and durable writes per second (every client waiting for each
//!    `ack`), `CLIENTS` channels at once (default 16).
//!
//! `cargo bench -p altair-hil-tests --bench vdisk` (it needs Mosquitto and ../shared;
//! without them it says so and exits).

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use altair_cloud::mqtt::{BrokerUrl, Connect, Endpoint, QoS, Session, Transport};
use altair_firmware::platform::{IMAGE_BYTES, SECTOR_BYTES};
use altair_firmware::vdisk::wire;
use altair_hil::{Failure, LocalRig, Rig, RigOptions};

/// How long a reply may take.
const REPLY: Duration = Duration::from_secs(5);
/// Reads each client makes in the server benchmark.
const READS: usize = 2_000;
/// Writes each client makes (each waits for an fdatasync).
const WRITES: usize = 200;

fn main() -> Result<(), Failure> {
    println!("reset to A> with drive A virtual (fresh device, cold cache):");
    for (what, args) in [
        ("read-ahead (ours)", &[][..]),
        (
            "one sector at a time (original)",
            &["--vdisk-no-read-ahead", "--vdisk-no-acks"][..],
        ),
    ] {
        if !boot(what, args)? {
            return Ok(());
        }
    }
    let clients = std::env::var("CLIENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(16);
    server(clients)
}

fn rig(device_args: &[&str]) -> Result<Option<Rig>, Failure> {
    let options = RigOptions {
        quiet: true,
        virtual_disk: true,
        device_args: device_args.iter().map(|a| a.to_string()).collect(),
        ..RigOptions::default()
    };
    Rig::start_local("bench-vdisk", options)
}

/// A client on the local listener, subscribed to `filter`.
fn client(
    local: &mut LocalRig,
    id: &str,
    filter: &str,
) -> Result<Session<Box<dyn Transport + Send>>, Failure> {
    let port = local.broker().ports().local;
    let endpoint = Endpoint {
        url: BrokerUrl::parse(&format!("mqtt://127.0.0.1:{port}"))?,
        ca: None,
        identity: None,
        credentials: None,
    };
    let fail = |e: altair_cloud::mqtt::Fault| Failure(format!("{id}: {e}"));
    let mut session = Session::new(endpoint.open(REPLY).map_err(fail)?);
    session
        .connect(&Connect::new(id), Instant::now() + REPLY)
        .map_err(fail)?;
    session
        .subscribe(filter, QoS::AtMostOnce, Instant::now() + REPLY)
        .map_err(fail)?;
    Ok(session)
}

/// One cold boot; `false` when the rig cannot run here.
fn boot(what: &str, device_args: &[&str]) -> Result<bool, Failure> {
    let Some(mut rig) = rig(device_args)? else {
        return Ok(false);
    };
    let local = rig.local().expect("a local rig");
    local.stop_device();
    let mut watcher = client(local, "bench-watch", "altair/1/vdisk/#")?;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        // Request and reply times, until the bench drops the receiver.
        while let Ok(Some(m)) = watcher.receive(Instant::now() + Duration::from_secs(30)) {
            if tx.send((Instant::now(), m.topic)).is_err() {
                break;
            }
        }
    });
    let local = rig.local().expect("a local rig");
    local.start_device()?;
    let mut term = rig.terminal()?;
    term.quiet();
    term.wait_for("A>")?;
    let prompt = Instant::now();
    // Everything the watcher saw until it has been quiet for a while: at the prompt the
    // guest reads nothing more. (Its receipt times lag under load, so they do not decide
    // what counts.)
    let mut events: Vec<(Instant, String)> = Vec::new();
    while let Ok(event) = rx.recv_timeout(Duration::from_millis(500)) {
        events.push(event);
    }
    let (mut requests, mut outstanding, mut round_trips) = (0, 0i64, 0);
    for (_, topic) in &events {
        if topic.ends_with("/read") {
            if outstanding <= 0 {
                round_trips += 1;
                outstanding = 0;
            }
            outstanding += 1;
            requests += 1;
        } else if topic.ends_with("/data") {
            outstanding -= 1;
        }
    }
    let first = events
        .iter()
        .find(|(_, t)| t.ends_with("/read"))
        .map(|(at, _)| *at)
        .ok_or_else(|| Failure("no read request seen".into()))?;
    println!(
        "  {what:32} {:7.1} ms from the first read to A>, {requests} requests, {round_trips} round trips",
        prompt.duration_since(first).as_secs_f64() * 1e3
    );
    Ok(true)
}

/// The disk server under `clients` channels at once.
fn server(clients: usize) -> Result<(), Failure> {
    let Some(mut rig) = rig(&[])? else {
        return Ok(());
    };
    let local = rig.local().expect("a local rig");
    let image = std::fs::read(local.disk_image()).map_err(|e| Failure(e.to_string()))?;
    let dir = local
        .disk_image()
        .parent()
        .expect("disks folder")
        .to_path_buf();
    let mut sessions = Vec::new();
    for n in 0..clients {
        let channel = format!("bench{n}");
        std::fs::write(dir.join(format!("{channel}.dsk")), &image)
            .map_err(|e| Failure(e.to_string()))?;
        let session = client(
            local,
            &format!("bench-client-{n}"),
            &format!("altair/{channel}/vdisk/#"),
        )?;
        sessions.push((channel, session));
    }
    println!("disk server, {clients} channels at once, one request outstanding per channel:");
    for (kind, requests) in [("read", READS), ("write", WRITES)] {
        let started = Instant::now();
        let handles: Vec<_> = sessions
            .drain(..)
            .map(|(channel, mut session)| {
                thread::spawn(move || -> Result<_, String> {
                    for n in 0..requests {
                        let offset = (n as u32 * 97 % (IMAGE_BYTES / SECTOR_BYTES as u32))
                            * SECTOR_BYTES as u32;
                        let (payload, reply) = match kind {
                            "read" => (wire::encode_offset(offset).to_vec(), "data"),
                            _ => (
                                wire::encode_sector(offset, &[n as u8; SECTOR_BYTES]).to_vec(),
                                "ack",
                            ),
                        };
                        let topic = format!("altair/{channel}/vdisk/{kind}");
                        let qos = if kind == "read" {
                            QoS::AtMostOnce
                        } else {
                            QoS::AtLeastOnce
                        };
                        session
                            .publish(&topic, &payload, qos, false, Instant::now() + REPLY)
                            .map_err(|e| e.to_string())?;
                        let want = format!("altair/{channel}/vdisk/{reply}");
                        loop {
                            let m = session
                                .receive(Instant::now() + REPLY)
                                .map_err(|e| e.to_string())?
                                .ok_or("no reply")?;
                            if m.topic == want && m.payload[..4] == offset.to_le_bytes() {
                                break;
                            }
                        }
                    }
                    Ok((channel, session))
                })
            })
            .collect();
        for h in handles {
            let pair = h
                .join()
                .map_err(|_| Failure("client panicked".into()))?
                .map_err(Failure)?;
            sessions.push(pair);
        }
        let secs = started.elapsed().as_secs_f64();
        let total = clients * requests;
        let what = if kind == "read" {
            "sector reads"
        } else {
            "durable writes (fdatasync before ack)"
        };
        println!(
            "  {what:40} {:9.0} per second ({total} in {secs:.2} s)",
            total as f64 / secs
        );
    }
    Ok(())
}
