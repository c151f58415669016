//! The certificates baked into the firmware: found, checked, and turned into DER.
//!
//! A certificate directory holds `ca.crt` and the device's pair, either as
//! `devices/<channel>.crt` + `.key` (what `altair-cloud broker init` writes) or as
//! `client.crt` + `client.key` (the original project's layout). The development PKI in
//! `certs/dev` is made once, on the first build that needs it, in the first layout, so
//! `altair-cloud broker init certs/dev --host localhost --device 1` provisions a broker
//! from the same CA.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use altair_pki::{CA_CERT_FILE, Ca, CertInfo, PkiError, Validity};

use crate::{CertsSource, Config};

/// Warn when a baked certificate expires sooner than this.
const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);

/// What goes into the firmware, and what the build must watch.
#[derive(Debug)]
pub struct BakedCerts {
    /// The CA certificate, DER.
    pub ca_der: Vec<u8>,
    /// The device certificate, DER.
    pub client_der: Vec<u8>,
    /// The device key, PKCS#8 DER.
    pub client_key_der: Vec<u8>,
    /// The files read (for `rerun-if-changed`).
    pub files: Vec<PathBuf>,
    /// Things the build should say but that do not stop it (e.g. expiring soon).
    pub warnings: Vec<String>,
    /// Whether this build made the development PKI.
    pub created_dev_pki: bool,
}

/// Why the certificates cannot be baked. `Display` names the file and how to fix it.
#[derive(Debug)]
pub struct CertsError {
    message: String,
}

impl fmt::Display for CertsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CertsError {}

fn make_hint(config: &Config) -> String {
    format!(
        "make them with: altair-cloud broker init {} --host {} --device {}",
        config.certs.dir().display(),
        config.mqtt_host,
        config.channel
    )
}

fn fail(config: &Config, what: impl fmt::Display) -> CertsError {
    CertsError {
        message: format!("{what}\n  {}", make_hint(config)),
    }
}

/// The device pair in `dir` for `channel`: `devices/<channel>.*`, else `client.*`.
fn device_pair(dir: &Path, channel: &str) -> (PathBuf, PathBuf) {
    let devices = dir.join("devices");
    let by_id = (
        devices.join(format!("{channel}.crt")),
        devices.join(format!("{channel}.key")),
    );
    if by_id.0.exists() || by_id.1.exists() {
        return by_id;
    }
    let classic = (dir.join("client.crt"), dir.join("client.key"));
    if classic.0.exists() || classic.1.exists() {
        classic
    } else {
        by_id
    }
}

/// Makes the development CA and this channel's device pair if they are missing.
fn ensure_dev_pki(dir: &Path, channel: &str) -> Result<bool, PkiError> {
    let (cert, key) = device_pair(dir, channel);
    if dir.join(CA_CERT_FILE).exists() && cert.exists() && key.exists() {
        return Ok(false);
    }
    let (ca, _) = Ca::load_or_create(dir, "altair-sphere development CA")?;
    altair_pki::create_private_dir(&dir.join("devices"))?;
    let issued = ca.issue_client(channel, Validity::leaf_default())?;
    let (cert, key) = (
        dir.join("devices").join(format!("{channel}.crt")),
        dir.join("devices").join(format!("{channel}.key")),
    );
    issued.write(&cert, &key)?;
    Ok(true)
}

/// Finds, checks and converts the certificates for `config`.
pub fn prepare(config: &Config) -> Result<BakedCerts, CertsError> {
    let dir = config.certs.dir();
    let created_dev_pki = match &config.certs {
        CertsSource::Development(d) => {
            ensure_dev_pki(d, &config.channel).map_err(|e| fail(config, e))?
        }
        CertsSource::Given(_) => false,
    };
    let ca_path = dir.join(CA_CERT_FILE);
    let (cert_path, key_path) = device_pair(dir, &config.channel);
    for path in [&ca_path, &cert_path, &key_path] {
        if !path.is_file() {
            return Err(fail(config, format!("{} is missing", path.display())));
        }
    }
    let ca = CertInfo::load(&ca_path).map_err(|e| fail(config, e))?;
    if !ca.is_ca {
        return Err(fail(
            config,
            format!("{} is not a CA certificate", ca_path.display()),
        ));
    }
    let cert = CertInfo::load(&cert_path).map_err(|e| fail(config, e))?;
    cert.check_signed_by(&ca).map_err(|e| fail(config, e))?;
    if cert.common_name.as_deref() != Some(config.channel.as_str()) {
        return Err(fail(
            config,
            format!(
                "{} is for device {:?}, but the channel is {:?}: the broker lets a device use \
                 only altair/<its certificate's CN>/#",
                cert_path.display(),
                cert.common_name.as_deref().unwrap_or(""),
                config.channel
            ),
        ));
    }
    if !cert.client_auth {
        return Err(fail(
            config,
            format!("{} is not a TLS client certificate", cert_path.display()),
        ));
    }
    let key_pem = altair_pki::read_text(&key_path).map_err(|e| fail(config, e))?;
    let client_key_der =
        altair_pki::private_key_der(&key_pem, &key_path).map_err(|e| fail(config, e))?;
    if !cert.is_key_of(&key_pem) {
        return Err(fail(
            config,
            format!(
                "{} is not the key of {}",
                key_path.display(),
                cert_path.display()
            ),
        ));
    }
    let mut warnings = Vec::new();
    let now = SystemTime::now();
    for info in [&ca, &cert] {
        let file = info.origin.display();
        if now < info.validity.not_before {
            return Err(fail(config, format!("{file} is not valid yet")));
        }
        if now > info.validity.not_after {
            return Err(fail(config, format!("{file} has expired")));
        }
        if now + EXPIRY_WARNING > info.validity.not_after {
            warnings.push(format!("{file} expires within 30 days"));
        }
    }
    Ok(BakedCerts {
        ca_der: ca.der().to_vec(),
        client_der: cert.der().to_vec(),
        client_key_der,
        files: vec![ca_path, cert_path, key_path],
        warnings,
        created_dev_pki,
    })
}
