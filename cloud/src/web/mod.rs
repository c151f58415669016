//! The browser terminal (`web/` at the top of the repository) on the Rust side: the
//! built page embedded in the binary ([`assets`]), `altair-cloud web serve` ([`serve`]),
//! the page written into a broker directory by `broker init` ([`write_page`]), its
//! `config.json` ([`PageConfig`]), and the public-key pin that lets Chromium accept the
//! broker's private-CA certificate ([`spki_pin`]).
//!
//! The page is built with npm (`web/build.mjs`) into `web/dist/`, which is committed, so
//! a clone builds and serves it with cargo alone; `scripts/test.sh` rebuilds it and
//! fails if the committed files differ from what the sources give.

pub mod assets;
pub mod serve;

use std::path::Path;

use altair_pki::{CertInfo, write_public};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::broker::record::BrokerRecord;

/// The defaults the page's login form starts with, served as `config.json` beside it.
/// Nothing secret: the page asks for the password.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageConfig {
    /// The broker's browser listener, `wss://HOST:PORT`.
    pub broker: Option<String>,
    /// A web user name.
    pub user: Option<String>,
    /// The device's channel.
    pub channel: Option<String>,
}

impl PageConfig {
    /// The defaults for a broker directory's record: its browser listener, its first
    /// web user and that user's first device (else the first device).
    pub fn from_record(record: &BrokerRecord) -> PageConfig {
        let user = record.web_users.first();
        PageConfig {
            broker: Some(format!("wss://{}:{}", record.host, record.ws_port)),
            user: user.map(|u| u.name.clone()),
            channel: user
                .and_then(|u| u.devices.first())
                .or(record.devices.first())
                .cloned(),
        }
    }

    /// The JSON text of `config.json`: an object with the fields that are set.
    pub fn to_json(&self) -> String {
        let fields: Vec<String> = [
            ("broker", &self.broker),
            ("user", &self.user),
            ("channel", &self.channel),
        ]
        .into_iter()
        .filter_map(|(name, value)| {
            value
                .as_ref()
                .map(|v| format!("\"{name}\": {}", json_string(v)))
        })
        .collect();
        format!("{{{}}}\n", fields.join(", "))
    }
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            // `<` too, so the text can never close a script element it is pasted into.
            c if (c as u32) < 0x20 || c == '<' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes the page and its `config.json` into `dir` (created if missing), mode 0644:
/// what a static web server needs.
pub fn write_page(dir: &Path, config: &PageConfig) -> Result<(), altair_pki::PkiError> {
    std::fs::create_dir_all(dir).map_err(|source| altair_pki::PkiError::Io {
        path: dir.to_path_buf(),
        action: "create directory",
        source,
    })?;
    for asset in assets::ASSETS {
        write_public(&dir.join(asset.name), asset.text)?;
    }
    write_public(&dir.join(assets::CONFIG_JSON), &config.to_json())
}

/// The SHA-256 hash of a certificate's SubjectPublicKeyInfo, in base64: the value
/// Chromium's `--ignore-certificate-errors-spki-list` takes to accept that one server
/// key without trusting its CA (together with `--user-data-dir`).
pub fn spki_pin(cert: &Path) -> Result<String, altair_pki::PkiError> {
    let info = CertInfo::load(cert)?;
    Ok(B64.encode(ring::digest::digest(&ring::digest::SHA256, &info.spki)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_json_escapes_and_leaves_out_unset_fields() {
        let config = PageConfig {
            broker: Some("wss://h.example:8091".into()),
            user: Some("a\"b\\c</".into()),
            channel: None,
        };
        assert_eq!(
            config.to_json(),
            "{\"broker\": \"wss://h.example:8091\", \"user\": \"a\\\"b\\\\c\\u003c/\"}\n"
        );
        assert_eq!(PageConfig::default().to_json(), "{}\n");
    }

    #[test]
    fn config_from_a_record_names_the_browser_listener_and_a_granted_device() {
        let mut record = BrokerRecord::example();
        assert_eq!(
            PageConfig::from_record(&record).channel.as_deref(),
            Some("a")
        );
        record.devices.push("b".into());
        record.web_users.push(crate::broker::record::WebUser {
            name: "ada".into(),
            devices: vec!["b".into()],
        });
        let config = PageConfig::from_record(&record);
        assert_eq!(
            config.broker.as_deref(),
            Some(format!("wss://{}:{}", record.host, record.ws_port).as_str())
        );
        assert_eq!(config.user.as_deref(), Some("ada"));
        assert_eq!(config.channel.as_deref(), Some("b"));
    }
}
