//! The firmware's transport (`altair_firmware::net`) against a real Mosquitto over mutual
//! TLS, from the host: the broker is provisioned by `altair-cloud broker init` from the
//! development CA the firmware is built with, and the device side is exactly the
//! firmware's code over a non-blocking `std::net::TcpStream`, driven by the firmware's
//! own `block_on`. Every wait is bounded; the tests skip (saying why) when Mosquitto is
//! not installed.

use std::fs;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::task::Poll;
use std::thread;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use altair_cloud::broker::{InitOptions, init};
use altair_firmware::net::{
    Connected, Credentials, Inbound, Link, LinkBuffers, LinkConfig, LinkError, QoS, Received,
    block_on,
};
use altair_pki::{Ca, CertInfo, Validity, private_key_der};
use altair_sphere::config::{CA_CERT_DER, CHANNEL, CLIENT_CERT_DER, CLIENT_KEY_DER};
use embassy_time::Duration;
use embedded_io_async::{ErrorKind, ErrorType};
use rand_core::OsRng;

/// How long anything that must happen may take.
const WAIT: StdDuration = StdDuration::from_secs(10);
/// The link's timeout for one handshake or write.
const IO: Duration = Duration::from_secs(10);

// ------------------------------------------------------------------ the byte stream

/// A `TcpStream` as the firmware's byte stream: non-blocking, `Pending` while there is
/// nothing to read (after a short sleep, since `block_on` polls again at once).
struct Tcp(TcpStream);

impl Tcp {
    fn connect(port: u16) -> Tcp {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to mosquitto");
        s.set_nodelay(true).expect("TCP_NODELAY");
        s.set_nonblocking(true).expect("non-blocking");
        Tcp(s)
    }
}

/// A socket error, by kind.
#[derive(Debug)]
struct NetError(std::io::ErrorKind);

impl std::fmt::Display for NetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::error::Error for NetError {}

impl embedded_io_async::Error for NetError {
    fn kind(&self) -> ErrorKind {
        match self.0 {
            std::io::ErrorKind::ConnectionReset => ErrorKind::ConnectionReset,
            std::io::ErrorKind::BrokenPipe => ErrorKind::BrokenPipe,
            _ => ErrorKind::Other,
        }
    }
}

impl ErrorType for Tcp {
    type Error = NetError;
}

/// Runs a non-blocking socket call, turning `WouldBlock` into `Pending`.
fn nonblocking<T>(r: std::io::Result<T>) -> Poll<Result<T, NetError>> {
    match r {
        Ok(v) => Poll::Ready(Ok(v)),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            thread::sleep(StdDuration::from_micros(50));
            Poll::Pending
        }
        Err(e) => Poll::Ready(Err(NetError(e.kind()))),
    }
}

impl embedded_io_async::Read for Tcp {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        std::future::poll_fn(|_| nonblocking(self.0.read(buf))).await
    }
}

impl embedded_io_async::Write for Tcp {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, NetError> {
        std::future::poll_fn(|_| nonblocking(self.0.write(buf))).await
    }

    async fn flush(&mut self) -> Result<(), NetError> {
        Ok(())
    }
}

// ------------------------------------------------------------------ the broker

/// Finds `name` in `PATH` or `/usr/sbin` (where Debian puts `mosquitto`).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Whether Mosquitto and its clients are installed; prints why `test` is skipped if not.
fn have_mosquitto(test: &str) -> bool {
    let missing: Vec<&str> = ["mosquitto", "mosquitto_pub", "mosquitto_sub"]
        .into_iter()
        .filter(|p| find_program(p).is_none())
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "SKIPPED {test}: {} not installed (scripts/install-deps.sh installs the \
             mosquitto and mosquitto-clients packages)",
            missing.join(", ")
        );
    }
    missing.is_empty()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// The folder the firmware's certificates were baked from (the development PKI).
fn dev_pki() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs/dev")
}

fn pem_der(path: &Path) -> Vec<u8> {
    CertInfo::load(path).expect("certificate").der().to_vec()
}

/// A broker directory from `broker init` and Mosquitto running on it; killed on drop.
struct Broker {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    tls_port: u16,
    child: Child,
}

impl Broker {
    /// `broker init --host localhost --device <CHANNEL>` in a fresh directory; with
    /// `dev_ca`, the directory starts as a copy of the development PKI, so the broker
    /// trusts (and is trusted by) the certificates baked into the firmware.
    fn start(dev_ca: bool) -> Broker {
        let tmp = tempfile::tempdir().expect("tempdir");
        // Mosquitto drops root privileges to user mosquitto, which must enter the folder.
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let dir = tmp.path().join("broker");
        if dev_ca {
            fs::create_dir_all(dir.join("devices")).expect("mkdir");
            fs::set_permissions(dir.join("devices"), fs::Permissions::from_mode(0o700))
                .expect("chmod");
            let src = dev_pki();
            for rel in [
                "ca.crt".to_owned(),
                "ca.key".to_owned(),
                format!("devices/{CHANNEL}.crt"),
                format!("devices/{CHANNEL}.key"),
            ] {
                fs::copy(src.join(&rel), dir.join(&rel)).expect("copy the dev PKI");
            }
        }
        let (tls_port, ws_port, local_port) = (free_port(), free_port(), free_port());
        let report = init(&InitOptions {
            dir: dir.clone(),
            host: "localhost".into(),
            devices: vec![CHANNEL.into()],
            web_user: None,
            tls_port: Some(tls_port),
            ws_port: Some(ws_port),
            local_port: Some(local_port),
            letsencrypt_dir: None,
        })
        .expect("broker init");
        if dev_ca {
            assert_eq!(
                pem_der(&dir.join(format!("devices/{CHANNEL}.crt"))),
                CLIENT_CERT_DER,
                "broker init replaced the baked device certificate: {report:?}"
            );
        }
        let log = fs::File::create(tmp.path().join("mosquitto.log")).expect("log");
        let child = Command::new(find_program("mosquitto").expect("mosquitto"))
            .arg("-c")
            .arg(dir.join("mosquitto.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start mosquitto");
        let mut broker = Broker {
            tmp,
            dir,
            tls_port,
            child,
        };
        let deadline = StdInstant::now() + WAIT;
        for port in [local_port, tls_port, ws_port] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Ok(Some(status)) = broker.child.try_wait() {
                    panic!("mosquitto exited ({status}):\n{}", broker.log());
                }
                assert!(
                    StdInstant::now() < deadline,
                    "mosquitto did not open port {port}"
                );
                thread::sleep(StdDuration::from_millis(20));
            }
        }
        broker
    }

    fn log(&self) -> String {
        fs::read_to_string(self.tmp.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// `mosquitto_pub`/`mosquitto_sub` options: device `CHANNEL`'s certificate on the TLS
    /// port, as client `id`.
    fn client_args(&self, id: &str) -> Vec<String> {
        let path = |rel: &str| self.dir.join(rel).display().to_string();
        vec![
            "-h".into(),
            "localhost".into(),
            "-p".into(),
            self.tls_port.to_string(),
            "--cafile".into(),
            path("ca.crt"),
            "--cert".into(),
            path(&format!("devices/{CHANNEL}.crt")),
            "--key".into(),
            path(&format!("devices/{CHANNEL}.key")),
            "-i".into(),
            id.into(),
        ]
    }

    /// Publishes `message` on `topic` at QoS 1 with `mosquitto_pub`.
    fn publish(&self, topic: &str, message: &str) {
        let out = Command::new(find_program("mosquitto_pub").expect("mosquitto_pub"))
            .args(self.client_args("test-pub"))
            .args(["-t", topic, "-m", message, "-q", "1"])
            .stdin(Stdio::null())
            .output()
            .expect("run mosquitto_pub");
        assert!(
            out.status.success(),
            "mosquitto_pub failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `mosquitto_sub -v`, its lines read by threads; killed on drop.
struct Subscriber {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Subscriber {
    fn start(broker: &Broker, topics: &[&str]) -> Subscriber {
        let sub = find_program("mosquitto_sub").expect("mosquitto_sub");
        // Line-buffer its stdout so each message is seen when it comes.
        let mut cmd = match find_program("stdbuf") {
            Some(stdbuf) => {
                let mut cmd = Command::new(stdbuf);
                cmd.arg("-oL").arg(sub);
                cmd
            }
            None => Command::new(sub),
        };
        cmd.args(broker.client_args("test-sub"))
            .args(["-d", "-v", "-q", "1", "-W", "30"]);
        for t in topics {
            cmd.args(["-t", t]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mosquitto_sub");
        let (tx, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let tx = tx.clone();
            thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let mut s = Subscriber {
            child,
            lines,
            seen: Vec::new(),
        };
        s.expect_line(|l| l.starts_with("Subscribed"), "the SUBACK");
        s
    }

    fn expect_line(&mut self, want: impl Fn(&str) -> bool, what: &str) {
        let deadline = StdInstant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(StdInstant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = want(&line);
                    self.seen.push(line);
                    if hit {
                        return;
                    }
                }
                Err(_) => panic!("{what} did not arrive; mosquitto_sub said {:#?}", self.seen),
            }
        }
    }

    /// Waits for the message line `topic payload`.
    fn expect(&mut self, topic: &str, payload: &str) {
        let line = format!("{topic} {payload}");
        self.expect_line(|l| l == line, &line);
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------ the device

fn topic(leaf: &str) -> String {
    format!("altair/{CHANNEL}/{leaf}")
}

/// The baked credentials, checked to be the development PKI's (the broker's CA).
fn baked() -> Option<Credentials<'static>> {
    let ca = dev_pki().join("ca.crt");
    if !ca.is_file() || pem_der(&ca) != CA_CERT_DER {
        eprintln!(
            "SKIPPED: this build's certificates are not the development PKI in {} \
             (ALTAIR_CERTS_DIR or a configuration file points elsewhere)",
            dev_pki().display()
        );
        return None;
    }
    Some(Credentials {
        ca_cert_der: CA_CERT_DER,
        client_cert_der: CLIENT_CERT_DER,
        client_key_der: CLIENT_KEY_DER,
    })
}

fn link_config<'a>(host: &'a str, status: &'a str, credentials: Credentials<'a>) -> LinkConfig<'a> {
    LinkConfig {
        host,
        client_id: "altair-device-test",
        status_topic: status,
        keepalive_secs: 30,
        session_expiry_secs: 600,
        credentials,
    }
}

/// Polls `conn` until a message arrives (bounded).
fn receive<S: embedded_io_async::Read + embedded_io_async::Write>(
    conn: &mut Connected<'_, '_, S>,
) -> Inbound {
    let mut inbound = Inbound::new();
    let deadline = StdInstant::now() + WAIT;
    while StdInstant::now() < deadline {
        match block_on(conn.poll(&mut inbound, Duration::from_millis(200))) {
            Ok(Received::Message) => return inbound,
            Ok(Received::Idle) => {}
            other => panic!("poll: {other:?}"),
        }
    }
    panic!("no message arrived");
}

/// Polls `conn` until the broker has acknowledged `op` (bounded).
fn settle<S: embedded_io_async::Read + embedded_io_async::Write>(
    conn: &mut Connected<'_, '_, S>,
    op: &altair_firmware::net::Pending,
) {
    let deadline = StdInstant::now() + WAIT;
    let mut inbound = Inbound::<128, 512>::new();
    while !conn.is_complete(op) {
        assert!(StdInstant::now() < deadline, "no acknowledgement");
        let r = block_on(conn.poll(&mut inbound, Duration::from_millis(50)));
        assert!(matches!(r, Ok(Received::Idle)), "{r:?}");
    }
}

/// Connects a link to `broker`; returns the error if it fails.
fn try_connect(broker: &Broker, config: LinkConfig<'_>) -> Result<(), LinkError> {
    let mut buffers = Box::new(LinkBuffers::new());
    let mut link = Link::new(&mut buffers, config)?;
    let conn = block_on(link.connect(Tcp::connect(broker.tls_port), &mut OsRng, IO))?;
    drop(conn);
    Ok(())
}

// ------------------------------------------------------------------ the tests

#[test]
fn device_talks_mqtt_over_mutual_tls_and_leaves_a_will() {
    if !have_mosquitto("device_talks_mqtt_over_mutual_tls_and_leaves_a_will") {
        return;
    }
    let Some(credentials) = baked() else { return };
    let broker = Broker::start(true);
    let (web, dev, status) = (topic("web"), topic("dev"), topic("status"));
    let mut sub = Subscriber::start(&broker, &[&web, &status]);

    let mut buffers = Box::new(LinkBuffers::new());
    let mut link =
        Link::new(&mut buffers, link_config("localhost", &status, credentials)).expect("link");
    {
        let mut conn = block_on(link.connect(Tcp::connect(broker.tls_port), &mut OsRng, IO))
            .unwrap_or_else(|e| panic!("connect: {e}\n{}", broker.log()));
        assert!(conn.fresh_session());
        sub.expect(&status, "online");

        let op = block_on(conn.subscribe(&[&dev], IO)).expect("subscribe");
        settle(&mut conn, &op);

        // Broker -> device, QoS 1.
        broker.publish(&dev, "DIR\r");
        let got = receive(&mut conn);
        assert_eq!(
            (got.topic.as_str(), &got.payload[..]),
            (dev.as_str(), &b"DIR\r"[..])
        );

        // Device -> broker, QoS 1 and QoS 0.
        let op = block_on(conn.publish(&web, b"A>", QoS::AtLeastOnce, false, IO))
            .expect("publish")
            .expect("a QoS 1 publish is tracked");
        settle(&mut conn, &op);
        sub.expect(&web, "A>");
        block_on(conn.publish(&web, b"fast", QoS::AtMostOnce, false, IO)).expect("publish");
        sub.expect(&web, "fast");

        // Dropped without DISCONNECT (the socket closes): the broker sends the will.
    }
    sub.expect(&status, "offline");

    // Typed while the device was away: kept by the persistent session and delivered
    // after the reconnect, which resumes the session (subscriptions included).
    broker.publish(&dev, "typed while offline");
    let mut conn = block_on(link.connect(Tcp::connect(broker.tls_port), &mut OsRng, IO))
        .unwrap_or_else(|e| panic!("reconnect: {e}\n{}", broker.log()));
    assert!(
        !conn.fresh_session(),
        "the broker should resume the session"
    );
    sub.expect(&status, "online");
    let got = receive(&mut conn);
    assert_eq!(&got.payload[..], b"typed while offline");

    // A polite goodbye leaves `offline` too, without the will.
    block_on(conn.disconnect(IO)).expect("disconnect");
    sub.expect(&status, "offline");
}

#[test]
fn a_broker_certificate_from_another_ca_is_refused() {
    if !have_mosquitto("a_broker_certificate_from_another_ca_is_refused") {
        return;
    }
    let Some(credentials) = baked() else { return };
    // No copy of the dev PKI: `broker init` makes a CA of its own.
    let broker = Broker::start(false);
    let status = topic("status");
    let r = try_connect(&broker, link_config("localhost", &status, credentials));
    assert!(matches!(r, Err(LinkError::ServerCertificate)), "{r:?}");
}

#[test]
fn a_broker_under_another_name_is_refused() {
    if !have_mosquitto("a_broker_under_another_name_is_refused") {
        return;
    }
    let Some(credentials) = baked() else { return };
    let broker = Broker::start(true);
    let status = topic("status");
    // The right CA and a reachable broker, but its certificate names `localhost`.
    let r = try_connect(
        &broker,
        link_config("broker.example.com", &status, credentials),
    );
    assert!(matches!(r, Err(LinkError::ServerCertificate)), "{r:?}");
}

#[test]
fn a_client_certificate_the_broker_does_not_trust_is_reported() {
    if !have_mosquitto("a_client_certificate_the_broker_does_not_trust_is_reported") {
        return;
    }
    let Some(credentials) = baked() else { return };
    let broker = Broker::start(true);
    // A device certificate for the right channel, from a CA the broker does not know.
    let rogue = Ca::generate("rogue CA", Validity::ca_default()).expect("CA");
    let issued = rogue
        .issue_client(CHANNEL, Validity::leaf_default())
        .expect("issue");
    let cert_der = CertInfo::parse(&issued.cert_pem, Path::new("rogue.crt"))
        .expect("parse")
        .der()
        .to_vec();
    let key_der = private_key_der(&issued.key_pem, Path::new("rogue.key")).expect("key");
    let status = topic("status");
    let r = try_connect(
        &broker,
        link_config(
            "localhost",
            &status,
            Credentials {
                client_cert_der: &cert_der,
                client_key_der: &key_der,
                ..credentials
            },
        ),
    );
    assert!(
        matches!(r, Err(LinkError::ClientCertificateRejected)),
        "{r:?}"
    );
}
