//! Who owns what `broker init` writes (root with user `mosquitto`, root without it, not
//! root), the warnings when the broker could not read its files, and the Let's Encrypt
//! option with a real Mosquitto.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::PathBuf;

use altair_cloud::broker::owner::{BrokerUser, Ownership, find_user};
use altair_cloud::broker::{self, InitOptions, WebUserOption};
use common::mqtt_ws::WsClient;
use common::{Broker, WEB_PASSWORD, free_port, have_mosquitto};

fn options(dir: PathBuf) -> InitOptions {
    InitOptions {
        dir,
        host: "localhost".into(),
        devices: vec!["d1".into()],
        web_user: None,
        tls_port: None,
        ws_port: None,
        local_port: None,
        letsencrypt_dir: None,
    }
}

fn mosquitto_user() -> Option<BrokerUser> {
    find_user(&fs::read_to_string("/etc/passwd").ok()?, "mosquitto")
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[test]
fn not_root_writes_no_user_line_and_gives_nothing_away() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b");
    let report = broker::init_with(&options(dir.clone()), &Ownership::CurrentUser).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let conf = fs::read_to_string(dir.join("mosquitto.conf")).unwrap();
    assert!(!conf.lines().any(|l| l.starts_with("user ")), "{conf}");
    let me = rustix::process::geteuid().as_raw();
    for rel in ["server.key", "passwd", "acl", "data", "ca.key"] {
        assert_eq!(fs::metadata(dir.join(rel)).unwrap().uid(), me, "{rel}");
    }
    let readme = fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(readme.contains("did not run as root"), "{readme}");
}

#[test]
fn root_without_a_broker_user_is_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    let report = broker::init_with(
        &options(tmp.path().join("b")),
        &Ownership::RootWithoutBrokerUser,
    )
    .unwrap();
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("there is no user mosquitto")),
        "{:?}",
        report.warnings
    );
}

#[test]
fn a_directory_the_broker_user_cannot_enter_is_warned_about() {
    let (true, Some(user)) = (is_root(), mosquitto_user()) else {
        eprintln!("SKIPPED: needs root and user mosquitto");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let report =
        broker::init_with(&options(tmp.path().join("b")), &Ownership::GiveTo(user)).unwrap();
    let expected = format!("cannot enter {}", tmp.path().display());
    assert!(
        report.warnings.iter().any(|w| w.contains(&expected)),
        "{:?}",
        report.warnings
    );
}

#[test]
fn letsencrypt_files_serve_the_websockets_listener() {
    let (true, Some(user)) = (is_root(), mosquitto_user()) else {
        eprintln!("SKIPPED: needs root and user mosquitto");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let dir = tmp.path().join("b");
    let pw = tmp.path().join("pw");
    fs::write(&pw, WEB_PASSWORD).unwrap();
    let mut opts = options(dir.clone());
    opts.web_user = Some(WebUserOption {
        name: "ada".into(),
        password_file: pw,
    });
    opts.tls_port = Some(free_port());
    opts.ws_port = Some(free_port());
    opts.local_port = Some(free_port());
    let owner = Ownership::GiveTo(user.clone());
    broker::init_with(&opts, &owner).unwrap();

    // Stand-ins for certbot's files, made the way certbot makes them: root's, key 0600.
    let le = tmp.path().join("letsencrypt/live/localhost");
    fs::create_dir_all(&le).unwrap();
    let stand_in = altair_pki::Ca::load(&dir)
        .unwrap()
        .issue_server("localhost", altair_pki::Validity::leaf_default())
        .unwrap();
    stand_in
        .write(&le.join("fullchain.pem"), &le.join("privkey.pem"))
        .unwrap();
    opts.letsencrypt_dir = Some(le.clone());
    let report = broker::init_with(&opts, &owner).unwrap();
    assert!(
        report.warnings.iter().any(|w| w.contains("privkey.pem")),
        "the unreadable key is not warned about: {:?}",
        report.warnings
    );
    let conf = fs::read_to_string(dir.join("mosquitto.conf")).unwrap();
    assert!(
        conf.contains(&format!("keyfile {}", le.join("privkey.pem").display())),
        "{conf}"
    );

    // The README's recipe: the broker user's group may read the key.
    std::os::unix::fs::chown(le.join("privkey.pem"), None, Some(user.gid)).unwrap();
    fs::set_permissions(le.join("privkey.pem"), fs::Permissions::from_mode(0o640)).unwrap();
    opts.letsencrypt_dir = None; // kept from the record
    let report = broker::init_with(&opts, &owner).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let record = broker::record::BrokerRecord::load(&dir).unwrap();
    assert_eq!(record.letsencrypt_dir.as_deref(), Some(le.as_path()));

    if !have_mosquitto("letsencrypt_files_serve_the_websockets_listener (broker part)") {
        return;
    }
    let ports = [record.local_port, record.tls_port, record.ws_port];
    let broker = Broker::start(
        &dir.join("mosquitto.conf"),
        &ports,
        &tmp.path().join("mosquitto.log"),
    );
    let (code, _) = WsClient::connect(
        record.ws_port,
        &dir.join("ca.crt"),
        Some(("ada", WEB_PASSWORD.as_bytes())),
    )
    .unwrap();
    assert_eq!(code, 0, "{}", broker.log());
}

#[test]
fn rerun_updates_passwords_and_applies_record_edits() {
    use altair_cloud::broker::passwd::{PasswordFile, verify};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b");
    let pw = tmp.path().join("pw");
    let mut opts = options(dir.clone());
    opts.devices = vec!["d1".into(), "d2".into()];
    opts.web_user = Some(WebUserOption {
        name: "ada".into(),
        password_file: pw.clone(),
    });
    fs::write(&pw, "first\n").unwrap();
    broker::init_with(&opts, &Ownership::CurrentUser).unwrap();
    fs::write(&pw, "second\n").unwrap();
    broker::init_with(&opts, &Ownership::CurrentUser).unwrap();
    let passwd = PasswordFile::load(&dir.join("passwd")).unwrap();
    assert!(verify(passwd.get("ada").unwrap(), b"second"));
    assert!(!verify(passwd.get("ada").unwrap(), b"first"));

    // Taking d2 away from ada in broker.toml, then re-running init, applies it.
    let record_path = dir.join("broker.toml");
    let text = fs::read_to_string(&record_path).unwrap();
    let edited = text.replace(
        "name = \"ada\"\ndevices = [\"d1\", \"d2\"]",
        "name = \"ada\"\ndevices = [\"d1\"]",
    );
    assert_ne!(edited, text, "the record's form changed: {text}");
    fs::write(&record_path, edited).unwrap();
    opts.web_user = None;
    opts.devices = vec!["d1".into()];
    broker::init_with(&opts, &Ownership::CurrentUser).unwrap();
    let acl = fs::read_to_string(dir.join("acl-web")).unwrap();
    assert!(
        acl.contains("altair/d1/#") && !acl.contains("altair/d2/"),
        "{acl}"
    );
    // ... and the password survived a run without --web-user.
    let passwd = PasswordFile::load(&dir.join("passwd")).unwrap();
    assert!(verify(passwd.get("ada").unwrap(), b"second"));

    // A recorded web user whose hash went missing is an error naming the file.
    fs::write(dir.join("passwd"), "").unwrap();
    let e = broker::init_with(&opts, &Ownership::CurrentUser)
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"ada\"") && e.contains("passwd"), "{e}");
}
