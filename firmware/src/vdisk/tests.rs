//! The virtual disk against a scripted server: what it sends, what it accepts, and when it
//! gives up. The real server and Mosquitto are in `cloud/tests/vdisk.rs` and the hil-tests.

extern crate std;

use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use super::*;
use crate::platform::sector_offset;

/// One transmitted publish or subscribe, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Sent {
    Subscribe(Vec<String>),
    Read(u32),
    Write(u32, u8),
}

fn sent(t: Transmit<'_>) -> Sent {
    match t {
        Transmit::Subscribe(subs) => {
            Sent::Subscribe(subs.iter().map(|s| s.topic.to_string()).collect())
        }
        Transmit::Publish(p) if p.topic.ends_with("/vdisk/read") => {
            assert_eq!(p.qos, QoS::AtMostOnce);
            Sent::Read(wire::parse_offset(p.payload).unwrap())
        }
        Transmit::Publish(p) => {
            assert!(p.topic.ends_with("/vdisk/write"), "{}", p.topic);
            assert_eq!(p.qos, QoS::AtLeastOnce);
            let (offset, data) = wire::parse_sector(p.payload).unwrap();
            Sent::Write(offset, data[0])
        }
    }
}

fn drain(disk: &mut VirtualDisk, now: u64) -> Vec<Sent> {
    let mut out = Vec::new();
    disk.flush(now, |t| {
        out.push(sent(t));
        Ok::<(), ()>(())
    })
    .unwrap();
    out
}

/// A connected disk whose subscription has gone out.
fn online(options: Options) -> VirtualDisk {
    let mut disk = VirtualDisk::new("kitchen", options).unwrap();
    disk.connected();
    let first = drain(&mut disk, 0);
    assert_eq!(
        first,
        [Sent::Subscribe(vec![
            "altair/kitchen/vdisk/data".into(),
            "altair/kitchen/vdisk/ack".into()
        ])]
    );
    disk
}

fn sector(fill: u8) -> [u8; SECTOR_BYTES] {
    [fill; SECTOR_BYTES]
}

fn data(disk: &mut VirtualDisk, offset: u32, fill: u8) {
    let payload = wire::encode_sector(offset, &sector(fill));
    assert!(disk.on_message("altair/kitchen/vdisk/data", &payload));
}

fn ack(disk: &mut VirtualDisk, offset: u32) {
    assert!(disk.on_message("altair/kitchen/vdisk/ack", &wire::encode_offset(offset)));
}

fn read(disk: &mut VirtualDisk, offset: u32) -> nb::Result<u8, DiskError> {
    let mut buf = [0; SECTOR_BYTES];
    disk.read_sector(offset, &mut buf).map(|()| buf[0])
}

#[test]
fn a_miss_asks_for_the_whole_track_starting_with_the_sector_wanted() {
    let mut disk = online(Options::default());
    let wanted = sector_offset(2, 30);
    assert_eq!(read(&mut disk, wanted), Err(nb::Error::WouldBlock));
    let requests = drain(&mut disk, 5);
    let expected: Vec<Sent> = [30, 31]
        .into_iter()
        .chain(0..30)
        .map(|s| Sent::Read(sector_offset(2, s)))
        .collect();
    assert_eq!(requests, expected);
    // Replies in any order fill the cache; the rest of the track is then a hit.
    for s in (0..32).rev() {
        data(&mut disk, sector_offset(2, s), s);
    }
    for s in 0..32 {
        assert_eq!(read(&mut disk, sector_offset(2, s)), Ok(s));
    }
    let stats = disk.stats();
    assert_eq!((stats.misses, stats.requests, stats.hits), (1, 32, 32));
    assert_eq!(drain(&mut disk, 10), []);
}

#[test]
fn without_read_ahead_it_asks_for_one_sector_at_a_time() {
    let mut disk = online(Options {
        read_ahead: false,
        ..Options::default()
    });
    assert_eq!(read(&mut disk, 137), Err(nb::Error::WouldBlock));
    assert_eq!(drain(&mut disk, 0), [Sent::Read(137)]);
    data(&mut disk, 137, 7);
    assert_eq!(read(&mut disk, 137), Ok(7));
}

#[test]
fn an_unanswered_read_is_asked_again_then_fails_and_is_never_stale() {
    let mut disk = online(Options {
        read_ahead: false,
        ..Options::default()
    });
    let offset = sector_offset(5, 0);
    assert_eq!(read(&mut disk, offset), Err(nb::Error::WouldBlock));
    let mut now = 0;
    assert_eq!(drain(&mut disk, now), [Sent::Read(offset)]);
    for _ in 1..READ_TRIES {
        assert_eq!(drain(&mut disk, now + READ_TIMEOUT_MS - 1), []);
        now += READ_TIMEOUT_MS;
        assert_eq!(disk.next_deadline_ms(), Some(now));
        assert_eq!(drain(&mut disk, now), [Sent::Read(offset)]);
        assert_eq!(read(&mut disk, offset), Err(nb::Error::WouldBlock));
    }
    now += READ_TIMEOUT_MS;
    assert_eq!(drain(&mut disk, now), []);
    assert_eq!(
        read(&mut disk, offset),
        Err(nb::Error::Other(DiskError::NoAnswer(offset)))
    );
    assert_eq!(disk.stats().read_failures, 1);
    assert_eq!(disk.stats().read_retries, u64::from(READ_TRIES) - 1);
    // The next read starts afresh.
    assert_eq!(read(&mut disk, offset), Err(nb::Error::WouldBlock));
    assert_eq!(drain(&mut disk, now), [Sent::Read(offset)]);
}

#[test]
fn nothing_times_out_offline_and_a_reconnect_asks_again() {
    let mut disk = online(Options {
        read_ahead: false,
        ..Options::default()
    });
    assert_eq!(read(&mut disk, 0), Err(nb::Error::WouldBlock));
    assert_eq!(drain(&mut disk, 0), [Sent::Read(0)]);
    disk.disconnected();
    assert_eq!(disk.next_deadline_ms(), None);
    assert_eq!(drain(&mut disk, 60_000), []);
    disk.connected();
    let again = drain(&mut disk, 60_000);
    assert_eq!(again[1..], [Sent::Read(0)]);
    data(&mut disk, 0, 3);
    assert_eq!(read(&mut disk, 0), Ok(3));
}

#[test]
fn a_write_completes_only_when_acknowledged_and_is_retried_until_then() {
    let mut disk = online(Options::default());
    let offset = sector_offset(3, 4);
    assert_eq!(
        disk.write_sector(offset, &sector(9)),
        Err(nb::Error::WouldBlock)
    );
    assert!(disk.write_pending());
    assert_eq!(drain(&mut disk, 0), [Sent::Write(offset, 9)]);
    // Reads of the sector see the new data at once.
    assert_eq!(read(&mut disk, offset), Ok(9));
    // A second write waits for the first.
    assert_eq!(disk.write_sector(0, &sector(1)), Err(nb::Error::WouldBlock));
    assert_eq!(
        disk.write_sector(offset, &sector(9)),
        Err(nb::Error::WouldBlock)
    );
    assert_eq!(drain(&mut disk, WRITE_RETRY_MS), [Sent::Write(offset, 9)]);
    assert_eq!(
        drain(&mut disk, 2 * WRITE_RETRY_MS),
        [Sent::Write(offset, 9)]
    );
    ack(&mut disk, offset + 137);
    assert!(disk.write_pending(), "an ack for another sector");
    ack(&mut disk, offset);
    assert!(!disk.write_pending());
    assert_eq!(disk.write_sector(offset, &sector(9)), Ok(()));
    let stats = disk.stats();
    assert_eq!(
        (stats.writes, stats.write_retries, stats.unexpected),
        (1, 2, 1)
    );
    assert_eq!(read(&mut disk, offset), Ok(9));
}

#[test]
fn without_acks_a_write_completes_when_the_link_takes_it() {
    let mut disk = online(Options {
        acknowledged_writes: false,
        ..Options::default()
    });
    assert_eq!(disk.write_sector(0, &sector(4)), Err(nb::Error::WouldBlock));
    assert_eq!(drain(&mut disk, 0), [Sent::Write(0, 4)]);
    assert_eq!(disk.write_sector(0, &sector(4)), Ok(()));
    assert_eq!(drain(&mut disk, 10 * WRITE_RETRY_MS), []);
}

#[test]
fn data_for_a_sector_written_since_it_was_asked_for_is_dropped() {
    let mut disk = online(Options::default());
    let offset = sector_offset(0, 0);
    assert_eq!(read(&mut disk, offset), Err(nb::Error::WouldBlock));
    drain(&mut disk, 0);
    // The guest writes sector 5 while the track's replies are on their way.
    let five = sector_offset(0, 5);
    assert_eq!(
        disk.write_sector(five, &sector(0xEE)),
        Err(nb::Error::WouldBlock)
    );
    data(&mut disk, five, 0x11);
    assert_eq!(read(&mut disk, five), Ok(0xEE));
    ack(&mut disk, five);
    assert_eq!(disk.write_sector(five, &sector(0xEE)), Ok(()));
    assert_eq!(read(&mut disk, five), Ok(0xEE));
    // A duplicate reply changes nothing either.
    data(&mut disk, offset, 1);
    data(&mut disk, offset, 2);
    assert_eq!(read(&mut disk, offset), Ok(1));
    assert_eq!(disk.stats().unexpected, 2);
}

#[test]
fn malformed_replies_and_other_topics_change_nothing() {
    let mut disk = online(Options::default());
    assert_eq!(read(&mut disk, 0), Err(nb::Error::WouldBlock));
    drain(&mut disk, 0);
    let data_topic = "altair/kitchen/vdisk/data";
    assert!(disk.on_message(data_topic, b""));
    assert!(disk.on_message(data_topic, &[0; 140]));
    let mut misaligned = wire::encode_sector(0, &sector(5));
    misaligned[0] = 1;
    assert!(disk.on_message(data_topic, &misaligned));
    assert!(disk.on_message("altair/kitchen/vdisk/ack", &[1, 2, 3]));
    assert!(!disk.on_message(
        "altair/other/vdisk/data",
        &wire::encode_sector(0, &sector(5))
    ));
    assert!(!disk.on_message("altair/kitchen/dev", b"x"));
    assert_eq!(disk.stats().malformed, 4);
    assert_eq!(read(&mut disk, 0), Err(nb::Error::WouldBlock));
}

#[test]
fn bad_offsets_from_the_controller_are_errors() {
    let mut disk = online(Options::default());
    assert_eq!(
        read(&mut disk, 1),
        Err(nb::Error::Other(DiskError::BadOffset(1)))
    );
    let past = crate::platform::IMAGE_BYTES;
    assert_eq!(
        disk.write_sector(past, &sector(0)),
        Err(nb::Error::Other(DiskError::BadOffset(past)))
    );
}

#[test]
fn the_cache_keeps_the_most_recently_used_sectors() {
    let mut disk = online(Options {
        read_ahead: false,
        ..Options::default()
    });
    let total = CACHE_SECTORS as u32 + 1;
    for n in 0..total {
        let offset = n * 137;
        assert_eq!(read(&mut disk, offset), Err(nb::Error::WouldBlock));
        drain(&mut disk, 0);
        data(&mut disk, offset, n as u8);
        assert_eq!(read(&mut disk, offset), Ok(n as u8));
        if n == 1 {
            // Sector 0 used again: sector 1 is now the oldest.
            assert_eq!(read(&mut disk, 0), Ok(0));
        }
    }
    assert_eq!(read(&mut disk, 0), Ok(0));
    assert_eq!(read(&mut disk, 137), Err(nb::Error::WouldBlock), "evicted");
}

#[test]
#[cfg(target_pointer_width = "64")]
fn size_is_documented() {
    assert_eq!(
        core::mem::size_of::<VirtualDisk>(),
        11_640,
        "update the module doc"
    );
}
