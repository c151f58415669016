//! `altair-cloud vdisk serve`: the disk server. It keeps one image per channel in a
//! directory and answers the devices' disk requests over MQTT (reference.md section 3),
//! the original device's and ours alike.
//!
//! - `altair/<ch>/vdisk/read` (4-byte offset): the sector goes back on
//!   `altair/<ch>/vdisk/data` (offset + 137 bytes).
//! - `altair/<ch>/vdisk/write` (offset + 137 bytes): the sector is written into
//!   `DIR/<ch>.dsk` in place and made durable (`fdatasync`); only then is the offset
//!   published on `altair/<ch>/vdisk/ack`. An original device ignores the ack. Nothing is
//!   held in memory, so a crash loses no acknowledged write: the original server
//!   rewrote its images every 30 s.
//! - Writes that arrive together are made durable together, one `fdatasync` per image
//!   for the lot, so many devices writing at once cost one sync each round, not one per
//!   sector.
//! - Every request is checked ([`request::parse`]): the topic, the channel name (which is
//!   also the file name, so it is limited to `A-Z a-z 0-9 _ -`), the payload's length
//!   and an offset on a sector boundary inside the image. A bad one is logged and
//!   dropped. A channel without a usable image (none and no template, or a file of the
//!   wrong size) gets no answer, and the problem is logged once.
//! - Subscriptions are shared (`$share/<group>/...`, MQTT 5's shared subscriptions, which
//!   Mosquitto also gives MQTT 3.1.1 clients) unless `--no-share`: servers in one group
//!   on one broker split the requests between them. Servers sharing the load must share
//!   the directory, since any of them may get any channel's request.
//! - The broker going away is survived: the server reconnects with backoff. SIGTERM or
//!   SIGINT stops it cleanly: the requests in hand are finished (writes synced and
//!   acknowledged), then it disconnects and exits 0.

pub mod images;
pub mod request;

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use altair_firmware::vdisk::wire;

use crate::mqtt::{Connect, Endpoint, Fault, Message, QoS, Session, Transport};
use images::Images;
use request::{Kind, Request};

/// How often the loop looks at the stop flag while no request comes.
const STOP_POLL: Duration = Duration::from_millis(200);
/// The bound on connecting, subscribing and pinging.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The MQTT keep-alive.
const KEEP_ALIVE_SECS: u16 = 30;
/// The first wait before reconnecting; it doubles up to [`MAX_RETRY`].
const MIN_RETRY: Duration = Duration::from_millis(250);
/// The longest wait between connection attempts.
const MAX_RETRY: Duration = Duration::from_secs(5);
/// The most requests handled as one batch (one sync): bounds the latency a write adds
/// to the reads that arrived with it.
const BATCH: usize = 256;
/// The template the original server copied for a new channel, in its directory; used
/// when no `--template` is given and the directory has one.
pub const ORIGINAL_TEMPLATE: &str = "Empty.dsk";
/// The default shared-subscription group.
pub const DEFAULT_GROUP: &str = "altair-vdisk";

/// What to serve, from where.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The broker and login (normally `mqtt://127.0.0.1:PORT`, the local listener).
    pub endpoint: Endpoint,
    /// The directory of the images.
    pub dir: PathBuf,
    /// The image copied for a channel that has none.
    pub template: Option<PathBuf>,
    /// One channel, or `None` for every channel.
    pub channel: Option<String>,
    /// The shared-subscription group, or `None` for plain subscriptions.
    pub share: Option<String>,
    /// The MQTT client id.
    pub client_id: String,
}

/// What a server did, printed when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Sectors sent.
    pub reads: u64,
    /// Sectors written and acknowledged.
    pub writes: u64,
    /// `fdatasync` rounds.
    pub syncs: u64,
    /// Requests dropped as malformed.
    pub dropped: u64,
    /// Requests not served for a missing or unusable image, or an I/O error.
    pub failed: u64,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sectors read, {} written in {} syncs, {} malformed requests dropped, {} not served",
            self.reads, self.writes, self.syncs, self.dropped, self.failed
        )
    }
}

/// The topic filters to subscribe to.
pub fn filters(channel: Option<&str>, share: Option<&str>) -> Vec<String> {
    let channel = channel.unwrap_or("+");
    ["read", "write"]
        .into_iter()
        .map(|kind| {
            let topic = request::reply_topic(channel, kind);
            match share {
                Some(group) => format!("$share/{group}/{topic}"),
                None => topic,
            }
        })
        .collect()
}

/// Serves until `stop` is set; the broker going away is survived. Fails only on a
/// configuration that cannot work (the directory, the template).
pub fn serve(options: &ServeOptions, stop: &AtomicBool) -> Result<Stats, String> {
    let mut images = Images::new(&options.dir, options.template.as_deref())?;
    let mut stats = Stats::default();
    let url = &options.endpoint.url;
    let scope = match &options.channel {
        Some(channel) => format!("channel {channel}"),
        None => "every channel".to_owned(),
    };
    let mut delay = MIN_RETRY;
    while !stop.load(Ordering::Relaxed) {
        match connect(options) {
            Ok(mut session) => {
                eprintln!(
                    "vdisk: serving {scope} from {} through {url}",
                    options.dir.display()
                );
                delay = MIN_RETRY;
                match serve_connection(&mut session, &mut images, &mut stats, stop) {
                    Ok(()) => {
                        let _ = session.disconnect();
                        break;
                    }
                    Err(fault) => eprintln!("vdisk: connection to {url} lost: {fault}"),
                }
            }
            Err(fault) => eprintln!(
                "vdisk: cannot connect to {url}: {fault}; trying again in {} ms",
                delay.as_millis()
            ),
        }
        sleep_unless(stop, delay);
        delay = (delay * 2).min(MAX_RETRY);
    }
    eprintln!("vdisk: stopped: {stats}");
    Ok(stats)
}

/// Connects and subscribes.
fn connect(options: &ServeOptions) -> Result<Session<Box<dyn Transport + Send>>, Fault> {
    let transport = options.endpoint.open(TIMEOUT)?;
    let mut session = Session::new(transport);
    let mut login = Connect::new(&options.client_id);
    login.keep_alive = KEEP_ALIVE_SECS;
    login.credentials = options.endpoint.login();
    session.connect(&login, Instant::now() + TIMEOUT)?;
    for filter in filters(options.channel.as_deref(), options.share.as_deref()) {
        session.subscribe(&filter, QoS::AtLeastOnce, Instant::now() + TIMEOUT)?;
    }
    Ok(session)
}

/// Serves one connection: `Ok` when stopped, the fault when the connection failed.
fn serve_connection<T: Transport>(
    session: &mut Session<T>,
    images: &mut Images,
    stats: &mut Stats,
    stop: &AtomicBool,
) -> Result<(), Fault> {
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let ping_due = session.ping_due().unwrap_or(now + STOP_POLL);
        if ping_due <= now {
            session.ping(now + TIMEOUT)?;
            continue;
        }
        let Some(first) = session.receive((now + STOP_POLL).min(ping_due))? else {
            continue;
        };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match session.receive_buffered()? {
                Some(message) => batch.push(message),
                None => break,
            }
        }
        handle(session, images, stats, batch)?;
    }
    Ok(())
}

/// Answers a batch of requests in order: reads at once, writes written, then all synced
/// together and acknowledged.
fn handle<T: Transport>(
    session: &mut Session<T>,
    images: &mut Images,
    stats: &mut Stats,
    batch: Vec<Message>,
) -> Result<(), Fault> {
    let mut written = Vec::new();
    for message in batch {
        let Request { channel, kind } = match request::parse(&message.topic, &message.payload) {
            Ok(request) => request,
            Err(why) => {
                stats.dropped += 1;
                eprintln!(
                    "vdisk: dropped a {}-byte message on {}: {why}",
                    message.payload.len(),
                    message.topic
                );
                continue;
            }
        };
        match kind {
            Kind::Read(offset) => match images.read(&channel, offset) {
                Ok(sector) => {
                    let reply = wire::encode_sector(offset, &sector);
                    let topic = request::reply_topic(&channel, "data");
                    session.publish(&topic, &reply, QoS::AtMostOnce, false, Instant::now())?;
                    stats.reads += 1;
                }
                Err(problem) => not_served(images, stats, &problem),
            },
            Kind::Write(offset, sector) => match images.write(&channel, offset, &sector) {
                Ok(()) => written.push((channel, offset)),
                Err(problem) => not_served(images, stats, &problem),
            },
        }
    }
    if written.is_empty() {
        return Ok(());
    }
    let failed = images.sync();
    stats.syncs += 1;
    for (channel, error) in &failed {
        stats.failed += 1;
        eprintln!(
            "vdisk: cannot sync the image of {channel}: {error}; its writes are not acknowledged"
        );
    }
    for (channel, offset) in written {
        if failed.iter().any(|(c, _)| *c == channel) {
            continue;
        }
        let topic = request::reply_topic(&channel, "ack");
        session.publish(
            &topic,
            &wire::encode_offset(offset),
            QoS::AtMostOnce,
            false,
            Instant::now(),
        )?;
        stats.writes += 1;
    }
    Ok(())
}

/// Counts a request that could not be served and logs why, once per problem.
fn not_served(images: &mut Images, stats: &mut Stats, problem: &str) {
    stats.failed += 1;
    if images.first_report(problem) {
        eprintln!("vdisk: {problem} (requests for it get no answer)");
    }
}

/// Sleeps for `total`, waking early when `stop` is set.
fn sleep_unless(stop: &AtomicBool, total: Duration) {
    let end = Instant::now() + total;
    while !stop.load(Ordering::Relaxed) {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        thread::sleep(left.min(STOP_POLL));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_shared_unless_asked_not_to() {
        assert_eq!(
            filters(None, Some("g")),
            [
                "$share/g/altair/+/vdisk/read",
                "$share/g/altair/+/vdisk/write"
            ]
        );
        assert_eq!(
            filters(Some("k"), None),
            ["altair/k/vdisk/read", "altair/k/vdisk/write"]
        );
    }
}
