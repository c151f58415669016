//! `DIR/broker.toml`: what `broker init` was told, for `doctor` and for the next `init`.
//!
//! ```toml
//! host = "mqtt.example.com"
//! tls_port = 8884
//! ws_port = 8091
//! local_port = 1883
//! devices = ["kitchen", "lab"]
//! letsencrypt_dir = "/etc/letsencrypt/live/mqtt.example.com"   # optional
//!
//! [[web_users]]            # same as web_users = [{ name = "ada", devices = [...] }]
//! name = "ada"
//! devices = ["kitchen", "lab"]
//! ```
//!
//! It holds no secrets. `init` merges its command line into it and regenerates every other
//! file from it, so editing it (e.g. taking a device from a web user) and re-running
//! `init` applies the change.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file name of the record inside the broker directory.
pub const RECORD_FILE: &str = "broker.toml";

/// The record of a broker directory (see the module documentation for the format).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerRecord {
    /// The broker's DNS name: the server certificate's DNS SAN, what devices connect to.
    pub host: String,
    /// The device listener's port (MQTT over TLS with client certificates).
    pub tls_port: u16,
    /// The browser listener's port (MQTT over WebSockets over TLS, user name + password).
    pub ws_port: u16,
    /// The plain listener's port, bound to 127.0.0.1 (the disk server).
    pub local_port: u16,
    /// Every device id with a certificate in `DIR/devices/`.
    pub devices: Vec<String>,
    /// The web users and the devices each may use.
    #[serde(default)]
    pub web_users: Vec<WebUser>,
    /// The Let's Encrypt directory (holding `fullchain.pem` and `privkey.pem`) the
    /// WebSockets listener uses instead of `server.crt`/`server.key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub letsencrypt_dir: Option<PathBuf>,
}

/// A user of the browser terminal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebUser {
    /// The user name (the password hash is in `DIR/passwd`, nowhere else).
    pub name: String,
    /// The devices whose topics (`altair/<id>/#`) this user may read and write.
    pub devices: Vec<String>,
}

/// Why `broker.toml` could not be read or written.
#[derive(Debug)]
pub enum RecordError {
    /// The file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file could not be written (the error names it).
    Write(altair_pki::PkiError),
    /// The file is not valid TOML or does not have the expected fields.
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// The fields parse but are not consistent (a bad device id, a web user granted an
    /// unknown device, ...).
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Write(e) => e.fmt(f),
            Self::Parse { path, reason } => {
                write!(
                    f,
                    "{} is not a valid broker record: {reason}",
                    path.display()
                )
            }
            Self::Invalid { path, reason } => write!(f, "{}: {reason}", path.display()),
        }
    }
}

impl std::error::Error for RecordError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Write(e) => Some(e),
            _ => None,
        }
    }
}

const HEADER: &str = "\
# Written by `altair-cloud broker init`; read by `altair-cloud doctor`.
# No secrets here. To change something (a port, which devices a web user may use),
# edit this file and run `altair-cloud broker init` on this directory again: it
# regenerates mosquitto.conf, the ACLs and the password file from this record.

";

#[cfg(test)]
impl BrokerRecord {
    /// The record unit tests start from: host `mqtt.example`, the default ports, device
    /// `a`, no web user.
    pub(crate) fn example() -> Self {
        Self {
            host: "mqtt.example".into(),
            tls_port: 8884,
            ws_port: 8091,
            local_port: 1883,
            devices: vec!["a".into()],
            web_users: vec![],
            letsencrypt_dir: None,
        }
    }
}

impl BrokerRecord {
    /// Reads `dir/broker.toml` and checks it ([`BrokerRecord::check`]).
    pub fn load(dir: &Path) -> Result<Self, RecordError> {
        let path = dir.join(RECORD_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| RecordError::Io {
            path: path.clone(),
            source,
        })?;
        Self::parse(&text, &path)
    }

    /// Reads `dir/broker.toml` if it exists.
    pub fn load_if_exists(dir: &Path) -> Result<Option<Self>, RecordError> {
        let path = dir.join(RECORD_FILE);
        match path.try_exists() {
            Ok(true) => Self::load(dir).map(Some),
            Ok(false) => Ok(None),
            Err(source) => Err(RecordError::Io { path, source }),
        }
    }

    /// Parses and checks a record's text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, RecordError> {
        let record: Self = toml::from_str(text).map_err(|e| RecordError::Parse {
            path: path.to_path_buf(),
            reason: e.message().to_owned(),
        })?;
        record.check().map_err(|reason| RecordError::Invalid {
            path: path.to_path_buf(),
            reason,
        })?;
        Ok(record)
    }

    /// Writes `dir/broker.toml` (mode 0644: it holds no secrets).
    pub fn save(&self, dir: &Path) -> Result<(), RecordError> {
        altair_pki::write_public(&dir.join(RECORD_FILE), &self.to_toml())
            .map_err(RecordError::Write)
    }

    /// The record as TOML text, with a header comment.
    pub fn to_toml(&self) -> String {
        // Serializing these plain fields cannot fail, except for a non-UTF-8 path, which
        // `check` and `init` refuse; fall back to an empty body rather than panic.
        let body = toml::to_string(self).unwrap_or_default();
        format!("{HEADER}{body}")
    }

    /// Checks the record is consistent: a valid host and device ids, distinct non-zero
    /// ports, unique devices and web users, and web users granted only known devices.
    pub fn check(&self) -> Result<(), String> {
        altair_pki::check_host_name(&self.host).map_err(|e| e.to_string())?;
        let ports = [
            ("tls_port", self.tls_port),
            ("ws_port", self.ws_port),
            ("local_port", self.local_port),
        ];
        for (i, (name, port)) in ports.iter().enumerate() {
            if *port == 0 {
                return Err(format!("{name} must not be 0"));
            }
            if let Some((other, _)) = ports[..i].iter().find(|(_, p)| p == port) {
                return Err(format!("{name} and {other} are both {port}"));
            }
        }
        if self.devices.is_empty() {
            return Err("no devices: at least one is needed".into());
        }
        for (i, id) in self.devices.iter().enumerate() {
            altair_pki::check_device_id(id).map_err(|e| e.to_string())?;
            if self.devices[..i].contains(id) {
                return Err(format!("device {id:?} is listed twice"));
            }
        }
        for (i, user) in self.web_users.iter().enumerate() {
            check_web_user_name(&user.name)?;
            if self.web_users[..i].iter().any(|u| u.name == user.name) {
                return Err(format!("web user {:?} is listed twice", user.name));
            }
            if let Some(unknown) = user.devices.iter().find(|d| !self.devices.contains(d)) {
                return Err(format!(
                    "web user {:?} is granted device {unknown:?}, which is not in devices",
                    user.name
                ));
            }
        }
        if let Some(dir) = &self.letsencrypt_dir
            && (!dir.is_absolute() || dir.to_str().is_none())
        {
            return Err(format!(
                "letsencrypt_dir {} must be an absolute UTF-8 path",
                dir.display()
            ));
        }
        Ok(())
    }
}

/// Checks a web user name: 1 to 64 characters from `A-Z a-z 0-9 _ - . @`.
///
/// The name goes into the password file (where `:` separates it from the hash) and the
/// ACL (one name per line), so nothing else is accepted.
pub fn check_web_user_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "web user name {name:?} is not allowed: use 1 to 64 characters from \
             A-Z, a-z, 0-9, '_', '-', '.' and '@'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BrokerRecord {
        BrokerRecord {
            host: "mqtt.example.com".into(),
            tls_port: 8884,
            ws_port: 8091,
            local_port: 1883,
            devices: vec!["a".into(), "b".into()],
            web_users: vec![WebUser {
                name: "ada".into(),
                devices: vec!["a".into()],
            }],
            letsencrypt_dir: Some("/etc/letsencrypt/live/mqtt.example.com".into()),
        }
    }

    #[test]
    fn round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let record = sample();
        record.save(dir.path()).unwrap();
        assert_eq!(BrokerRecord::load(dir.path()).unwrap(), record);
        let text = std::fs::read_to_string(dir.path().join(RECORD_FILE)).unwrap();
        assert!(text.contains("host = \"mqtt.example.com\""), "{text}");
        assert!(text.contains("devices = [\"a\", \"b\"]"), "{text}");
    }

    #[test]
    fn the_contract_form_parses() {
        let text = r#"
            host = "h.example"
            tls_port = 8884
            ws_port = 8091
            local_port = 1883
            devices = ["a"]
            web_users = [{ name = "u", devices = ["a"] }]
        "#;
        let r = BrokerRecord::parse(text, Path::new("broker.toml")).unwrap();
        assert_eq!(r.web_users[0].devices, ["a"]);
        assert_eq!(r.letsencrypt_dir, None);
    }

    #[test]
    fn inconsistent_records_are_refused_naming_the_file() {
        let mut r = sample();
        r.web_users[0].devices.push("zzz".into());
        let text = r.to_toml();
        let e = BrokerRecord::parse(&text, Path::new("/x/broker.toml")).unwrap_err();
        let e = e.to_string();
        assert!(e.contains("/x/broker.toml") && e.contains("zzz"), "{e}");

        let mut r = sample();
        r.ws_port = r.tls_port;
        assert!(r.check().unwrap_err().contains("both 8884"));
        let mut r = sample();
        r.devices.push("../etc".into());
        assert!(r.check().is_err());
        let e = BrokerRecord::parse("host = 3", Path::new("b.toml")).unwrap_err();
        assert!(matches!(e, RecordError::Parse { .. }), "{e}");
    }

    #[test]
    fn web_user_names() {
        assert!(check_web_user_name("ada.lovelace@x-y_z").is_ok());
        for bad in ["", "a:b", "a b", "a\nb", "é"] {
            assert!(check_web_user_name(bad).is_err(), "{bad:?}");
        }
    }
}
