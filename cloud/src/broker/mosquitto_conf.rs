//! `DIR/mosquitto.conf`: three listeners, each with its own authentication and ACL.
//!
//! Facts about Mosquitto 2.0.11 (Debian 12) this relies on, checked by starting it:
//! - With `per_listener_settings true`, `allow_anonymous`, `password_file` and `acl_file`
//!   belong to the listener they follow.
//! - `tls_version tlsv1.3` is a minimum; `require_certificate true` +
//!   `use_identity_as_username true` make the client certificate's common name the user
//!   name (what `%u` in an ACL pattern sees).
//! - A WebSockets listener ignores its bind address (it listens on every address), and a
//!   configuration whose only listener is a WebSockets one does not start; here the
//!   plain local listener is always there.
//! - Started as root, Mosquitto switches to the `user` of the configuration (default
//!   `mosquitto`) before it reads certificates, keys, the password file and ACLs, so those
//!   must be readable by that user; started as another user, it stays that user.

use std::fmt::Write as _;
use std::path::Path;

use crate::broker::layout::Layout;
use crate::broker::record::BrokerRecord;

/// The TLS version the device listener requires at least.
pub const DEVICE_TLS_VERSION: &str = "tlsv1.3";
/// The TLS version the browser listener requires at least (every current browser has
/// TLS 1.3, but 1.2 is still safe and lets older ones in).
pub const WEB_TLS_VERSION: &str = "tlsv1.2";

/// Renders `mosquitto.conf` for the broker directory `layout` (absolute) and `record`.
/// `broker_user`: the user Mosquitto should switch to when started as root (`user` line),
/// or `None` to write no `user` line (Mosquitto then runs as whoever starts it, which
/// must be the owner of the files init wrote).
pub fn render(layout: &Layout, record: &BrokerRecord, broker_user: Option<&str>) -> String {
    let p = |path: &Path| path.display().to_string();
    let (web_cert, web_key) = match &record.letsencrypt_dir {
        Some(le) => {
            let (cert, key) = Layout::letsencrypt_files(le);
            (p(&cert), p(&key))
        }
        None => (p(&layout.server_crt()), p(&layout.server_key())),
    };
    let mut c = String::new();
    // `write!` to a String cannot fail.
    let _ = write!(
        c,
        "\
# Written by `altair-cloud broker init` from {record}.
# Do not edit: change broker.toml (or the init options) and run init again.
# Start with: /usr/sbin/mosquitto -c {conf}

per_listener_settings true
",
        record = p(&layout.record()),
        conf = p(&layout.mosquitto_conf()),
    );
    if let Some(user) = broker_user {
        let _ = writeln!(
            c,
            "# Started as root, switch to this user before reading keys, passwords and ACLs.\n\
             user {user}"
        );
    }
    let _ = write!(
        c,
        "\
persistence true
persistence_location {data}
# A persistent session (a device's, a terminal's) that has not come back for two weeks
# is dropped with what was queued for it, so a terminal that crashed leaves nothing for
# ever; a device away that long has no keystrokes worth replaying.
persistent_client_expiration 2w
log_dest stderr
# Keystrokes and their echoes are a few bytes each: without this, Nagle's algorithm and
# the peer's delayed ACK hold each one back about 40 ms.
set_tcp_nodelay true

# Local listener: the disk server on this host. Plain MQTT, 127.0.0.1 only, no login;
# its ACL allows only the disk topics.
listener {local_port} 127.0.0.1
allow_anonymous true
acl_file {acl_local}

# Device listener: MQTT over TLS ({device_tls} at least), a client certificate from our CA
# required; its common name (the device id) is the user name the ACL sees.
listener {tls_port}
cafile {ca}
certfile {server_crt}
keyfile {server_key}
tls_version {device_tls}
require_certificate true
use_identity_as_username true
allow_anonymous false
acl_file {acl}

# Browser listener: MQTT over WebSockets over TLS, user name and password.
# (Mosquitto 2.0.11 ignores bind addresses on WebSockets listeners: it listens on all.)
listener {ws_port}
protocol websockets
certfile {web_cert}
keyfile {web_key}
tls_version {web_tls}
password_file {passwd}
allow_anonymous false
acl_file {acl_web}
",
        data = p(&layout.data_dir()),
        local_port = record.local_port,
        acl_local = p(&layout.acl_local()),
        tls_port = record.tls_port,
        ca = p(&layout.ca_crt()),
        server_crt = p(&layout.server_crt()),
        server_key = p(&layout.server_key()),
        device_tls = DEVICE_TLS_VERSION,
        acl = p(&layout.acl()),
        ws_port = record.ws_port,
        web_tls = WEB_TLS_VERSION,
        passwd = p(&layout.passwd()),
        acl_web = p(&layout.acl_web()),
    );
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of the block starting at `listener <port>`.
    fn listener(conf: &str, port: u16) -> Vec<String> {
        let start = format!("listener {port}");
        conf.lines()
            .skip_while(|l| !l.starts_with(&start))
            .take_while(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn three_listeners_with_their_own_settings() {
        let layout = Layout::new("/srv/b");
        let conf = render(&layout, &BrokerRecord::example(), Some("mosquitto"));
        assert!(conf.contains("\nper_listener_settings true\n"));
        assert!(conf.contains("\nuser mosquitto\n"));
        assert!(conf.contains("\npersistence true\npersistence_location /srv/b/data/\n"));
        assert!(conf.contains("\nset_tcp_nodelay true\n"));
        assert!(conf.contains("\npersistent_client_expiration 2w\n"));

        let local = listener(&conf, 1883);
        assert_eq!(local[0], "listener 1883 127.0.0.1");
        assert!(local.contains(&"acl_file /srv/b/acl-local".into()));

        let dev = listener(&conf, 8884);
        for line in [
            "cafile /srv/b/ca.crt",
            "certfile /srv/b/server.crt",
            "keyfile /srv/b/server.key",
            "tls_version tlsv1.3",
            "require_certificate true",
            "use_identity_as_username true",
            "allow_anonymous false",
            "acl_file /srv/b/acl",
        ] {
            assert!(dev.contains(&line.to_owned()), "{line}: {dev:?}");
        }

        let web = listener(&conf, 8091);
        for line in [
            "protocol websockets",
            "certfile /srv/b/server.crt",
            "password_file /srv/b/passwd",
            "allow_anonymous false",
            "acl_file /srv/b/acl-web",
        ] {
            assert!(web.contains(&line.to_owned()), "{line}: {web:?}");
        }
    }

    #[test]
    fn letsencrypt_files_serve_the_browser_listener_only() {
        let mut r = BrokerRecord::example();
        r.letsencrypt_dir = Some("/etc/letsencrypt/live/h.example".into());
        let conf = render(&Layout::new("/srv/b"), &r, None);
        let web = listener(&conf, 8091);
        assert!(web.contains(&"certfile /etc/letsencrypt/live/h.example/fullchain.pem".into()));
        assert!(web.contains(&"keyfile /etc/letsencrypt/live/h.example/privkey.pem".into()));
        assert!(listener(&conf, 8884).contains(&"certfile /srv/b/server.crt".into()));
        // Not root: no user line.
        assert!(!conf.lines().any(|l| l.starts_with("user ")));
    }
}
