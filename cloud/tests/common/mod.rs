//! Shared test helpers: a broker directory made by the real `altair-cloud broker init`,
//! a real Mosquitto started from it on free loopback ports (killed on drop), and Debian's
//! `mosquitto_pub`/`mosquitto_sub` as device clients. Every wait is bounded.

#![allow(dead_code)] // Each test file uses a different part.

pub mod mqtt_ws;

use altair_cloud::programs::find_program;
use std::fs;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::Receiver;
use std::thread;
use std::time::{Duration, Instant};

/// The password of the web user `ada` in every fixture.
pub const WEB_PASSWORD: &str = "correct horse battery staple";

/// How long a message that must arrive may take.
pub const ARRIVE: Duration = Duration::from_secs(5);

/// Whether Mosquitto and its clients are installed; prints why a test is skipped if not.
pub fn have_mosquitto(test: &str) -> bool {
    let missing = altair_cloud::programs::missing_mosquitto();
    if missing.is_empty() {
        true
    } else {
        eprintln!(
            "SKIPPED {test}: {} not installed (scripts/install-deps.sh installs the \
             mosquitto and mosquitto-clients packages)",
            missing.join(", ")
        );
        false
    }
}

/// A free port reserved for this test process.
pub fn free_port() -> u16 {
    altair_cloud::ports::reserve_port().expect("reserve a free port")
}

/// A [`Fixture`] with the given devices and Mosquitto running on it, or `None` (the
/// test `test` is skipped, saying why) when Mosquitto is not installed.
pub fn running(test: &str, devices: &[&str]) -> Option<(Fixture, Broker)> {
    if !have_mosquitto(test) {
        return None;
    }
    let fixture = Fixture::new(devices);
    let broker = fixture.start();
    Some((fixture, broker))
}

/// A broker directory made by `altair-cloud broker init`.
pub struct Fixture {
    /// Keeps the temporary directory alive.
    pub tmp: tempfile::TempDir,
    /// The broker directory.
    pub dir: PathBuf,
    /// The device listener's port.
    pub tls_port: u16,
    /// The browser listener's port.
    pub ws_port: u16,
    /// The local listener's port.
    pub local_port: u16,
}

/// Runs the `altair-cloud` binary; returns its output.
pub fn altair_cloud(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_altair-cloud"))
        .args(args)
        .output()
        .expect("run altair-cloud")
}

impl Fixture {
    /// `broker init` with host `localhost`, the given devices, and web user `ada`
    /// (password [`WEB_PASSWORD`]) granted all of them, on free ports.
    pub fn new(devices: &[&str]) -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        // The broker drops root privileges to user mosquitto, which must be able to
        // enter the directory, whatever the umask made of it.
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let dir = tmp.path().join("broker");
        let fixture = Fixture {
            dir,
            tls_port: free_port(),
            ws_port: free_port(),
            local_port: free_port(),
            tmp,
        };
        let pw = fixture.write_secret("ada.pw", &format!("{WEB_PASSWORD}\n"));
        let mut args = vec![
            "broker".to_owned(),
            "init".into(),
            fixture.dir.display().to_string(),
            "--host".into(),
            "localhost".into(),
            "--web-user".into(),
            "ada".into(),
            "--web-password-file".into(),
            pw.display().to_string(),
            "--tls-port".into(),
            fixture.tls_port.to_string(),
            "--ws-port".into(),
            fixture.ws_port.to_string(),
            "--local-port".into(),
            fixture.local_port.to_string(),
        ];
        for d in devices {
            args.extend(["--device".into(), (*d).to_owned()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = altair_cloud(&args);
        assert!(
            out.status.success(),
            "broker init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        fixture
    }

    /// Runs `broker init` on the directory again with `args`; asserts that it succeeds and
    /// returns what it printed.
    pub fn init_again(&self, args: &[&str]) -> String {
        let dir = self.dir.display().to_string();
        let out = altair_cloud(&[&["broker", "init", &dir], args].concat());
        assert!(
            out.status.success(),
            "broker init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Writes a file outside the broker directory (e.g. a password file); returns its path.
    pub fn write_secret(&self, name: &str, content: &str) -> PathBuf {
        let path = self.tmp.path().join(name);
        fs::write(&path, content).expect("write");
        path
    }

    /// A path inside the broker directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Starts Mosquitto with the generated configuration.
    pub fn start(&self) -> Broker {
        Broker::start(
            &self.path("mosquitto.conf"),
            &[self.local_port, self.tls_port, self.ws_port],
            &self.tmp.path().join("mosquitto.log"),
        )
    }

    /// TLS options for `mosquitto_pub`/`mosquitto_sub` as device `id`, on the device port.
    pub fn device_args(&self, id: &str) -> Vec<String> {
        self.tls_args(
            &self.path(&format!("devices/{id}.crt")),
            &self.path(&format!("devices/{id}.key")),
        )
    }

    /// TLS options with the given client certificate and key, on the device port.
    pub fn tls_args(&self, cert: &Path, key: &Path) -> Vec<String> {
        let mut args = self.no_cert_args();
        args.extend([
            "--cert".into(),
            cert.display().to_string(),
            "--key".into(),
            key.display().to_string(),
        ]);
        args
    }

    /// TLS options without a client certificate, on the device port.
    pub fn no_cert_args(&self) -> Vec<String> {
        vec![
            "-h".into(),
            "localhost".into(),
            "-p".into(),
            self.tls_port.to_string(),
            "--cafile".into(),
            self.path("ca.crt").display().to_string(),
        ]
    }

    /// Options for the plain local listener.
    pub fn local_args(&self) -> Vec<String> {
        vec![
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            self.local_port.to_string(),
        ]
    }
}

/// A running Mosquitto, killed when dropped.
pub struct Broker {
    child: Child,
    log: PathBuf,
}

impl Broker {
    /// Starts `mosquitto -c conf` and waits (at most 10 s) until every port accepts.
    pub fn start(conf: &Path, ports: &[u16], log: &Path) -> Broker {
        let child = altair_cloud::programs::start_mosquitto(conf, log).expect("start mosquitto");
        let mut broker = Broker {
            child,
            log: log.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        for &port in ports {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Ok(Some(status)) = broker.child.try_wait() {
                    panic!("mosquitto exited ({status}):\n{}", broker.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "mosquitto did not open port {port} in 10 s:\n{}",
                    broker.log()
                );
                thread::sleep(Duration::from_millis(20));
            }
        }
        broker
    }

    /// Mosquitto's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `mosquitto_pub` (with a 10 s limit); returns (success, stdout + stderr).
pub fn publish(args: &[String], topic: &str, message: &str, extra: &[&str]) -> (bool, String) {
    let out = Command::new(find_program("mosquitto_pub").expect("mosquitto_pub"))
        .args(args)
        .args(["-t", topic, "-m", message, "-q", "1"])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("run mosquitto_pub");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A running `mosquitto_sub -d -v`, its output lines read by a thread; killed on drop.
pub struct Subscriber {
    child: Child,
    lines: Receiver<String>,
    /// Every line seen so far.
    pub seen: Vec<String>,
}

impl Subscriber {
    /// Starts `mosquitto_sub` with `args`, subscribed to `topics`; it exits by itself
    /// after 15 s at most.
    pub fn start(args: &[String], topics: &[&str]) -> Subscriber {
        let sub = find_program("mosquitto_sub").expect("mosquitto_sub");
        let mut cmd = altair_cloud::programs::line_buffered(&sub);
        cmd.args(args).args(["-d", "-v", "-W", "15"]);
        for t in topics {
            cmd.args(["-t", t]);
        }
        let (child, lines) =
            altair_cloud::programs::spawn_lines(cmd, |line| line).expect("start mosquitto_sub");
        Subscriber {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits up to `timeout` for a line satisfying `want`; returns it.
    pub fn wait_for(&mut self, timeout: Duration, want: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if want(&line) {
                        return Some(line);
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// Waits (at most 5 s) for the SUBACK; returns the "Subscribed (mid: 1): ..." line.
    pub fn subscribed(&mut self) -> String {
        self.wait_for(Duration::from_secs(5), |l| l.starts_with("Subscribed"))
            .unwrap_or_else(|| panic!("no SUBACK; output: {:#?}", self.seen))
    }

    /// Waits (at most [`ARRIVE`]) for the line `want` (a message is `topic payload`);
    /// panics with the output so far if it does not come.
    pub fn expect(&mut self, want: &str) {
        if self.wait_for(ARRIVE, |l| l == want).is_none() {
            panic!("{want:?} did not arrive; output: {:#?}", self.seen);
        }
    }

    /// Whether a message line `topic payload` was seen.
    pub fn saw(&self, topic: &str, payload: &str) -> bool {
        let line = format!("{topic} {payload}");
        self.seen.contains(&line)
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
