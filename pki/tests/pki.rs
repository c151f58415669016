//! altair-pki end to end: certificates chain to the CA (checked by rustls-webpki, the
//! verifier rustls uses), carry the right names and usages, the CA is reused and never
//! replaced, and keys are written mode 0600.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, SystemTime};

use altair_pki::{CA_CERT_FILE, CA_KEY_FILE, Ca, CertInfo, Created, Issued, PkiError, Validity};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use webpki::{EndEntityCert, KeyUsage, anchor_from_trusted_cert};

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from(
        CertInfo::parse(pem, Path::new("test"))
            .unwrap()
            .der()
            .to_vec(),
    )
}

/// Verifies `leaf` against `ca` for `usage` at time `at`, as a TLS peer would.
fn verify(ca: &Ca, leaf: &Issued, usage: KeyUsage, at: SystemTime) -> Result<(), webpki::Error> {
    let ca_der = der(ca.cert_pem());
    let anchors = [anchor_from_trusted_cert(&ca_der).unwrap()];
    let leaf_der = der(&leaf.cert_pem);
    let ee = EndEntityCert::try_from(&leaf_der).unwrap();
    let now = UnixTime::since_unix_epoch(at.duration_since(SystemTime::UNIX_EPOCH).unwrap());
    ee.verify_for_usage(
        &[webpki::ring::ECDSA_P256_SHA256],
        &anchors,
        &[],
        now,
        usage,
        None,
        None,
    )
    .map(|_| ())
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn server_certificate_chains_and_names_the_host() {
    let ca = Ca::generate("test CA", Validity::ca_default()).unwrap();
    let server = ca
        .issue_server("mqtt.example.com", Validity::leaf_default())
        .unwrap();
    verify(&ca, &server, KeyUsage::server_auth(), SystemTime::now()).unwrap();
    // Not usable as a client certificate.
    assert!(verify(&ca, &server, KeyUsage::client_auth(), SystemTime::now()).is_err());

    let leaf_der = der(&server.cert_pem);
    let ee = EndEntityCert::try_from(&leaf_der).unwrap();
    let name = ServerName::try_from("mqtt.example.com").unwrap();
    ee.verify_is_valid_for_subject_name(&name).unwrap();
    let other = ServerName::try_from("evil.example.com").unwrap();
    assert!(ee.verify_is_valid_for_subject_name(&other).is_err());

    let info = CertInfo::parse(&server.cert_pem, Path::new("server.crt")).unwrap();
    assert_eq!(info.dns_names, ["mqtt.example.com"]);
    assert_eq!(info.common_name.as_deref(), Some("mqtt.example.com"));
    assert!(info.server_auth && !info.client_auth && !info.is_ca);
    info.check_signed_by(ca.info()).unwrap();
    assert!(server.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(info.is_key_of(&server.key_pem));
    let other = ca
        .issue_server("mqtt.example.com", Validity::leaf_default())
        .unwrap();
    assert!(!info.is_key_of(&other.key_pem));
    assert!(!info.is_key_of("not a key"));
}

#[test]
fn client_certificate_chains_and_carries_the_device_id() {
    let ca = Ca::generate("test CA", Validity::ca_default()).unwrap();
    let dev = ca
        .issue_client("kitchen-2", Validity::leaf_default())
        .unwrap();
    verify(&ca, &dev, KeyUsage::client_auth(), SystemTime::now()).unwrap();
    assert!(verify(&ca, &dev, KeyUsage::server_auth(), SystemTime::now()).is_err());
    let info = CertInfo::parse(&dev.cert_pem, Path::new("dev.crt")).unwrap();
    assert_eq!(info.common_name.as_deref(), Some("kitchen-2"));
    assert!(info.dns_names.is_empty());
    assert!(info.client_auth && !info.server_auth);

    // Another CA's certificate does not chain.
    let other = Ca::generate("other CA", Validity::ca_default()).unwrap();
    assert!(verify(&other, &dev, KeyUsage::client_auth(), SystemTime::now()).is_err());
    assert!(matches!(
        info.check_signed_by(other.info()),
        Err(PkiError::NotSignedBy { .. })
    ));
}

#[test]
fn expired_certificate_is_refused_by_the_verifier() {
    let ca = Ca::generate("test CA", Validity::ca_default()).unwrap();
    let dev = ca.issue_client("old", Validity::expired()).unwrap();
    let err = verify(&ca, &dev, KeyUsage::client_auth(), SystemTime::now()).unwrap_err();
    assert!(matches!(err, webpki::Error::CertExpired { .. }), "{err:?}");
    // ... and it was fine a day and a half ago, so the only fault is the date.
    let then = SystemTime::now() - Duration::from_secs(36 * 3600);
    verify(&ca, &dev, KeyUsage::client_auth(), then).unwrap();
    let info = CertInfo::parse(&dev.cert_pem, Path::new("old.crt")).unwrap();
    assert!(!info.validity.contains(SystemTime::now()));
}

#[test]
fn bad_names_are_refused() {
    let ca = Ca::generate("test CA", Validity::ca_default()).unwrap();
    for id in ["", "a/b", "+", "#", "../x", &"x".repeat(65)] {
        let e = ca.issue_client(id, Validity::leaf_default()).unwrap_err();
        assert!(matches!(e, PkiError::BadName { .. }), "{id}: {e}");
    }
    for host in ["", "10.0.0.1", "a b", "x..y"] {
        assert!(
            ca.issue_server(host, Validity::leaf_default()).is_err(),
            "{host}"
        );
    }
}

#[test]
fn load_or_create_reuses_and_never_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let (ca, created) = Ca::load_or_create(&pki, "first").unwrap();
    assert_eq!(created, Created::New);
    assert_eq!(mode(&pki), 0o700);
    assert_eq!(mode(&pki.join(CA_KEY_FILE)), 0o600);
    assert_eq!(mode(&pki.join(CA_CERT_FILE)), 0o644);
    let cert_before = fs::read(pki.join(CA_CERT_FILE)).unwrap();
    let key_before = fs::read(pki.join(CA_KEY_FILE)).unwrap();

    let (again, created) = Ca::load_or_create(&pki, "second").unwrap();
    assert_eq!(created, Created::Reused);
    assert_eq!(again.cert_pem(), ca.cert_pem());
    assert_eq!(again.info().common_name.as_deref(), Some("first"));
    assert_eq!(fs::read(pki.join(CA_CERT_FILE)).unwrap(), cert_before);
    assert_eq!(fs::read(pki.join(CA_KEY_FILE)).unwrap(), key_before);

    // A certificate issued by the reloaded CA chains to the original certificate.
    let dev = again.issue_client("d1", Validity::leaf_default()).unwrap();
    verify(&ca, &dev, KeyUsage::client_auth(), SystemTime::now()).unwrap();

    // Written with the right modes.
    dev.write(&pki.join("d1.crt"), &pki.join("d1.key")).unwrap();
    assert_eq!(mode(&pki.join("d1.key")), 0o600);
    assert_eq!(mode(&pki.join("d1.crt")), 0o644);
}

#[test]
fn half_a_ca_is_an_error_naming_the_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    Ca::load_or_create(dir.path(), "ca").unwrap();
    fs::remove_file(dir.path().join(CA_KEY_FILE)).unwrap();
    let e = Ca::load_or_create(dir.path(), "ca").unwrap_err();
    assert!(matches!(e, PkiError::IncompletePair { .. }));
    assert!(e.to_string().contains("ca.key"), "{e}");
    // Nothing was replaced.
    assert!(!dir.path().join(CA_KEY_FILE).exists());

    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(CA_KEY_FILE), "x").unwrap();
    let e = Ca::load_or_create(dir.path(), "ca").unwrap_err();
    assert!(e.to_string().contains("ca.crt"), "{e}");
}

#[test]
fn broken_or_mismatched_ca_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    Ca::load_or_create(d, "ca").unwrap();
    let other = Ca::generate("other", Validity::ca_default()).unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    other.write(other_dir.path()).unwrap();
    fs::copy(other_dir.path().join(CA_KEY_FILE), d.join(CA_KEY_FILE)).unwrap();
    let e = Ca::load(d).unwrap_err();
    assert!(matches!(e, PkiError::KeyMismatch { .. }), "{e}");
    assert!(e.to_string().contains("ca.key"), "{e}");

    fs::write(d.join(CA_KEY_FILE), "garbage").unwrap();
    let e = Ca::load(d).unwrap_err().to_string();
    assert!(e.contains("ca.key") && e.contains("PKCS#8"), "{e}");

    fs::write(d.join(CA_CERT_FILE), "garbage").unwrap();
    let e = Ca::load(d).unwrap_err().to_string();
    assert!(e.contains("ca.crt") && e.contains("PEM"), "{e}");

    // A leaf certificate is not a CA.
    let leaf = other.issue_client("x", Validity::leaf_default()).unwrap();
    fs::write(d.join(CA_CERT_FILE), &leaf.cert_pem).unwrap();
    let e = Ca::load(d).unwrap_err().to_string();
    assert!(e.contains("not a CA"), "{e}");
}

#[test]
fn issued_debug_hides_the_key() {
    let ca = Ca::generate("test CA", Validity::ca_default()).unwrap();
    let dev = ca.issue_client("d", Validity::leaf_default()).unwrap();
    let shown = format!("{dev:?}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
}
