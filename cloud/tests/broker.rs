//! `altair-cloud broker init` against a real Mosquitto started from the generated
//! configuration on free loopback ports. Tests that need Mosquitto skip (with a message)
//! when it is not installed.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::time::Duration;

use altair_cloud::broker::record::BrokerRecord;
use altair_pki::{Ca, CertInfo, Validity};
use common::mqtt_ws::WsClient;
use common::{
    ARRIVE, Fixture, Subscriber, WEB_PASSWORD, altair_cloud, have_mosquitto, publish, running,
};

/// How long a message that must not arrive is given to arrive anyway, after its control
/// message (published later) has arrived.
const GRACE: Duration = Duration::from_millis(300);

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The uid of user `mosquitto`, if it exists.
fn mosquitto_uid() -> Option<u32> {
    let text = fs::read_to_string("/etc/passwd").ok()?;
    altair_cloud::broker::owner::find_user(&text, "mosquitto").map(|u| u.uid)
}

#[test]
fn init_writes_the_contract_files_with_safe_modes() {
    let f = Fixture::new(&["d1", "d2"]);
    for rel in [
        "ca.crt",
        "ca.key",
        "server.crt",
        "server.key",
        "devices/d1.crt",
        "devices/d1.key",
        "devices/d2.crt",
        "devices/d2.key",
        "mosquitto.conf",
        "passwd",
        "acl",
        "acl-web",
        "acl-local",
        "systemd/altair-mosquitto.service",
        "systemd/altair-vdisk.service",
        "README.md",
        "broker.toml",
        "web/index.html",
        "web/app.js",
        "web/app.css",
        "web/config.json",
    ] {
        assert!(f.path(rel).is_file(), "{rel} missing");
    }
    assert!(f.path("data").is_dir() && f.path("disks").is_dir());
    for secret in [
        "ca.key",
        "server.key",
        "devices/d1.key",
        "passwd",
        "acl",
        "acl-web",
    ] {
        assert_eq!(mode(&f.path(secret)), 0o600, "{secret}");
    }
    assert_eq!(mode(&f.path("devices")), 0o700);
    assert_eq!(mode(&f.path("data")), 0o700);
    assert_eq!(mode(&f.path("ca.crt")), 0o644);
    assert_eq!(mode(&f.path("mosquitto.conf")), 0o644);
    // The browser terminal, for a static host, with this broker as its login default,
    // and the README on serving it.
    assert_eq!(mode(&f.path("web/app.js")), 0o644);
    let readme = fs::read_to_string(f.path("README.md")).unwrap();
    assert!(
        readme.contains("## Browser terminal")
            && readme.contains(&format!("`wss://localhost:{}`", f.ws_port))
            && readme.contains("over HTTPS"),
        "{readme}"
    );
    assert_eq!(
        fs::read_to_string(f.path("web/config.json")).unwrap(),
        format!(
            "{{\"broker\": \"wss://localhost:{}\", \"user\": \"ada\", \"channel\": \"d1\"}}\n",
            f.ws_port
        )
    );

    let conf = fs::read_to_string(f.path("mosquitto.conf")).unwrap();
    match (is_root(), mosquitto_uid()) {
        (true, Some(uid)) => {
            assert!(conf.contains("\nuser mosquitto\n"), "{conf}");
            for rel in [
                "server.key",
                "passwd",
                "acl",
                "acl-web",
                "acl-local",
                "data",
            ] {
                assert_eq!(fs::metadata(f.path(rel)).unwrap().uid(), uid, "{rel}");
            }
            for rel in ["ca.key", "devices/d1.key", "devices"] {
                assert_eq!(fs::metadata(f.path(rel)).unwrap().uid(), 0, "{rel}");
            }
        }
        (false, _) => assert!(!conf.contains("\nuser "), "{conf}"),
        (true, None) => {}
    }
    // Absolute paths everywhere.
    for line in conf
        .lines()
        .filter(|l| l.contains("file ") || l.contains("location "))
    {
        let path = line.split_once(' ').unwrap().1;
        assert!(path.starts_with('/'), "{line}");
    }

    let record = BrokerRecord::load(&f.dir).unwrap();
    assert_eq!(record.host, "localhost");
    assert_eq!(
        (record.tls_port, record.ws_port, record.local_port),
        (f.tls_port, f.ws_port, f.local_port)
    );
    assert_eq!(record.devices, ["d1", "d2"]);
    assert_eq!(record.web_users[0].name, "ada");
    assert_eq!(record.web_users[0].devices, ["d1", "d2"]);

    // The certificates say what they should.
    let ca = CertInfo::load(&f.path("ca.crt")).unwrap();
    let server = CertInfo::load(&f.path("server.crt")).unwrap();
    assert_eq!(server.dns_names, ["localhost"]);
    server.check_signed_by(&ca).unwrap();
    let d1 = CertInfo::load(&f.path("devices/d1.crt")).unwrap();
    assert_eq!(d1.common_name.as_deref(), Some("d1"));
    d1.check_signed_by(&ca).unwrap();

    // The password is in no file of the directory, not even hashed in the clear.
    let mut stack = vec![f.dir.clone()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = fs::read(&path).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                assert!(!text.contains(WEB_PASSWORD), "{}", path.display());
            }
        }
    }
    let passwd = fs::read_to_string(f.path("passwd")).unwrap();
    assert!(passwd.starts_with("ada:$7$101$"), "{passwd}");

    let units = fs::read_to_string(f.path("systemd/altair-vdisk.service")).unwrap();
    assert!(units.contains(&format!(
        "--broker mqtt://127.0.0.1:{} --dir {} --all",
        f.local_port,
        f.path("disks").display()
    )));
}

#[test]
fn device_certificate_connects_on_the_tls_port() {
    let Some((f, _broker)) = running("device_certificate_connects_on_the_tls_port", &["d1"]) else {
        return;
    };
    let mut sub = Subscriber::start(&f.device_args("d1"), &["altair/d1/#"]);
    assert_eq!(sub.subscribed(), "Subscribed (mid: 1): 0");
    let (ok, out) = publish(&f.device_args("d1"), "altair/d1/web", "hello", &[]);
    assert!(ok, "{out}");
    sub.expect("altair/d1/web hello");
}

#[test]
fn tls_listener_refuses_no_certificate_other_ca_expired_and_tls12() {
    let Some((f, broker)) = running(
        "tls_listener_refuses_no_certificate_other_ca_expired_and_tls12",
        &["d1"],
    ) else {
        return;
    };

    // No certificate: an anonymous client.
    let (ok, out) = publish(&f.no_cert_args(), "altair/d1/web", "x", &[]);
    assert!(!ok, "no certificate was accepted: {out}");

    // A certificate for the same device id from another CA.
    let other = Ca::generate("another CA", Validity::ca_default()).unwrap();
    let forged = other.issue_client("d1", Validity::leaf_default()).unwrap();
    let (crt, key) = (
        f.tmp.path().join("forged.crt"),
        f.tmp.path().join("forged.key"),
    );
    forged.write(&crt, &key).unwrap();
    let (ok, out) = publish(&f.tls_args(&crt, &key), "altair/d1/web", "x", &[]);
    assert!(!ok, "another CA's certificate was accepted: {out}");

    // An expired certificate from the right CA.
    let ca = Ca::load(&f.dir).unwrap();
    let old = ca.issue_client("d1", Validity::expired()).unwrap();
    let (crt, key) = (f.tmp.path().join("old.crt"), f.tmp.path().join("old.key"));
    old.write(&crt, &key).unwrap();
    let (ok, out) = publish(&f.tls_args(&crt, &key), "altair/d1/web", "x", &[]);
    assert!(!ok, "an expired certificate was accepted: {out}");

    // TLS 1.2 with a good certificate: below the listener's minimum. (mosquitto_pub's
    // --tls-version is a minimum too, so it would negotiate 1.3: use openssl.)
    match altair_cloud::programs::find_program("openssl") {
        Some(openssl) => {
            let out = std::process::Command::new(openssl)
                .args(["s_client", "-connect", &format!("127.0.0.1:{}", f.tls_port)])
                .args(["-tls1_2", "-servername", "localhost", "-CAfile"])
                .arg(f.path("ca.crt"))
                .arg("-cert")
                .arg(f.path("devices/d1.crt"))
                .arg("-key")
                .arg(f.path("devices/d1.key"))
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("alert protocol version"),
                "TLS 1.2 was not refused: {text}"
            );
        }
        None => eprintln!("openssl not installed: the TLS 1.2 refusal is not checked"),
    }

    // Control: the good certificate works on the same broker.
    let (ok, out) = publish(&f.device_args("d1"), "altair/d1/web", "x", &[]);
    assert!(ok, "{out}\n{}", broker.log());
    let log = broker.log();
    assert!(log.contains("peer did not return a certificate"), "{log}");
    assert!(log.contains("certificate verify failed"), "{log}");
}

#[test]
fn web_user_logs_in_over_websockets_only_with_the_right_password() {
    let Some((f, broker)) = running(
        "web_user_logs_in_over_websockets_only_with_the_right_password",
        &["d1"],
    ) else {
        return;
    };
    let ca = f.path("ca.crt");
    let connect = |creds| WsClient::connect(f.ws_port, &ca, creds);

    let (code, client) = connect(Some(("ada", WEB_PASSWORD.as_bytes()))).unwrap();
    assert_eq!(code, 0, "{}", broker.log());
    let mut ada = client.unwrap();

    let (code, _) = connect(Some(("ada", b"wrong password"))).unwrap();
    assert_ne!(code, 0, "a wrong password was accepted");
    let (code, _) = connect(Some(("eve", WEB_PASSWORD.as_bytes()))).unwrap();
    assert_ne!(code, 0, "an unknown user was accepted");
    let (code, _) = connect(None).unwrap();
    assert_ne!(code, 0, "an anonymous client was accepted");
    // A device may not use its id as a web user name.
    let (code, _) = connect(Some(("d1", b""))).unwrap();
    assert_ne!(code, 0);

    // The logged-in user talks to its device, both ways.
    assert_eq!(ada.subscribe("altair/d1/web").unwrap(), 0);
    let (ok, out) = publish(&f.device_args("d1"), "altair/d1/web", "from device", &[]);
    assert!(ok, "{out}");
    let got = ada
        .receive(ARRIVE)
        .unwrap()
        .expect("terminal output arrives");
    assert_eq!(
        (got.topic.as_str(), &got.payload[..]),
        ("altair/d1/web", &b"from device"[..])
    );

    let mut device = Subscriber::start(&f.device_args("d1"), &["altair/d1/dev"]);
    device.subscribed();
    ada.publish("altair/d1/dev", b"DIR").unwrap();
    device.expect("altair/d1/dev DIR");
}

#[test]
fn anonymous_clients_are_refused_on_both_tls_listeners() {
    let Some((f, broker)) = running(
        "anonymous_clients_are_refused_on_both_tls_listeners",
        &["d1"],
    ) else {
        return;
    };
    let (ok, out) = publish(&f.no_cert_args(), "altair/d1/web", "x", &[]);
    assert!(!ok, "device listener: {out}");
    let (code, _) = WsClient::connect(f.ws_port, &f.path("ca.crt"), None).unwrap();
    assert_eq!(
        code,
        5,
        "browser listener: CONNACK 5 (not authorized) expected\n{}",
        broker.log()
    );
}

#[test]
fn device_can_neither_read_nor_write_another_devices_topics() {
    let Some((f, _broker)) = running(
        "device_can_neither_read_nor_write_another_devices_topics",
        &["d1", "d2"],
    ) else {
        return;
    };
    let a = f.device_args("d1");
    let b = f.device_args("d2");

    // Read: d1 subscribes to d2's topics (Mosquitto 2.0.11 grants the subscription but
    // delivers nothing) and to its own. d2 publishes a secret (QoS 1: handled by the
    // broker before the acknowledgement), then d1 a control message: if the secret were
    // delivered to d1 it would come before the control.
    let mut spy = Subscriber::start(&a, &["altair/d2/#", "altair/d1/#"]);
    spy.subscribed();
    let (ok, out) = publish(&b, "altair/d2/web", "secret", &[]);
    assert!(ok, "{out}");
    let (ok, out) = publish(&a, "altair/d1/web", "control", &[]);
    assert!(ok, "{out}");
    spy.expect("altair/d1/web control");
    spy.wait_for(GRACE, |_| false);
    assert!(
        !spy.saw("altair/d2/web", "secret"),
        "d1 read d2's topic: {:#?}",
        spy.seen
    );

    // Write: d2 listens on its own topics; d1 publishes into them, then d2 itself.
    let mut victim = Subscriber::start(&b, &["altair/d2/#"]);
    victim.subscribed();
    let (ok, out) = publish(&a, "altair/d2/dev", "forged", &[]);
    assert!(ok, "{out}"); // MQTT 3.1.1 has no way to say no: the message is dropped.
    // MQTT 5 tells the publisher.
    let (_, out) = publish(&a, "altair/d2/dev", "forged5", &["-V", "5"]);
    assert!(out.contains("Not authorized"), "{out}");
    let (ok, out) = publish(&b, "altair/d2/dev", "control", &[]);
    assert!(ok, "{out}");
    victim.expect("altair/d2/dev control");
    victim.wait_for(GRACE, |_| false);
    assert!(
        !victim.seen.iter().any(|l| l.contains("forged")),
        "d1 wrote to d2's topic: {:#?}",
        victim.seen
    );
}

#[test]
fn web_user_gets_only_granted_devices() {
    if !have_mosquitto("web_user_gets_only_granted_devices") {
        return;
    }
    let f = Fixture::new(&["d1", "d2"]);
    // bob is granted d2 only.
    let pw = f.write_secret("bob.pw", "bobs password");
    f.init_again(&[
        "--host",
        "localhost",
        "--device",
        "d2",
        "--web-user",
        "bob",
        "--web-password-file",
        pw.to_str().unwrap(),
    ]);
    let _broker = f.start();
    let (code, bob) = WsClient::connect(
        f.ws_port,
        &f.path("ca.crt"),
        Some(("bob", b"bobs password")),
    )
    .unwrap();
    assert_eq!(code, 0);
    let mut bob = bob.unwrap();
    bob.subscribe("altair/d1/#").unwrap();
    bob.subscribe("altair/d2/#").unwrap();
    let (ok, out) = publish(&f.device_args("d1"), "altair/d1/web", "not for bob", &[]);
    assert!(ok, "{out}");
    let (ok, out) = publish(&f.device_args("d2"), "altair/d2/web", "for bob", &[]);
    assert!(ok, "{out}");
    let got = bob.receive(ARRIVE).unwrap().expect("d2's message arrives");
    assert_eq!(got.payload, b"for bob", "bob got {got:?}");
    assert_eq!(bob.receive(GRACE).unwrap(), None);

    // bob cannot type into d1.
    let mut d1 = Subscriber::start(&f.device_args("d1"), &["altair/d1/dev"]);
    d1.subscribed();
    bob.publish("altair/d1/dev", b"forged").unwrap();
    let (code, ada) = WsClient::connect(
        f.ws_port,
        &f.path("ca.crt"),
        Some(("ada", WEB_PASSWORD.as_bytes())),
    )
    .unwrap();
    assert_eq!(code, 0);
    // bob's message was sent before ada connected; ada's comes after it on the broker.
    ada.unwrap().publish("altair/d1/dev", b"control").unwrap();
    d1.expect("altair/d1/dev control");
    d1.wait_for(GRACE, |_| false);
    assert!(
        !d1.seen.iter().any(|l| l.contains("forged")),
        "{:#?}",
        d1.seen
    );
}

#[test]
fn local_listener_carries_only_disk_topics() {
    let Some((f, _broker)) = running("local_listener_carries_only_disk_topics", &["d1"]) else {
        return;
    };
    let mut disk = Subscriber::start(&f.local_args(), &["altair/+/vdisk/#", "altair/+/web"]);
    disk.subscribed();
    let dev = f.device_args("d1");
    let (ok, out) = publish(&dev, "altair/d1/web", "terminal", &[]);
    assert!(ok, "{out}");
    let (ok, out) = publish(&dev, "altair/d1/vdisk/read", "sector", &[]);
    assert!(ok, "{out}");
    disk.expect("altair/d1/vdisk/read sector");
    disk.wait_for(GRACE, |_| false);
    assert!(!disk.saw("altair/d1/web", "terminal"), "{:#?}", disk.seen);

    // The disk server can answer on vdisk/data but cannot type into the terminal.
    let mut device = Subscriber::start(&dev, &["altair/d1/#"]);
    device.subscribed();
    let (ok, out) = publish(&f.local_args(), "altair/d1/dev", "typed", &[]);
    assert!(ok, "{out}");
    let (ok, out) = publish(&f.local_args(), "altair/d1/vdisk/data", "data", &[]);
    assert!(ok, "{out}");
    device.expect("altair/d1/vdisk/data data");
    device.wait_for(GRACE, |_| false);
    assert!(!device.saw("altair/d1/dev", "typed"), "{:#?}", device.seen);
}

#[test]
fn rerun_adds_a_device_and_keeps_the_ca() {
    let f = Fixture::new(&["d1"]);
    let ca_before = (
        fs::read(f.path("ca.crt")).unwrap(),
        fs::read(f.path("ca.key")).unwrap(),
    );
    let d1_before = fs::read(f.path("devices/d1.crt")).unwrap();
    let server_before = fs::read(f.path("server.crt")).unwrap();
    let passwd_before = fs::read(f.path("passwd")).unwrap();

    let stdout = f.init_again(&["--host", "localhost", "--device", "d3"]);
    assert!(stdout.contains("kept the CA"), "{stdout}");
    assert!(
        stdout.contains("issued a certificate for device d3"),
        "{stdout}"
    );
    assert!(stdout.contains("kept device d1"), "{stdout}");
    assert!(stdout.contains("kept the server certificate"), "{stdout}");

    assert_eq!(fs::read(f.path("ca.crt")).unwrap(), ca_before.0);
    assert_eq!(fs::read(f.path("ca.key")).unwrap(), ca_before.1);
    assert_eq!(fs::read(f.path("devices/d1.crt")).unwrap(), d1_before);
    assert_eq!(fs::read(f.path("server.crt")).unwrap(), server_before);
    assert_eq!(fs::read(f.path("passwd")).unwrap(), passwd_before);
    let record = BrokerRecord::load(&f.dir).unwrap();
    assert_eq!(record.devices, ["d1", "d3"]);
    // Ports given on the first run are kept; ada keeps only what she was granted.
    assert_eq!(record.tls_port, f.tls_port);
    assert_eq!(record.web_users[0].devices, ["d1"]);
    let d3 = CertInfo::load(&f.path("devices/d3.crt")).unwrap();
    assert_eq!(d3.common_name.as_deref(), Some("d3"));

    if !have_mosquitto("rerun_adds_a_device_and_keeps_the_ca (broker part)") {
        return;
    }
    let _broker = f.start();
    for id in ["d1", "d3"] {
        let mut sub = Subscriber::start(&f.device_args(id), &[&format!("altair/{id}/#")]);
        sub.subscribed();
        let topic = format!("altair/{id}/web");
        let (ok, out) = publish(&f.device_args(id), &topic, "hi", &[]);
        assert!(ok, "{id}: {out}");
        sub.expect(&format!("{topic} hi"));
    }
}

#[test]
fn rerun_with_a_new_host_reissues_the_server_certificate() {
    let f = Fixture::new(&["d1"]);
    let stdout = f.init_again(&["--host", "mqtt.example.com", "--device", "d1"]);
    assert!(
        stdout.contains("the host changes from localhost to mqtt.example.com"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("issued a new server certificate for mqtt.example.com (it was for localhost"),
        "{stdout}"
    );
    let server = CertInfo::load(&f.path("server.crt")).unwrap();
    assert_eq!(server.dns_names, ["mqtt.example.com"]);
    assert_eq!(BrokerRecord::load(&f.dir).unwrap().host, "mqtt.example.com");
}

#[test]
fn bad_input_is_refused_naming_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b");
    let d = dir.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = altair_cloud(args);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    for id in ["a/b", "+", "#", "..", "", "x y", &"x".repeat(65)] {
        let (ok, err) = run(&["broker", "init", d, "--host", "localhost", "--device", id]);
        assert!(!ok && err.contains("device id"), "{id:?}: {err}");
    }
    let (ok, err) = run(&["broker", "init", d, "--host", "10.0.0.1", "--device", "a"]);
    assert!(!ok && err.contains("host name"), "{err}");
    let (ok, err) = run(&["broker", "init", d, "--host", "localhost"]);
    assert!(!ok && err.contains("--device"), "{err}");
    // --web-user needs --web-password-file.
    let (ok, err) = run(&[
        "broker",
        "init",
        d,
        "--host",
        "h",
        "--device",
        "a",
        "--web-user",
        "u",
    ]);
    assert!(!ok && err.contains("--web-password-file"), "{err}");
    let empty = tmp.path().join("empty.pw");
    fs::write(&empty, "\n").unwrap();
    let (ok, err) = run(&[
        "broker",
        "init",
        d,
        "--host",
        "h",
        "--device",
        "a",
        "--web-user",
        "u",
        "--web-password-file",
        empty.to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("empty.pw") && err.contains("empty"),
        "{err}"
    );
    let (ok, err) = run(&[
        "broker",
        "init",
        d,
        "--host",
        "h",
        "--device",
        "a",
        "--web-user",
        "u:x",
        "--web-password-file",
        empty.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("web user name"), "{err}");
    let (ok, err) = run(&[
        "broker",
        "init",
        d,
        "--host",
        "h",
        "--device",
        "a",
        "--ws-port",
        "0",
    ]);
    assert!(!ok && err.contains("--ws-port"), "{err}");
    // Nothing was written by any of these.
    assert!(!dir.exists());

    let (ok, err) = run(&[
        "broker",
        "init",
        d,
        "--host",
        "h",
        "--device",
        "a",
        "--tls-port",
        "1000",
        "--ws-port",
        "1000",
    ]);
    assert!(!ok && err.contains("both 1000"), "{err}");

    // Half a CA is never completed or replaced.
    let (ok, err) = run(&["broker", "init", d, "--host", "h", "--device", "a"]);
    assert!(ok, "{err}");
    fs::remove_file(dir.join("ca.key")).unwrap();
    let (ok, err) = run(&["broker", "init", d, "--host", "h", "--device", "a"]);
    assert!(!ok && err.contains("ca.key"), "{err}");
    assert!(!dir.join("ca.key").exists());
}
