//! `altair-cloud doctor` against a real Mosquitto started from what `broker init` wrote,
//! on free loopback ports: a healthy directory passes every check, and each broken thing
//! (a server certificate for another host, a device certificate from another CA, an
//! expired device certificate, a stopped broker, a wrong web password, open key
//! permissions) makes the line for it fail and name the fault.
//!
//! Needs `/usr/sbin/mosquitto` (Debian's `mosquitto` package); without it the tests that
//! need a broker say so and pass. Every wait is bounded, and the broker is killed when a
//! test ends, however it ends.

use std::fs;
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use altair_cloud::doctor::{self, Check, Report, Status};
use altair_pki::{Ca, Validity};

/// Where Debian installs the broker.
const MOSQUITTO: &str = "/usr/sbin/mosquitto";
/// How long the broker may take to open its listeners.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// The web user's password in the fixtures.
const PASSWORD: &str = "correct horse battery staple";

/// True if Mosquitto is installed; otherwise says the test is skipped.
fn have_mosquitto(test: &str) -> bool {
    let found = Path::new(MOSQUITTO).exists();
    if !found {
        eprintln!("SKIP {test}: {MOSQUITTO} is missing (apt-get install mosquitto)");
    }
    found
}

/// A running Mosquitto, killed when dropped.
struct Broker {
    child: Child,
    log: PathBuf,
}

impl Broker {
    /// What the broker wrote to stderr so far, for failure messages.
    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The three listener ports of a fixture.
#[derive(Clone, Copy, Debug)]
struct Ports {
    tls: u16,
    ws: u16,
    local: u16,
}

/// Three distinct free ports reserved for this test process.
fn free_ports() -> Ports {
    let port = || altair_cloud::ports::reserve_port().expect("reserve a free port");
    Ports {
        tls: port(),
        ws: port(),
        local: port(),
    }
}

/// A broker directory made by `altair-cloud broker init`, with host `localhost`.
struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    ports: Ports,
    /// Holds the web user's password.
    password_file: PathBuf,
}

/// Runs the `altair-cloud` binary.
fn altair_cloud(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_altair-cloud"))
        .args(args)
        .output()
        .expect("run altair-cloud")
}

impl Fixture {
    /// `broker init DIR --host localhost --device ...` with web user `ada` on free ports.
    fn new(devices: &[&str]) -> Self {
        let tmp = tempfile::tempdir().expect("temporary directory");
        // Mosquitto started as root switches to user mosquitto, which must be able to
        // enter the directories above the broker directory.
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let dir = tmp.path().join("broker");
        let password_file = tmp.path().join("password");
        fs::write(&password_file, format!("{PASSWORD}\n")).expect("write password");
        let ports = free_ports();
        let (tls, ws, local) = (
            ports.tls.to_string(),
            ports.ws.to_string(),
            ports.local.to_string(),
        );
        let dir_arg = dir.to_str().expect("UTF-8 path");
        let pw_arg = password_file.to_str().expect("UTF-8 path");
        let mut args = vec!["broker", "init", dir_arg, "--host", "localhost"];
        for device in devices {
            args.extend(["--device", device]);
        }
        args.extend(["--web-user", "ada", "--web-password-file", pw_arg]);
        args.extend(["--tls-port", &tls, "--ws-port", &ws, "--local-port", &local]);
        let out = altair_cloud(&args);
        assert!(
            out.status.success(),
            "broker init failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            _tmp: tmp,
            dir,
            ports,
            password_file,
        }
    }

    /// Starts `mosquitto -c DIR/mosquitto.conf` and waits until all three listeners
    /// accept connections.
    fn start(&self) -> Broker {
        let log = self.dir.with_file_name("mosquitto.log");
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start mosquitto");
        let mut broker = Broker { child, log };
        let deadline = Instant::now() + START_TIMEOUT;
        for port in [self.ports.tls, self.ports.ws, self.ports.local] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                let exited = broker.child.try_wait().ok().flatten();
                assert!(
                    exited.is_none() && Instant::now() < deadline,
                    "mosquitto did not open port {port} ({exited:?}):\n{}",
                    broker.log()
                );
                sleep(Duration::from_millis(50));
            }
        }
        broker
    }

    /// Runs the doctor (as a library call), with the web password file if given.
    fn doctor(&self, password_file: Option<&Path>) -> Report {
        let report = doctor::check(&self.dir, password_file).expect("the doctor runs");
        println!("{report}");
        report
    }

    /// Writes a file holding `password`, for the web login check.
    fn password(&self, password: &str) -> PathBuf {
        let path = self.dir.with_file_name("other-password");
        fs::write(&path, format!("{password}\n")).expect("write password");
        path
    }

    /// Replaces a certificate and key with `issued`, keeping the old files' owner (the
    /// broker user must still be able to read a replaced server key).
    fn replace(&self, cert: &str, key: &str, issued: &altair_pki::Issued) {
        let (cert, key) = (self.dir.join(cert), self.dir.join(key));
        let owner = |p: &Path| {
            let meta = fs::metadata(p).expect("existing file");
            (meta.uid(), meta.gid())
        };
        let (cert_owner, key_owner) = (owner(&cert), owner(&key));
        issued
            .write(&cert, &key)
            .expect("write certificate and key");
        std::os::unix::fs::chown(&cert, Some(cert_owner.0), Some(cert_owner.1)).expect("chown");
        std::os::unix::fs::chown(&key, Some(key_owner.0), Some(key_owner.1)).expect("chown");
    }

    /// The CA `broker init` made.
    fn ca(&self) -> Ca {
        Ca::load(&self.dir).expect("the directory's CA")
    }
}

/// The line whose check name is `name`, or a failure showing the whole report.
fn line<'r>(report: &'r Report, name: &str) -> &'r Check {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no line {name:?} in:\n{report}"))
}

/// Asserts the line `name` has `status` and its text (detail and fix) contains each of
/// `words`.
fn expect(report: &Report, name: &str, status: Status, words: &[&str]) {
    let check = line(report, name);
    let text = check.to_string();
    assert_eq!(check.status, status, "{text}\nin:\n{report}");
    for word in words {
        assert!(
            text.contains(word),
            "{word:?} not in: {text}\nin:\n{report}"
        );
    }
}

#[test]
fn a_healthy_broker_passes_every_check() {
    if !have_mosquitto("a_healthy_broker_passes_every_check") {
        return;
    }
    let fx = Fixture::new(&["kitchen", "lab"]);
    let broker = fx.start();
    let report = fx.doctor(Some(&fx.password_file));
    let not_passed: Vec<String> = report
        .checks
        .iter()
        .filter(|c| c.status != Status::Pass)
        .map(Check::to_string)
        .collect();
    assert!(
        not_passed.is_empty(),
        "{not_passed:#?}\nbroker log:\n{}",
        broker.log()
    );
    assert!(report.ok());
    for name in [
        "files",
        "key permissions",
        "server certificate chain",
        "server certificate name",
        "device \"kitchen\" certificate name",
        "device \"lab\" MQTT over TLS",
        "web login",
        "local listener",
        "web passwords",
    ] {
        expect(&report, name, Status::Pass, &[]);
    }
    expect(
        &report,
        "device \"kitchen\" MQTT over TLS",
        Status::Pass,
        &["altair/kitchen/doctor"],
    );

    // Without a password the login is skipped, saying how to enable it.
    let report = fx.doctor(None);
    assert!(report.ok(), "{report}");
    expect(&report, "web login", Status::Skip, &["--web-password-file"]);

    // The command prints the same lines and exits with success.
    let out = altair_cloud(&["doctor", fx.dir.to_str().expect("UTF-8")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("PASS device \"lab\" MQTT over TLS"),
        "{stdout}"
    );
}

#[test]
fn broken_device_certificates_are_named() {
    if !have_mosquitto("broken_device_certificates_are_named") {
        return;
    }
    let fx = Fixture::new(&["good", "foreign", "old"]);
    let other_ca = Ca::generate("some other CA", Validity::ca_default()).expect("CA");
    let foreign = other_ca
        .issue_client("foreign", Validity::leaf_default())
        .expect("issue");
    fx.replace("devices/foreign.crt", "devices/foreign.key", &foreign);
    let expired = fx
        .ca()
        .issue_client("old", Validity::expired())
        .expect("issue");
    fx.replace("devices/old.crt", "devices/old.key", &expired);
    let _broker = fx.start();
    let report = fx.doctor(Some(&fx.password_file));
    assert!(!report.ok());

    expect(&report, "device \"good\" MQTT over TLS", Status::Pass, &[]);
    expect(
        &report,
        "device \"foreign\" certificate chain",
        Status::Fail,
        &[
            "devices/foreign.crt is not signed by",
            "ca.crt",
            "broker init",
        ],
    );
    expect(
        &report,
        "device \"foreign\" MQTT over TLS",
        Status::Fail,
        &[
            "rejected the client certificate",
            "devices/foreign.crt",
            "UnknownCA",
        ],
    );
    expect(
        &report,
        "device \"old\" certificate dates",
        Status::Fail,
        &["expired on", "devices/old.crt"],
    );
    expect(
        &report,
        "device \"old\" MQTT over TLS",
        Status::Fail,
        &["devices/old.crt has expired"],
    );
    // Nothing else is blamed.
    expect(&report, "server certificate name", Status::Pass, &[]);
    expect(&report, "web login", Status::Pass, &[]);
}

#[test]
fn a_server_certificate_for_another_host_is_named() {
    if !have_mosquitto("a_server_certificate_for_another_host_is_named") {
        return;
    }
    let fx = Fixture::new(&["kitchen"]);
    let wrong = fx
        .ca()
        .issue_server("other.example", Validity::leaf_default())
        .expect("issue");
    fx.replace("server.crt", "server.key", &wrong);
    let _broker = fx.start();
    let report = fx.doctor(Some(&fx.password_file));
    expect(
        &report,
        "server certificate name",
        Status::Fail,
        &[
            "\"other.example\"",
            "the host is \"localhost\"",
            "altair-cloud broker init",
            "--host localhost",
        ],
    );
    // The live connections fail for the same reason, and say so.
    for name in ["device \"kitchen\" MQTT over TLS", "web login"] {
        expect(
            &report,
            name,
            Status::Fail,
            &["not valid for \"localhost\"", "server.crt"],
        );
    }
    expect(&report, "server certificate chain", Status::Pass, &[]);
}

#[test]
fn a_stopped_broker_is_named() {
    if !have_mosquitto("a_stopped_broker_is_named") {
        return;
    }
    let fx = Fixture::new(&["kitchen"]);
    {
        // Started once and stopped: the directory is fine, nothing listens.
        let _broker = fx.start();
    }
    let report = fx.doctor(Some(&fx.password_file));
    assert!(!report.ok());
    let fix = [
        "connection refused",
        "is mosquitto running?",
        "systemctl status altair-mosquitto",
        "mosquitto -c",
    ];
    expect(&report, "device listener", Status::Fail, &fix);
    expect(&report, "web login", Status::Fail, &fix);
    expect(&report, "local listener", Status::Fail, &fix);
    expect(&report, "server certificate name", Status::Pass, &[]);

    // The command exits with failure and prints the FAIL lines.
    let out = altair_cloud(&["doctor", fx.dir.to_str().expect("UTF-8")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("FAIL device listener: connection refused"),
        "{stdout}"
    );
}

#[test]
fn a_wrong_web_password_is_named() {
    if !have_mosquitto("a_wrong_web_password_is_named") {
        return;
    }
    let fx = Fixture::new(&["kitchen"]);
    let _broker = fx.start();
    let wrong = fx.password("not the password");
    let report = fx.doctor(Some(&wrong));
    expect(
        &report,
        "web passwords",
        Status::Fail,
        &[
            "is not web user ada's",
            "--web-user ada --web-password-file",
        ],
    );
    expect(
        &report,
        "web login",
        Status::Fail,
        &["refused the MQTT login of web user ada", "mosquitto_passwd"],
    );
    expect(
        &report,
        "device \"kitchen\" MQTT over TLS",
        Status::Pass,
        &[],
    );

    // The password is changed in DIR/passwd, but the running broker still has the old one.
    let dir = fx.dir.to_str().expect("UTF-8");
    let new_pw = wrong.to_str().expect("UTF-8");
    let (tls, ws, local) = (
        fx.ports.tls.to_string(),
        fx.ports.ws.to_string(),
        fx.ports.local.to_string(),
    );
    let out = altair_cloud(&[
        "broker",
        "init",
        dir,
        "--host",
        "localhost",
        "--device",
        "kitchen",
        "--web-user",
        "ada",
        "--web-password-file",
        new_pw,
        "--tls-port",
        &tls,
        "--ws-port",
        &ws,
        "--local-port",
        &local,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = fx.doctor(Some(&wrong));
    expect(&report, "web passwords", Status::Pass, &[]);
    expect(
        &report,
        "web login",
        Status::Fail,
        &[
            "the running broker has not loaded it",
            "systemctl restart altair-mosquitto",
        ],
    );
}

#[test]
fn open_key_permissions_and_missing_files_are_named() {
    // Offline checks only: no broker needed (the network lines fail, which is fine).
    let fx = Fixture::new(&["kitchen"]);
    let key = fx.dir.join("devices/kitchen.key");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).expect("chmod");
    fs::remove_file(fx.dir.join("acl")).expect("remove acl");
    let report = doctor::check(&fx.dir, None).expect("the doctor runs");
    expect(
        &report,
        "key permissions",
        Status::Fail,
        &[
            "devices/kitchen.key is 0644",
            "chmod 600",
            "devices/kitchen.key",
        ],
    );
    expect(
        &report,
        "files",
        Status::Fail,
        &["acl missing", "altair-cloud broker init"],
    );
}

#[test]
fn a_directory_without_a_record_is_an_error() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let err = doctor::check(tmp.path(), None).expect_err("no broker.toml");
    assert!(err.to_string().contains("broker init"), "{err}");
    let err = doctor::check(&tmp.path().join("missing"), None).expect_err("no directory");
    assert!(err.to_string().contains("not a directory"), "{err}");
}

#[test]
fn a_directory_the_broker_user_cannot_enter_is_named() {
    let fx = Fixture::new(&["kitchen"]);
    let conf = fs::read_to_string(fx.dir.join("mosquitto.conf")).expect("mosquitto.conf");
    if !conf.lines().any(|l| l.starts_with("user ")) {
        eprintln!("SKIP: init ran without root, so Mosquitto does not switch users");
        return;
    }
    // The temporary directory above the broker directory, private to root again.
    let parent = fx.dir.parent().expect("parent");
    fs::set_permissions(parent, fs::Permissions::from_mode(0o700)).expect("chmod");
    let report = doctor::check(&fx.dir, None).expect("the doctor runs");
    let parent = parent.display().to_string();
    expect(
        &report,
        "broker file access",
        Status::Fail,
        &["cannot enter", &parent, &format!("chmod o+x {parent}")],
    );
}
