//! `host-sim mqtt`: the Altair's terminal over MQTT with mutual TLS, as the device does
//! it: the firmware's sans-IO [`Session`] (topics, payloads, monitor, buffering) and
//! its [`Link`] (TLS 1.3 + MQTT 5), over the host's TCP, clock and randomness
//! ([`crate::net_host`]).
//!
//! One loop interleaves the guest and the link:
//! - the machine runs in batches (as in `host-sim run`), never while the session is in
//!   the monitor, and [`Session::after_run`] takes its output;
//! - the session's transmits go into the link; one the link cannot take yet (its
//!   transmit buffer is full of unacknowledged messages) stays in the session;
//! - the link is polled for inbound messages when the socket is readable (and at least
//!   every [`KEEPALIVE_POLL`] for keepalive), each going to the virtual disk
//!   ([`VirtualDisk::on_message`]) when it is on a disk topic, else to
//!   [`Session::on_message`];
//! - a drive given as `mqtt` is the virtual disk: while the guest waits on it (a read
//!   not yet answered, a write not yet acknowledged) the loop sleeps on the socket;
//! - when the guest is idle (CP/M at `A>`) the loop sleeps in `poll(2)` on the socket
//!   until a message comes, the session's next deadline, or [`IDLE_WAIT`];
//! - when the link fails the session buffers output and the guest runs on; the link
//!   reconnects with backoff and jitter ([`Reconnect`]), resuming the broker session.
//!
//! Connection state changes are logged (info and warn) to stderr.

use std::convert::Infallible;
use std::net::TcpStream;
use std::os::fd::AsFd as _;
use std::path::Path;
use std::time::Duration as StdDuration;

use altair_firmware::guest::{Guest, Ran};
use altair_firmware::machine::Stop;
use altair_firmware::net::{
    Backoff, Connected, Credentials, Inbound, Link, LinkBuffers, LinkConfig, LinkError, Received,
    Reconnect, block_on,
};
use altair_firmware::session::{Options, Session, Transmit};
use altair_pki::{CertInfo, private_key_der};
use embassy_time::{Duration, Instant};

use crate::drive::Drive;
use crate::machine_loop::{IDLE_WAIT, max_batch, pacing_wait};
use crate::net_host::{self, Rng, Tcp, wait_readable};
use crate::setup::Prepared;

/// The bound on one TLS handshake, CONNECT exchange, subscribe or publish.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// The bound on opening the TCP connection, per address.
const TCP_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// The MQTT keepalive.
const KEEPALIVE_SECS: u16 = 30;
/// How long the broker keeps the session (subscriptions, keys typed meanwhile) after
/// the connection drops.
const SESSION_EXPIRY_SECS: u32 = 3_600;
/// The link is polled at least this often, for keepalive, even with nothing to read.
pub const KEEPALIVE_POLL: StdDuration = StdDuration::from_millis(50);
/// The most inbound messages taken in one go before the guest runs again.
const MESSAGES_PER_POLL: usize = 16;
/// The longest MQTT client id.
const MAX_CLIENT_ID_LEN: usize = 64;

/// The device's certificates in DER: the CA it pins, its certificate and its key.
#[derive(Clone, PartialEq, Eq)]
pub struct Pki {
    /// The CA certificate the broker's certificate must chain to.
    pub ca_der: Vec<u8>,
    /// The device's client certificate.
    pub cert_der: Vec<u8>,
    /// The device's private key (PKCS#8).
    pub key_der: Vec<u8>,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("Pki")
            .field("ca_der", &self.ca_der.len())
            .field("cert_der", &self.cert_der.len())
            .finish_non_exhaustive()
    }
}

impl Pki {
    /// The certificates baked into this build (`altair_sphere::config`).
    pub fn baked() -> Pki {
        use altair_sphere::config::{CA_CERT_DER, CLIENT_CERT_DER, CLIENT_KEY_DER};
        Pki {
            ca_der: CA_CERT_DER.to_vec(),
            cert_der: CLIENT_CERT_DER.to_vec(),
            key_der: CLIENT_KEY_DER.to_vec(),
        }
    }

    /// Certificates and key from PEM files, converted to DER.
    pub fn from_pem_files(ca: &Path, cert: &Path, key: &Path) -> Result<Pki, String> {
        let der = |path: &Path| {
            CertInfo::load(path)
                .map(|c| c.der().to_vec())
                .map_err(|e| e.to_string())
        };
        let key_pem = std::fs::read_to_string(key)
            .map_err(|e| format!("cannot read {}: {e}", key.display()))?;
        Ok(Pki {
            ca_der: der(ca)?,
            cert_der: der(cert)?,
            key_der: private_key_der(&key_pem, key).map_err(|e| e.to_string())?,
        })
    }

    fn credentials(&self) -> Credentials<'_> {
        Credentials {
            ca_cert_der: &self.ca_der,
            client_cert_der: &self.cert_der,
            client_key_der: &self.key_der,
        }
    }
}

/// Everything `host-sim mqtt` needs besides the machine.
#[derive(Debug, Clone)]
pub struct MqttConfig {
    /// The broker's DNS name (TLS checks its certificate against it).
    pub host: String,
    /// The broker's TLS port for devices.
    pub port: u16,
    /// The channel: topics are `altair/<channel>/...`.
    pub channel: String,
    /// The device's certificates.
    pub pki: Pki,
    /// The session's options (echo suppression).
    pub options: Options,
    /// The clock rate to pace the guest at, in MHz; `None` runs flat out.
    pub mhz: Option<f64>,
}

/// Parses `HOST[:PORT]`; the port defaults to `default_port`.
pub fn parse_broker(s: &str, default_port: u16) -> Result<(String, u16), String> {
    let (host, port) = match s.rsplit_once(':') {
        Some((host, port)) => {
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("port {port:?}: expected 1-65535"))?;
            (host, port)
        }
        None => (s, default_port),
    };
    if host.is_empty() || host.contains(':') {
        return Err(format!(
            "broker {s:?}: expected HOST[:PORT] with a DNS name, e.g. localhost:8884"
        ));
    }
    Ok((host.to_owned(), port))
}

/// The MQTT client id for `channel`: stable, and distinct from other clients'.
pub fn client_id(channel: &str) -> String {
    let id = format!("altair-{channel}");
    if id.len() <= MAX_CLIENT_ID_LEN {
        id
    } else {
        channel.to_owned()
    }
}

/// Runs the Altair on `prepared` with its terminal on the broker, until the process is
/// stopped. Fails only on a configuration that cannot work (a bad channel or key).
pub fn run(config: &MqttConfig, prepared: Prepared) -> Result<Infallible, String> {
    let mut session = Session::new(&config.channel, config.options).map_err(|e| e.to_string())?;
    let status = session.topics().status().to_owned();
    let client_id = client_id(&config.channel);
    let Prepared {
        mut altair,
        start_in_monitor,
    } = prepared;
    if start_in_monitor {
        session.enter_monitor(&mut altair, net_host::now_ms());
    }
    let hz = config.mhz.map(|m| (m * 1_000_000.0).round() as u64);
    let mut guest = HostGuest {
        guest: Guest::new(&mut altair, &mut session, hz),
    };
    let mut buffers = Box::new(LinkBuffers::new());
    let mut link = Link::new(
        &mut buffers,
        LinkConfig {
            host: &config.host,
            client_id: &client_id,
            status_topic: &status,
            keepalive_secs: KEEPALIVE_SECS,
            session_expiry_secs: SESSION_EXPIRY_SECS,
            credentials: config.pki.credentials(),
        },
    )
    .map_err(|e| format!("MQTT link: {e}"))?;
    let mut reconnect = Reconnect::new(Backoff::DEFAULT);
    let broker = format!("{}:{}", config.host, config.port);
    loop {
        guest.run_offline(reconnect.not_before());
        log::info!("connecting to {broker} as {client_id}");
        match open(&mut link, config) {
            Err(e) => log::warn!("cannot connect to {broker}: {e}"),
            Ok((mut conn, socket)) => {
                reconnect.connected(Instant::now());
                log::info!(
                    "connected to {broker}; terminal on altair/{}/web",
                    config.channel
                );
                guest.guest.connected();
                let e = serve(&mut conn, &socket, &mut guest);
                drop(conn);
                guest.guest.disconnected();
                log::warn!("connection to {broker} lost: {e}; output is buffered");
            }
        }
        reconnect.failed(&mut Rng, Instant::now());
        let wait = reconnect
            .not_before()
            .saturating_duration_since(Instant::now());
        log::info!("reconnecting in {} ms", wait.as_millis());
    }
}

/// Opens a connection: TCP to the broker's name, then TLS and MQTT by the link. Also
/// returns a second handle on the socket, to wait on.
fn open<'l, 'b>(
    link: &'l mut Link<'b>,
    config: &MqttConfig,
) -> Result<(Connected<'l, 'b, Tcp>, TcpStream), String> {
    if link.will_clean_start() {
        // A clean-start session does not survive a Mosquitto restart: trade it at once
        // for a resumed one (see `Link::will_clean_start`).
        let (conn, _) = dial(&mut *link, config)?;
        block_on(conn.leave(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    }
    dial(link, config)
}

/// One connection attempt: TCP, then TLS and MQTT by the link.
fn dial<'l, 'b>(
    link: &'l mut Link<'b>,
    config: &MqttConfig,
) -> Result<(Connected<'l, 'b, Tcp>, TcpStream), String> {
    let tcp = Tcp::connect(&config.host, config.port, TCP_TIMEOUT).map_err(|e| e.to_string())?;
    let socket = tcp.try_clone().map_err(|e| e.to_string())?;
    let conn = block_on(link.connect(tcp, &mut Rng, IO_TIMEOUT)).map_err(|e| e.to_string())?;
    Ok((conn, socket))
}

/// Serves one connection until it fails; returns why.
fn serve(
    conn: &mut Connected<'_, '_, Tcp>,
    socket: &TcpStream,
    guest: &mut HostGuest<'_>,
) -> LinkError {
    let mut inbound = Inbound::<128, 512>::new();
    let mut last_poll = std::time::Instant::now();
    let mut more_inbound = false;
    loop {
        let ran = guest.step();
        let busy = match guest.flush(conn) {
            Ok(busy) => busy,
            Err(e) => return e,
        };
        let wait = if more_inbound {
            // Messages already read from the socket wait in the link's buffers.
            StdDuration::ZERO
        } else {
            guest.wait(ran, busy)
        };
        let readable = match wait_readable(socket.as_fd(), wait) {
            Ok(readable) => readable,
            Err(e) => return LinkError::Closed(io_kind(&e)),
        };
        if readable || more_inbound || last_poll.elapsed() >= KEEPALIVE_POLL {
            last_poll = std::time::Instant::now();
            match receive(conn, &mut inbound, guest) {
                Ok(more) => more_inbound = more,
                Err(e) => return e,
            }
        }
    }
}

/// Sends one transmit; [`LinkError::Busy`] if the link has no room for it now.
fn send(conn: &mut Connected<'_, '_, Tcp>, t: Transmit<'_>) -> Result<(), LinkError> {
    block_on(conn.send(t, IO_TIMEOUT))
}

/// The firmware's name for a socket error.
fn io_kind(e: &std::io::Error) -> embedded_io_async::ErrorKind {
    embedded_io_async::Error::kind(&net_host::NetError(e.kind()))
}

/// Serves the link without waiting: acknowledgements, keepalive, and inbound messages
/// (at most [`MESSAGES_PER_POLL`]) into the session. `Ok(true)` when it stopped at that
/// limit, so more may be waiting.
fn receive(
    conn: &mut Connected<'_, '_, Tcp>,
    inbound: &mut Inbound<128, 512>,
    guest: &mut HostGuest<'_>,
) -> Result<bool, LinkError> {
    for _ in 0..MESSAGES_PER_POLL {
        match block_on(conn.poll(inbound, Duration::from_ticks(0)))? {
            Received::Message => guest.on_message(&inbound.topic, &inbound.payload),
            // The link logged it; nothing reached the session.
            Received::Dropped { .. } => {}
            Received::Idle => return Ok(false),
        }
    }
    Ok(true)
}

/// The firmware's [`Guest`] with host-sim's batch size and waits.
struct HostGuest<'a> {
    guest: Guest<'a, Drive>,
}

impl HostGuest<'_> {
    /// Runs one batch (see [`Guest::step`]).
    fn step(&mut self) -> Ran {
        let max_batch = max_batch(self.guest.pacer());
        self.guest.step(max_batch)
    }

    /// Hands what is due to the link; `Ok(true)` when the link could not take it yet.
    fn flush(&mut self, conn: &mut Connected<'_, '_, Tcp>) -> Result<bool, LinkError> {
        self.guest.flush(|t| send(conn, t))
    }

    /// How long the loop may wait for the network after `ran`, given whether the link
    /// refused a transmit (`busy`): until the next deadline, at most [`IDLE_WAIT`] while
    /// the guest waits, and not at all while it is busy.
    fn wait(&mut self, ran: Ran, busy: bool) -> StdDuration {
        let guest = match ran {
            // The guest waits for the disk server: its reply wakes the socket.
            Ran::Monitor | Ran::Stopped(Stop::Idle | Stop::Halted | Stop::Storage) => IDLE_WAIT,
            // The output waits for the link: wait for its acknowledgements.
            Ran::Stopped(Stop::OutputFull) if busy => IDLE_WAIT,
            // The guest's pacer counts embassy-time's microseconds.
            Ran::Paced => pacing_wait(
                self.guest.pacer(),
                Instant::now().as_micros(),
                self.guest.machine().cpu.cycles,
            ),
            Ran::Stopped(_) => StdDuration::ZERO,
        };
        match self.guest.next_deadline_ms() {
            // A refused transmit stays due: retry after the link's next read, not at once.
            Some(_) if busy => guest,
            Some(at) => {
                let left = at.saturating_sub(net_host::now_ms());
                guest.min(StdDuration::from_millis(left))
            }
            None => guest,
        }
    }

    fn on_message(&mut self, topic: &str, payload: &[u8]) {
        self.guest.on_message(topic, payload);
    }

    /// Runs the guest without a connection until `until` (output is buffered).
    fn run_offline(&mut self, until: Instant) {
        while Instant::now() < until {
            let ran = self.step();
            let left = until.saturating_duration_since(Instant::now());
            let wait = self
                .wait(ran, false)
                .min(StdDuration::from_micros(left.as_micros()));
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        }
    }
}
