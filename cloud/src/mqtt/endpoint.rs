//! [`Endpoint`]: a broker URL plus the credentials a terminal logs in with, the one way
//! `altair-cloud term` and the hil-tests reach a device's topics.
//!
//! Two kinds of login reach the same topics: a device-style client certificate on the
//! device listener (`mqtts://HOST:8884`), or a user name and password on the browser
//! listener (`wss://HOST:8091`, MQTT over WebSockets over TLS). The disk server uses the
//! third listener, plain MQTT on 127.0.0.1 (`mqtt://127.0.0.1:PORT`), which `broker init`
//! opens only on loopback and allows only the disk topics.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;

use super::transport::{
    Fault, StreamTransport, Transport, client_config, connect_tcp, load_certs, load_key, open_tls,
    open_wss, roots_from, system_roots,
};

/// How the bytes travel to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain MQTT (`mqtt://`), the local listener on 127.0.0.1; default port 1883.
    Mqtt,
    /// MQTT over TLS (`mqtts://`), the device listener; default port 8884.
    Mqtts,
    /// MQTT over WebSockets over TLS (`wss://`), the browser listener; default port 8091.
    Wss,
}

impl Scheme {
    /// The port `broker init` gives this listener.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Mqtt => 1883,
            Self::Mqtts => 8884,
            Self::Wss => 8091,
        }
    }
}

/// A broker address: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// Transport.
    pub scheme: Scheme,
    /// Host name; it must match the broker's certificate.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl BrokerUrl {
    /// Parses `mqtts://HOST[:PORT]`, `wss://HOST[:PORT][/mqtt]`, `mqtt://HOST[:PORT]` or
    /// a bare `HOST[:PORT]` (taken as `mqtts`); a missing port is the scheme's default.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (scheme, rest) = match text.split_once("://") {
            Some(("mqtts" | "ssl" | "tls", rest)) => (Scheme::Mqtts, rest),
            Some(("wss", rest)) => (Scheme::Wss, rest),
            Some(("mqtt" | "tcp", rest)) => (Scheme::Mqtt, rest),
            Some((other, _)) => {
                return Err(format!(
                    "broker \"{text}\": scheme {other}:// is not supported (use mqtts:// for a \
                     client certificate, wss:// for a user name and password, or mqtt:// for \
                     the local listener)"
                ));
            }
            None => (Scheme::Mqtts, text),
        };
        let authority = match scheme {
            // The browser listener answers on any path; `/mqtt` is what browsers use.
            Scheme::Wss => rest.strip_suffix("/mqtt").unwrap_or(rest),
            Scheme::Mqtts | Scheme::Mqtt => rest,
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("broker \"{text}\": \"{port}\" is not a port"))?,
            ),
            None => (authority, scheme.default_port()),
        };
        if host.is_empty() || host.contains('/') {
            return Err(format!(
                "broker \"{text}\": expected mqtts://HOST:PORT, wss://HOST:PORT or \
                 mqtt://HOST:PORT"
            ));
        }
        Ok(Self {
            scheme,
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Mqtt => "mqtt",
            Scheme::Mqtts => "mqtts",
            Scheme::Wss => "wss",
        };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

/// A broker and a login: everything needed to open a connection.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Where the broker is.
    pub url: BrokerUrl,
    /// The CA file the broker's certificate must chain to; `None` trusts the system roots
    /// (a browser listener with Let's Encrypt certificates).
    pub ca: Option<PathBuf>,
    /// A client certificate and its key (PEM files), for the device listener.
    pub identity: Option<(PathBuf, PathBuf)>,
    /// A user name and password, for the browser listener.
    pub credentials: Option<(String, Vec<u8>)>,
}

impl Endpoint {
    /// Opens TCP, TLS (but for `mqtt`) and (for `wss`) the WebSocket upgrade, each step
    /// within `timeout`. The MQTT login itself is [`super::Session::connect`] with
    /// [`Endpoint::login`].
    pub fn open(&self, timeout: Duration) -> Result<Box<dyn Transport + Send>, Fault> {
        let BrokerUrl { scheme, host, port } = &self.url;
        Ok(match scheme {
            Scheme::Mqtt => Box::new(StreamTransport(connect_tcp(host, *port, timeout)?)),
            Scheme::Mqtts => Box::new(open_tls(host, *port, self.tls_config()?, timeout)?),
            Scheme::Wss => Box::new(open_wss(host, *port, self.tls_config()?, timeout)?),
        })
    }

    /// The TLS configuration: the CA (or the system roots) and the client certificate.
    fn tls_config(&self) -> Result<Arc<ClientConfig>, Fault> {
        let roots = match &self.ca {
            Some(ca) => roots_from(ca)?,
            None => system_roots()?,
        };
        let identity = match &self.identity {
            Some((cert, key)) => Some((load_certs(cert)?, load_key(key)?)),
            None => None,
        };
        client_config(roots, identity)
    }

    /// The user name and password for CONNECT, if any.
    pub fn login(&self) -> Option<(&str, &[u8])> {
        self.credentials
            .as_ref()
            .map(|(user, password)| (user.as_str(), password.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_default_ports() {
        let url = |s| BrokerUrl::parse(s).unwrap();
        assert_eq!(
            url("mqtts://h.example:1234").to_string(),
            "mqtts://h.example:1234"
        );
        assert_eq!(
            url("wss://h.example/mqtt").to_string(),
            "wss://h.example:8091"
        );
        assert_eq!(url("wss://h:9").port, 9);
        assert_eq!(url("localhost").to_string(), "mqtts://localhost:8884");
        assert_eq!(url("localhost:1").scheme, Scheme::Mqtts);
    }

    #[test]
    fn bad_urls_say_what_is_expected() {
        let err = |s| BrokerUrl::parse(s).unwrap_err();
        assert!(err("http://h").contains("mqtts://"), "{}", err("http://h"));
        assert_eq!(
            BrokerUrl::parse("mqtt://127.0.0.1:1999")
                .unwrap()
                .to_string(),
            "mqtt://127.0.0.1:1999"
        );
        assert_eq!(BrokerUrl::parse("mqtt://h").unwrap().port, 1883);
        assert!(err("ws://h:1").contains("not supported"));
        assert!(err("h:x").contains("\"x\" is not a port"));
        assert!(err("h:0").contains("not a port"));
        assert!(err("wss://").contains("expected"));
        assert!(err("mqtts://h/path").contains("expected"));
    }
}
