//! Reading the configuration from the environment and the optional config file.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{CertsSource, Config};

/// Every environment variable the configuration reads (for `rerun-if-env-changed`).
pub const ENV_VARS: [&str; 5] = [
    "ALTAIR_CONFIG",
    "ALTAIR_MQTT_HOST",
    "ALTAIR_MQTT_PORT",
    "ALTAIR_CHANNEL",
    "ALTAIR_CERTS_DIR",
];

/// The development PKI, relative to the project root.
pub const DEV_CERTS_DIR: &str = "certs/dev";

/// Why the configuration cannot be used.
#[derive(Debug)]
pub enum ConfigError {
    /// A value is malformed. `origin` says where it came from, e.g. `ALTAIR_MQTT_PORT`
    /// or `mqtt_port in /etc/altair.toml`.
    BadValue {
        /// Where the value came from.
        origin: String,
        /// The value as given.
        value: String,
        /// What a good value looks like.
        reason: String,
    },
    /// The config file cannot be read or parsed.
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::BadValue {
                origin,
                value,
                reason,
            } => {
                write!(f, "{origin}={value:?}: {reason}")
            }
            ConfigError::File { path, reason } => {
                write!(f, "config file {}: {reason}", path.display())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// The config file's keys (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    mqtt_host: Option<String>,
    mqtt_port: Option<u16>,
    channel: Option<String>,
    certs_dir: Option<PathBuf>,
}

/// Where the configuration is read from: an environment lookup (so tests can pass their
/// own) and the project root (for the default certificate directory).
pub struct Sources<'a> {
    /// Looks up an environment variable; empty values count as unset.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The project root.
    pub root: &'a Path,
}

impl Sources<'_> {
    fn var(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|v| !v.trim().is_empty())
    }

    /// Resolves the configuration. Also returns the config file it read, if any, for
    /// `rerun-if-changed`.
    pub fn resolve(&self) -> Result<(Config, Option<PathBuf>), ConfigError> {
        let file_path = self.var("ALTAIR_CONFIG").map(PathBuf::from);
        let file = match &file_path {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let in_file = |key: &str| match &file_path {
            Some(p) => format!("{key} in {}", p.display()),
            None => key.to_owned(),
        };

        let (mqtt_host, host_origin) = match (self.var("ALTAIR_MQTT_HOST"), file.mqtt_host) {
            (Some(h), _) => (h, "ALTAIR_MQTT_HOST".to_owned()),
            (None, Some(h)) => (h, in_file("mqtt_host")),
            (None, None) => ("localhost".to_owned(), "default".to_owned()),
        };
        altair_pki::check_host_name(&mqtt_host).map_err(|e| bad(&host_origin, &mqtt_host, e))?;

        let mqtt_port = match (self.var("ALTAIR_MQTT_PORT"), file.mqtt_port) {
            (Some(p), _) => parse_port(&p)?,
            (None, Some(0)) => return Err(bad(&in_file("mqtt_port"), "0", "not a port")),
            (None, Some(p)) => p,
            (None, None) => 8884,
        };

        let (channel, channel_origin) = match (self.var("ALTAIR_CHANNEL"), file.channel) {
            (Some(c), _) => (c, "ALTAIR_CHANNEL".to_owned()),
            (None, Some(c)) => (c, in_file("channel")),
            (None, None) => ("1".to_owned(), "default".to_owned()),
        };
        altair_pki::check_device_id(&channel).map_err(|e| bad(&channel_origin, &channel, e))?;

        let certs = match (self.var("ALTAIR_CERTS_DIR"), file.certs_dir) {
            (Some(d), _) => CertsSource::Given(PathBuf::from(d)),
            (None, Some(d)) => {
                let base = file_path
                    .as_deref()
                    .and_then(Path::parent)
                    .unwrap_or(Path::new(""));
                CertsSource::Given(base.join(d))
            }
            (None, None) => CertsSource::Development(self.root.join(DEV_CERTS_DIR)),
        };
        Ok((
            Config {
                mqtt_host,
                mqtt_port,
                channel,
                certs,
            },
            file_path,
        ))
    }
}

fn bad(origin: &str, value: &str, reason: impl fmt::Display) -> ConfigError {
    ConfigError::BadValue {
        origin: origin.to_owned(),
        value: value.to_owned(),
        reason: reason.to_string(),
    }
}

fn parse_port(text: &str) -> Result<u16, ConfigError> {
    text.trim()
        .parse::<u16>()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| bad("ALTAIR_MQTT_PORT", text, "not a port number (1-65535)"))
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}
