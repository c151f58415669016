//! A real Mosquitto for the MQTT tests: provisioned by `altair-cloud broker init`
//! (optionally on a copy of the development PKI the firmware is built with), and
//! `mosquitto_pub` / `mosquitto_sub` with device `CHANNEL`'s certificate. Every wait is
//! bounded; both are killed on drop.

use altair_cloud::programs::find_program;
use std::fs;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::thread;
use std::time::{Duration, Instant};

use altair_cloud::broker::{InitOptions, init};
use altair_pki::CertInfo;
use altair_sphere::config::CHANNEL;

/// How long anything that must happen may take.
pub const WAIT: Duration = Duration::from_secs(20);

/// Whether Mosquitto and its clients are installed; prints why `test` is skipped if not.
pub fn have_mosquitto(test: &str) -> bool {
    let missing = altair_cloud::programs::missing_mosquitto();
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
    altair_cloud::ports::reserve_port().expect("reserve a free port")
}

/// The folder the firmware's certificates were baked from (the development PKI).
pub fn dev_pki() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs/dev")
}

/// A PEM certificate file's DER.
pub fn pem_der(path: &Path) -> Vec<u8> {
    CertInfo::load(path).expect("certificate").der().to_vec()
}

/// A topic of channel `CHANNEL`: `altair/<CHANNEL>/<leaf>`.
pub fn topic(leaf: &str) -> String {
    format!("altair/{CHANNEL}/{leaf}")
}

/// A broker directory from `broker init` and Mosquitto running on it; killed on drop.
pub struct Broker {
    tmp: tempfile::TempDir,
    /// The broker directory (`ca.crt`, `devices/<id>.crt`, `mosquitto.conf`, ...).
    pub dir: PathBuf,
    /// The TLS port for devices.
    pub tls_port: u16,
    child: Child,
}

impl Broker {
    /// `broker init --host localhost --device <CHANNEL>` in a fresh directory; with
    /// `dev_ca`, the directory starts as a copy of the development PKI, so the broker
    /// trusts (and is trusted by) the certificates baked into the firmware.
    pub fn start(dev_ca: bool) -> Broker {
        let tmp = tempfile::tempdir().expect("tempdir");
        // Mosquitto drops root privileges to user mosquitto, which must enter the folder.
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let dir = tmp.path().join("broker");
        if dev_ca {
            copy_dev_pki(&dir);
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
            let rel = format!("devices/{CHANNEL}.crt");
            assert_eq!(
                pem_der(&dir.join(&rel)),
                pem_der(&dev_pki().join(&rel)),
                "broker init replaced the development device certificate: {report:?}"
            );
        }
        let child = altair_cloud::programs::start_mosquitto(
            &dir.join("mosquitto.conf"),
            &tmp.path().join("mosquitto.log"),
        )
        .expect("start mosquitto");
        let mut broker = Broker {
            tmp,
            dir,
            tls_port,
            child,
        };
        let deadline = Instant::now() + WAIT;
        for port in [local_port, tls_port, ws_port] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Ok(Some(status)) = broker.child.try_wait() {
                    panic!("mosquitto exited ({status}):\n{}", broker.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "mosquitto did not open port {port}"
                );
                thread::sleep(Duration::from_millis(20));
            }
        }
        broker
    }

    /// Mosquitto's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.tmp.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// A file in the broker directory, as a path string.
    pub fn path(&self, rel: &str) -> String {
        self.dir.join(rel).display().to_string()
    }

    /// `mosquitto_pub`/`mosquitto_sub` options: device `CHANNEL`'s certificate on the TLS
    /// port, as client `id`.
    pub fn client_args(&self, id: &str) -> Vec<String> {
        vec![
            "-h".into(),
            "localhost".into(),
            "-p".into(),
            self.tls_port.to_string(),
            "--cafile".into(),
            self.path("ca.crt"),
            "--cert".into(),
            self.path(&format!("devices/{CHANNEL}.crt")),
            "--key".into(),
            self.path(&format!("devices/{CHANNEL}.key")),
            "-i".into(),
            id.into(),
        ]
    }

    /// Publishes `message` on `topic` at QoS 1 with `mosquitto_pub`.
    pub fn publish(&self, topic: &str, message: &str) {
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

/// The development CA and device `CHANNEL`'s certificate and key, copied into `dir`.
fn copy_dev_pki(dir: &Path) {
    fs::create_dir_all(dir.join("devices")).expect("mkdir");
    fs::set_permissions(dir.join("devices"), fs::Permissions::from_mode(0o700)).expect("chmod");
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

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `mosquitto_sub` reported: a message, or any other line (its `-d` debug output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A message: its topic and payload.
    Message(String, Vec<u8>),
    /// Anything else.
    Other(String),
}

/// Parses a `%t %x` line (topic, then the payload in hex) or keeps it as it is.
fn parse_line(line: String) -> Line {
    let Some((topic, hex)) = line.split_once(' ') else {
        return Line::Other(line);
    };
    let payload: Option<Vec<u8>> = (hex.len() % 2 == 0 && topic.starts_with("altair/"))
        .then(|| {
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
                .collect()
        })
        .flatten();
    match payload {
        Some(payload) => Line::Message(topic.to_owned(), payload),
        None => Line::Other(line),
    }
}

/// A running `mosquitto_sub` (QoS 1, every message as topic and hex payload), its lines
/// read by threads; killed on drop.
pub struct Subscriber {
    child: Child,
    lines: Receiver<Line>,
    /// Everything seen so far, for failure messages.
    pub seen: Vec<Line>,
}

impl Subscriber {
    /// Subscribes to `topics` as client `id` and waits for the SUBACK.
    pub fn start(broker: &Broker, id: &str, topics: &[&str]) -> Subscriber {
        let sub = find_program("mosquitto_sub").expect("mosquitto_sub");
        let mut cmd = altair_cloud::programs::line_buffered(&sub);
        cmd.args(broker.client_args(id))
            .args(["-d", "-q", "1", "-F", "%t %x", "-W", "120"]);
        for t in topics {
            cmd.args(["-t", t]);
        }
        let (child, lines) =
            altair_cloud::programs::spawn_lines(cmd, parse_line).expect("start mosquitto_sub");
        let mut s = Subscriber {
            child,
            lines,
            seen: Vec::new(),
        };
        s.expect_line(
            |l| matches!(l, Line::Other(l) if l.starts_with("Subscribed")),
            "the SUBACK",
        );
        s
    }

    /// Waits (at most [`WAIT`]) for a line `want` accepts.
    pub fn expect_line(&mut self, want: impl Fn(&Line) -> bool, what: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
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

    /// Waits for the message `payload` on `topic`.
    pub fn expect(&mut self, topic: &str, payload: &str) {
        let want = Line::Message(topic.to_owned(), payload.as_bytes().to_vec());
        self.expect_line(|l| *l == want, &format!("{topic} {payload:?}"));
    }

    /// Waits until the text on `topic` since the last call contains `needle`; returns
    /// that text.
    pub fn expect_text(&mut self, topic: &str, needle: &str) -> String {
        let mut text = String::new();
        let deadline = Instant::now() + WAIT;
        while !text.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Line::Message(t, payload) = &line
                        && t == topic
                    {
                        text.push_str(&String::from_utf8_lossy(payload));
                    }
                    self.seen.push(line);
                }
                Err(_) => panic!("{needle:?} did not arrive on {topic}; got {text:?}"),
            }
        }
        text
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
