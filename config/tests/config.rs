//! The build configuration: precedence, the manifest, the baked certificates and the
//! error messages a user sees when something is wrong.

use std::collections::HashMap;
use std::path::Path;

use altair_config::{CertsSource, Config, Sources, certs};
use altair_pki::{Ca, Validity};

fn resolve(env: &[(&str, &str)], root: &Path) -> Result<Config, String> {
    let vars: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |name: &str| vars.get(name).cloned();
    Sources { env: &lookup, root }
        .resolve()
        .map(|(c, _)| c)
        .map_err(|e| e.to_string())
}

#[test]
fn defaults_are_localhost_8884_channel_1_and_the_dev_pki() {
    let root = Path::new("/project");
    let c = resolve(&[], root).unwrap();
    assert_eq!(
        (c.mqtt_host.as_str(), c.mqtt_port, c.channel.as_str()),
        ("localhost", 8884, "1")
    );
    assert_eq!(c.certs, CertsSource::Development(root.join("certs/dev")));
}

#[test]
fn the_environment_overrides_the_config_file_which_overrides_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("altair.toml");
    std::fs::write(&file, "mqtt_host = \"broker.example.com\"\nmqtt_port = 9000\nchannel = \"lab\"\ncerts_dir = \"pki\"\n").unwrap();
    let f = file.to_str().unwrap();
    let c = resolve(&[("ALTAIR_CONFIG", f)], dir.path()).unwrap();
    assert_eq!(
        (c.mqtt_host.as_str(), c.mqtt_port, c.channel.as_str()),
        ("broker.example.com", 9000, "lab")
    );
    assert_eq!(
        c.certs,
        CertsSource::Given(dir.path().join("pki")),
        "relative to the file"
    );
    let c = resolve(
        &[
            ("ALTAIR_CONFIG", f),
            ("ALTAIR_MQTT_PORT", "8885"),
            ("ALTAIR_CHANNEL", "kitchen"),
        ],
        dir.path(),
    )
    .unwrap();
    assert_eq!(
        (c.mqtt_host.as_str(), c.mqtt_port, c.channel.as_str()),
        ("broker.example.com", 8885, "kitchen")
    );
}

#[test]
fn bad_values_are_refused_saying_where_they_came_from() {
    let root = Path::new("/p");
    let e = resolve(&[("ALTAIR_MQTT_HOST", "192.168.1.5")], root).unwrap_err();
    assert!(
        e.starts_with("ALTAIR_MQTT_HOST=\"192.168.1.5\"") && e.contains("DNS name"),
        "{e}"
    );
    let e = resolve(&[("ALTAIR_MQTT_PORT", "88840")], root).unwrap_err();
    assert!(
        e.contains("ALTAIR_MQTT_PORT=\"88840\"") && e.contains("1-65535"),
        "{e}"
    );
    let e = resolve(&[("ALTAIR_CHANNEL", "a/#")], root).unwrap_err();
    assert!(e.contains("ALTAIR_CHANNEL=\"a/#\""), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "mqtt_hots = \"x\"\n").unwrap();
    let e = resolve(&[("ALTAIR_CONFIG", file.to_str().unwrap())], root).unwrap_err();
    assert!(
        e.contains(file.to_str().unwrap()) && e.contains("mqtt_hots"),
        "{e}"
    );
    let e = resolve(&[("ALTAIR_CONFIG", "/nonexistent/altair.toml")], root).unwrap_err();
    assert!(e.contains("/nonexistent/altair.toml"), "{e}");
}

#[test]
fn the_manifest_allows_exactly_the_broker_host() {
    let c = resolve(
        &[("ALTAIR_MQTT_HOST", "altair.example.org")],
        Path::new("/p"),
    )
    .unwrap();
    let m = c.app_manifest();
    assert!(
        m.contains("\"AllowedConnections\": [\"altair.example.org\"]"),
        "{m}"
    );
    assert_eq!(
        m.matches("example.org").count(),
        1,
        "named once, nowhere else"
    );
    for field in [
        "\"SchemaVersion\": 1",
        "\"ComponentId\": \"",
        "\"EntryPoint\": \"/bin/app\"",
        "\"ApplicationType\": \"Default\"",
    ] {
        assert!(m.contains(field), "{field} in {m}");
    }
    let rs = c.constants_rs();
    assert!(
        rs.contains("pub const MQTT_HOST: &str = \"altair.example.org\";"),
        "{rs}"
    );
    assert!(rs.contains("pub const MQTT_PORT: u16 = 8884;"), "{rs}");
}

fn config_with(dir: &Path, channel: &str) -> Config {
    Config {
        mqtt_host: "localhost".into(),
        mqtt_port: 8884,
        channel: channel.into(),
        certs: CertsSource::Given(dir.to_path_buf()),
    }
}

fn provision(dir: &Path, device: &str, validity: Validity) -> Ca {
    let (ca, _) = Ca::load_or_create(dir, "test CA").unwrap();
    std::fs::create_dir_all(dir.join("devices")).unwrap();
    ca.issue_client(device, validity)
        .unwrap()
        .write(
            &dir.join(format!("devices/{device}.crt")),
            &dir.join(format!("devices/{device}.key")),
        )
        .unwrap();
    ca
}

#[test]
fn the_dev_pki_is_made_once_and_then_reused() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config_with(&dir.path().join("dev"), "1");
    c.certs = CertsSource::Development(dir.path().join("dev"));
    let first = certs::prepare(&c).unwrap();
    assert!(first.created_dev_pki);
    let second = certs::prepare(&c).unwrap();
    assert!(!second.created_dev_pki);
    assert_eq!(first.ca_der, second.ca_der, "the same CA");
    assert_eq!(first.client_key_der, second.client_key_der);
}

#[test]
fn a_provisioned_directory_is_baked_as_der() {
    let dir = tempfile::tempdir().unwrap();
    provision(dir.path(), "kitchen", Validity::leaf_default());
    let baked = certs::prepare(&config_with(dir.path(), "kitchen")).unwrap();
    assert_eq!(baked.ca_der[0], 0x30, "DER SEQUENCE");
    assert_eq!(baked.client_der[0], 0x30);
    assert_eq!(baked.client_key_der[0], 0x30);
    assert_eq!(baked.files.len(), 3);
    assert!(baked.warnings.is_empty());
}

#[test]
fn the_original_client_crt_layout_works_too() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, _) = Ca::load_or_create(dir.path(), "test CA").unwrap();
    ca.issue_client("7", Validity::leaf_default())
        .unwrap()
        .write(
            &dir.path().join("client.crt"),
            &dir.path().join("client.key"),
        )
        .unwrap();
    certs::prepare(&config_with(dir.path(), "7")).unwrap();
}

fn error_of(dir: &Path, channel: &str) -> String {
    certs::prepare(&config_with(dir, channel))
        .unwrap_err()
        .to_string()
}

#[test]
fn missing_files_name_the_file_and_the_command_that_makes_it() {
    let dir = tempfile::tempdir().unwrap();
    let e = error_of(dir.path(), "kitchen");
    let d = dir.path().display();
    assert!(e.contains(&format!("{d}/ca.crt is missing")), "{e}");
    assert!(
        e.contains(&format!(
            "altair-cloud broker init {d} --host localhost --device kitchen"
        )),
        "{e}"
    );
    provision(dir.path(), "other", Validity::leaf_default());
    let e = error_of(dir.path(), "kitchen");
    assert!(e.contains("devices/kitchen.crt is missing"), "{e}");
}

#[test]
fn a_certificate_for_another_device_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    provision(dir.path(), "kitchen", Validity::leaf_default());
    std::fs::rename(
        dir.path().join("devices/kitchen.crt"),
        dir.path().join("devices/garage.crt"),
    )
    .unwrap();
    std::fs::rename(
        dir.path().join("devices/kitchen.key"),
        dir.path().join("devices/garage.key"),
    )
    .unwrap();
    let e = error_of(dir.path(), "garage");
    assert!(
        e.contains("is for device \"kitchen\", but the channel is \"garage\""),
        "{e}"
    );
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = provision(dir.path(), "kitchen", Validity::leaf_default());
    let other = ca
        .issue_client("kitchen", Validity::leaf_default())
        .unwrap();
    std::fs::write(dir.path().join("devices/kitchen.key"), other.key_pem).unwrap();
    let e = error_of(dir.path(), "kitchen");
    assert!(e.contains("kitchen.key is not the key of"), "{e}");
}

#[test]
fn a_certificate_from_another_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    provision(dir.path(), "kitchen", Validity::leaf_default());
    let other = tempfile::tempdir().unwrap();
    provision(other.path(), "kitchen", Validity::leaf_default());
    std::fs::copy(other.path().join("ca.crt"), dir.path().join("ca.crt")).unwrap();
    let e = error_of(dir.path(), "kitchen");
    assert!(e.contains("kitchen.crt") && e.contains("ca.crt"), "{e}");
}

#[test]
fn an_expired_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    provision(dir.path(), "kitchen", Validity::expired());
    let e = error_of(dir.path(), "kitchen");
    assert!(e.contains("kitchen.crt has expired"), "{e}");
}

#[test]
fn a_garbled_certificate_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    provision(dir.path(), "kitchen", Validity::leaf_default());
    std::fs::write(
        dir.path().join("devices/kitchen.crt"),
        "not a certificate\n",
    )
    .unwrap();
    let e = error_of(dir.path(), "kitchen");
    assert!(e.contains("kitchen.crt"), "{e}");
}
