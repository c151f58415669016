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

use std::path::{Path, PathBuf};

use altair_pki::{CertInfo, write_public};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::broker::layout::Layout;
use crate::broker::record::BrokerRecord;
use crate::mqtt::BrokerUrl;

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

/// What `altair-cloud web serve` was asked for.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// The port on 127.0.0.1 (0: any free one).
    pub port: u16,
    /// A directory to serve instead of the embedded page.
    pub dir: Option<PathBuf>,
    /// A broker directory whose record gives the login defaults and whose server
    /// certificate gives the Chromium pin.
    pub broker_dir: Option<PathBuf>,
    /// The broker URL default, ahead of the broker directory's.
    pub broker: Option<String>,
    /// The user name default, ahead of the broker directory's.
    pub user: Option<String>,
    /// The channel default, ahead of the broker directory's.
    pub channel: Option<String>,
}

/// A private-CA broker's trust material for the message `web serve` prints: the CA file
/// to import, and the server key's pin ([`spki_pin`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trust {
    /// The broker directory's `ca.crt`.
    pub ca: PathBuf,
    /// The pin of its `server.crt`.
    pub pin: String,
}

/// Checks the options and makes the site to serve, with the trust material when the
/// broker directory's browser listener uses its own CA (not Let's Encrypt).
pub fn prepare(opts: &ServeOptions) -> Result<(serve::Site, Option<Trust>), String> {
    let mut config = PageConfig::default();
    let mut trust = None;
    if let Some(dir) = &opts.broker_dir {
        let record = match BrokerRecord::load_if_exists(dir) {
            Ok(Some(record)) => record,
            Ok(None) => {
                return Err(format!(
                    "{} is not a broker directory (no broker.toml): make it with \
                     `altair-cloud broker init {} --host localhost --device 1 \
                     --web-user NAME --web-password-file FILE`",
                    dir.display(),
                    dir.display()
                ));
            }
            Err(e) => return Err(e.to_string()),
        };
        config = PageConfig::from_record(&record);
        if record.letsencrypt_dir.is_none() {
            let layout = Layout::new(dir);
            trust = Some(Trust {
                pin: spki_pin(&layout.server_crt()).map_err(|e| e.to_string())?,
                ca: layout.ca_crt(),
            });
        }
    }
    if let Some(url) = &opts.broker {
        BrokerUrl::parse(url).map_err(|e| format!("--broker: {e}"))?;
        config.broker = Some(url.clone());
    }
    if let Some(channel) = &opts.channel {
        altair_pki::check_device_id(channel).map_err(|e| format!("--channel: {e}"))?;
        config.channel = Some(channel.clone());
    }
    if let Some(user) = &opts.user {
        config.user = Some(user.clone());
    }
    let source = match &opts.dir {
        Some(dir) if !dir.join(assets::INDEX).is_file() => {
            return Err(format!(
                "{} has no index.html: build the page first (cd web && npm ci && npm run build)",
                dir.display()
            ));
        }
        Some(dir) => serve::Source::Dir(dir.clone()),
        None => serve::Source::Embedded,
    };
    let site = serve::Site {
        source,
        config_json: Some(config.to_json()),
    };
    Ok((site, trust))
}

/// `altair-cloud web serve`: binds 127.0.0.1, prints the page's URL (and, for a
/// private-CA broker, how a browser can trust it), then serves until the process ends.
pub fn serve_page(opts: ServeOptions) -> Result<(), String> {
    let (site, trust) = prepare(&opts)?;
    let listener = serve::bind(opts.port).map_err(|e| format!("127.0.0.1:{}: {e}", opts.port))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let url = format!("http://127.0.0.1:{port}/");
    println!("altair-cloud web: the browser terminal is at {url}");
    if let Some(Trust { ca, pin }) = trust {
        println!(
            "The broker's browser listener has a certificate from its own CA, which browsers \
             do not trust. Import {} as a certificate authority in the browser, or start \
             Chromium trusting just that server key:\n  chromium --user-data-dir=\"$(mktemp -d)\" \
             --ignore-certificate-errors-spki-list={pin} {url}",
            ca.display()
        );
    }
    // Scripts and the browser test read the URL as soon as it is printed.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    serve::run(&listener, site).map_err(|e| e.to_string())
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
    fn serve_options_are_checked_and_given_defaults_win() {
        let tmp = tempfile::tempdir().unwrap();
        let not_a_broker = ServeOptions {
            broker_dir: Some(tmp.path().to_path_buf()),
            ..ServeOptions::default()
        };
        let e = prepare(&not_a_broker).unwrap_err();
        assert!(
            e.contains("is not a broker directory (no broker.toml)"),
            "{e}"
        );
        let unbuilt = ServeOptions {
            dir: Some(tmp.path().to_path_buf()),
            ..ServeOptions::default()
        };
        assert!(prepare(&unbuilt).unwrap_err().contains("has no index.html"));
        let bad = ServeOptions {
            broker: Some("http://h".into()),
            ..ServeOptions::default()
        };
        assert!(prepare(&bad).unwrap_err().starts_with("--broker: "));
        let bad = ServeOptions {
            channel: Some("a/b".into()),
            ..ServeOptions::default()
        };
        assert!(prepare(&bad).unwrap_err().starts_with("--channel: "));

        let given = ServeOptions {
            broker: Some("wss://h.example:8091".into()),
            user: Some("ada".into()),
            channel: Some("7".into()),
            ..ServeOptions::default()
        };
        let (site, trust) = prepare(&given).unwrap();
        assert!(matches!(site.source, serve::Source::Embedded));
        assert_eq!(trust, None);
        assert_eq!(
            site.config_json.as_deref(),
            Some("{\"broker\": \"wss://h.example:8091\", \"user\": \"ada\", \"channel\": \"7\"}\n")
        );
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
