//! Turning a network [`Fault`] into what was found and the fix, for the listener and the
//! identity a check used.

use std::path::{Path, PathBuf};

use rustls::{AlertDescription as Alert, CertificateError, Error as TlsError};

use super::Ctx;
use super::passwords::{self, Verdict};
use crate::mqtt::{Fault, connack_meaning};

/// The listener a network check talks to, and as whom.
#[derive(Clone, Copy)]
pub(crate) enum Target<'a> {
    /// The device listener, with this device's certificate.
    Device(&'a str),
    /// The browser listener, as this web user with the password in this file.
    Web(&'a str, &'a Path),
    /// The plain listener on 127.0.0.1.
    Local,
}

/// Where a check connects, for messages and fixes.
pub(crate) struct Endpoint<'c, 'a> {
    /// The check's context.
    pub ctx: &'c Ctx<'a>,
    /// The listener and identity.
    pub target: Target<'c>,
    /// The host connected to.
    pub host: &'c str,
    /// The port connected to.
    pub port: u16,
}

impl Endpoint<'_, '_> {
    /// `host:port`.
    pub(crate) fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The timeout of one step, in seconds, for messages.
    fn secs(&self) -> u64 {
        self.ctx.options.timeout.as_secs().max(1)
    }

    /// What the listener is, for messages.
    fn kind(&self) -> &'static str {
        match self.target {
            Target::Device(_) => "device (MQTT over TLS)",
            Target::Web(..) => "browser (WebSockets)",
            Target::Local => "plain local",
        }
    }

    /// The device whose certificate this check presents, if any.
    fn device(&self) -> Option<&str> {
        match self.target {
            Target::Device(id) => Some(id),
            _ => None,
        }
    }

    /// Whether the listener presents the Let's Encrypt certificate.
    pub(crate) fn letsencrypt(&self) -> Option<&PathBuf> {
        match self.target {
            Target::Web(..) => self.ctx.setup.letsencrypt_dir.as_ref(),
            _ => None,
        }
    }

    /// Explains a fault: what was found, and the fix.
    pub(crate) fn explain(&self, fault: &Fault) -> (String, String) {
        let addr = self.addr();
        let secs = self.secs();
        match fault {
            Fault::Setup(msg) => (msg.clone(), self.setup_fix()),
            Fault::Resolve(e) => (
                format!("cannot resolve \"{}\": {e}", self.host),
                format!(
                    "give {} a DNS record (or an /etc/hosts line), or correct the host: {}",
                    self.host,
                    self.ctx.init_command()
                ),
            ),
            Fault::Refused => (
                format!("connection refused on {addr}"),
                format!(
                    "{}; port {} must be a listener in mosquitto.conf",
                    self.ctx.start_broker(),
                    self.port
                ),
            ),
            Fault::ConnectTimeout => (
                format!("no answer from {addr} within {secs} s"),
                format!(
                    "a firewall may drop port {} (open it, e.g. ufw allow {}/tcp), or \"{}\" \
                     points at another machine",
                    self.port, self.port, self.host
                ),
            ),
            Fault::Connect(e) => (
                format!("cannot connect to {addr}: {e}"),
                format!("check the network route to {}", self.host),
            ),
            Fault::Tls(err) => self.explain_tls(err),
            Fault::ClosedInHandshake => (
                format!("{addr} closed the connection during the TLS handshake"),
                format!(
                    "port {} must be a TLS listener; look at the broker's log (journalctl -u \
                     {}): it may be unable to read its certificate or key (mosquitto runs as \
                     user mosquitto)",
                    self.port,
                    super::files::broker_unit(self.ctx.dir)
                ),
            ),
            Fault::HandshakeTimeout => (
                format!("no TLS answer from {addr} within {secs} s"),
                format!(
                    "port {} must be a TLS listener in mosquitto.conf",
                    self.port
                ),
            ),
            Fault::WebSocket(msg) => (
                format!("the WebSocket upgrade on {addr} failed: {msg}"),
                format!(
                    "port {} must be the `protocol websockets` listener in mosquitto.conf; \
                     rerun {} and {}",
                    self.port,
                    self.ctx.init_command(),
                    self.ctx.restart()
                ),
            ),
            Fault::Closed
            | Fault::Io(_)
            | Fault::Timeout
            | Fault::NoPingResp
            | Fault::Protocol(_) => self.explain_transport(fault),
            Fault::ConnAck(code) => self.explain_connack(*code),
            Fault::ClosedAfterConnect | Fault::NoConnAck => (
                format!(
                    "{addr} {} instead of answering MQTT CONNECT (is it the {} listener?)",
                    if matches!(fault, Fault::NoConnAck) {
                        format!("stayed silent for {secs} s")
                    } else {
                        "closed the connection".to_owned()
                    },
                    self.kind()
                ),
                format!(
                    "look at the broker's log (journalctl -u {}); {}",
                    super::files::broker_unit(self.ctx.dir),
                    self.login_fix()
                ),
            ),
            Fault::SubscribeRefused | Fault::NotDelivered | Fault::NoSubAck | Fault::NoPubAck => {
                self.explain_round_trip(fault, secs)
            }
        }
    }

    /// Fix for a local file the check could not use.
    fn setup_fix(&self) -> String {
        match self.target {
            Target::Device(id) => self.ctx.reissue_device(id),
            Target::Web(user, file) => format!(
                "write the password of web user {user} into {} (one line)",
                file.display()
            ),
            Target::Local => format!("run: {}", self.ctx.init_command()),
        }
    }

    /// How to make the broker accept this login.
    fn login_fix(&self) -> String {
        match self.target {
            Target::Device(_) => format!(
                "the device listener needs require_certificate true and \
                 use_identity_as_username true; rerun {} and {}",
                self.ctx.init_command(),
                self.ctx.restart()
            ),
            Target::Web(user, file) => match passwords::verdict(self.ctx, user, file) {
                Verdict::Matches => format!(
                    "the password does match {}, so the running broker has not loaded it: {}",
                    self.ctx.show("passwd"),
                    self.ctx.restart()
                ),
                _ => format!(
                    "the password in {} is not {user}'s in {}: {}",
                    file.display(),
                    self.ctx.show("passwd"),
                    passwords::set_password(self.ctx, user, file)
                ),
            },
            Target::Local => format!(
                "the 127.0.0.1 listener must allow local clients; rerun {} and {}",
                self.ctx.init_command(),
                self.ctx.restart()
            ),
        }
    }

    /// Explains CONNACK refusals.
    fn explain_connack(&self, code: u8) -> (String, String) {
        let who = match self.target {
            Target::Device(id) => format!("device {id}"),
            Target::Web(user, _) => format!("web user {user}"),
            Target::Local => "an anonymous local client".to_owned(),
        };
        let detail = format!(
            "the broker refused the MQTT login of {who} (CONNACK {code}: {})",
            connack_meaning(code)
        );
        (detail, self.login_fix())
    }

    /// Explains a broken connection after the handshake.
    fn explain_transport(&self, fault: &Fault) -> (String, String) {
        let addr = self.addr();
        let detail = match fault {
            Fault::Io(e) => format!("connection to {addr} failed: {e}"),
            Fault::Timeout | Fault::NoPingResp => format!("{addr} stopped answering"),
            Fault::Protocol(msg) => format!("{addr} does not speak MQTT 3.1.1 as expected: {msg}"),
            _ => format!("{addr} closed the connection"),
        };
        let fix = format!(
            "look at the broker's log (journalctl -u {})",
            super::files::broker_unit(self.ctx.dir)
        );
        (detail, fix)
    }

    /// Explains a failed subscribe/publish round trip.
    fn explain_round_trip(&self, fault: &Fault, secs: u64) -> (String, String) {
        let id = self.device().unwrap_or("?");
        let topic = format!("altair/{id}/doctor");
        let detail = match fault {
            Fault::SubscribeRefused => format!("the broker refused the subscription to {topic}"),
            Fault::NoSubAck => format!("no SUBACK for {topic} within {secs} s"),
            Fault::NoPubAck => format!("no PUBACK for a QoS 1 message on {topic} within {secs} s"),
            _ => format!("a QoS 1 message published to {topic} did not come back within {secs} s"),
        };
        let fix = format!(
            "{} must let {id} read and write altair/{id}/# (pattern readwrite altair/%u/#); \
             rerun {} and {}",
            self.ctx.show("acl"),
            self.ctx.init_command(),
            self.ctx.restart()
        );
        (detail, fix)
    }

    /// Explains TLS failures: our verdict on the broker, or the broker's alert about us.
    fn explain_tls(&self, err: &TlsError) -> (String, String) {
        match err {
            TlsError::InvalidCertificate(cert) => self.explain_server_cert(cert),
            TlsError::AlertReceived(alert) => self.explain_alert(*alert),
            TlsError::InvalidMessage(_)
            | TlsError::PeerMisbehaved(_)
            | TlsError::InappropriateMessage { .. }
            | TlsError::InappropriateHandshakeMessage { .. } => (
                format!("{} does not speak TLS ({err})", self.addr()),
                format!(
                    "port {} must be a TLS listener in mosquitto.conf (the plain listener is \
                     127.0.0.1:{})",
                    self.port, self.ctx.setup.local_port
                ),
            ),
            other => (
                format!("TLS with {} failed: {other}", self.addr()),
                format!("look at the broker's log; {}", self.ctx.restart()),
            ),
        }
    }

    /// Explains why we rejected the broker's certificate.
    fn explain_server_cert(&self, err: &CertificateError) -> (String, String) {
        let addr = self.addr();
        let (file, remake) = match self.letsencrypt() {
            Some(le) => (
                le.join("fullchain.pem").display().to_string(),
                format!(
                    "renew it: certbot certonly -d {}, then {}",
                    self.host,
                    self.ctx.restart()
                ),
            ),
            None => (self.ctx.show("server.crt"), self.ctx.reissue_server()),
        };
        let trusted = match self.letsencrypt() {
            Some(_) => "a CA this machine trusts".to_owned(),
            None => self.ctx.show("ca.crt"),
        };
        match err {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                (
                    format!(
                        "the certificate the broker presents on {addr} is not valid for \"{}\"{}",
                        self.host,
                        presented_names(err)
                    ),
                    format!(
                        "mosquitto.conf must use {file} for port {}: {remake}",
                        self.port
                    ),
                )
            }
            CertificateError::UnknownIssuer | CertificateError::BadSignature => (
                format!("the certificate the broker presents on {addr} is not signed by {trusted}"),
                format!(
                    "mosquitto runs with other certificate files than {file}: {}",
                    self.ctx.restart()
                ),
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
                format!("the certificate the broker presents on {addr} has expired"),
                remake,
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => (
                format!("the certificate the broker presents on {addr} is not valid yet"),
                format!("check this machine's clock (timedatectl); {remake}"),
            ),
            other => (
                format!("the certificate the broker presents on {addr} was rejected: {other:?}"),
                remake,
            ),
        }
    }

    /// Explains a TLS alert from the broker (its verdict on our client certificate).
    fn explain_alert(&self, alert: Alert) -> (String, String) {
        let Some(id) = self.device() else {
            return self.explain_other_alert(alert);
        };
        let cert = format!("devices/{id}.crt");
        let reissue = self.ctx.reissue_device(id);
        match alert {
            Alert::UnknownCA
            | Alert::BadCertificate
            | Alert::CertificateUnknown
            | Alert::UnsupportedCertificate
            | Alert::DecryptError => (
                format!(
                    "the broker rejected the client certificate {} (TLS alert {alert:?}): it \
                     does not trust the CA that signed it",
                    self.ctx.show(&cert)
                ),
                format!(
                    "if its chain check above fails: {reissue}; otherwise mosquitto.conf's \
                     cafile must be {}: {}",
                    self.ctx.show("ca.crt"),
                    self.ctx.restart()
                ),
            ),
            Alert::CertificateExpired => (
                format!(
                    "the broker says the client certificate {} has expired",
                    self.ctx.show(&cert)
                ),
                format!("{reissue} (and check the broker's clock)"),
            ),
            Alert::CertificateRevoked => (
                format!(
                    "the broker says the client certificate {} is revoked",
                    self.ctx.show(&cert)
                ),
                reissue,
            ),
            other => self.explain_other_alert(other),
        }
    }

    /// Explains an alert that is not about our client certificate.
    fn explain_other_alert(&self, alert: Alert) -> (String, String) {
        let addr = self.addr();
        match alert {
            Alert::CertificateRequired => (
                format!("{addr} wants a client certificate"),
                format!(
                    "port {} is the device listener, not this one; check the ports: {}",
                    self.port,
                    self.ctx.init_command()
                ),
            ),
            Alert::ProtocolVersion => (
                format!("{addr} does not speak TLS 1.3"),
                format!(
                    "the listener needs tls_version tlsv1.3 (Mosquitto with OpenSSL 1.1.1 or \
                     later); rerun {} and {}",
                    self.ctx.init_command(),
                    self.ctx.restart()
                ),
            ),
            other => (
                format!("{addr} ended the TLS handshake with alert {other:?}"),
                format!("look at the broker's log; {}", self.ctx.restart()),
            ),
        }
    }
}

/// ` (it is for "a", "b")` from a name-mismatch error that lists the certificate's names.
fn presented_names(err: &CertificateError) -> String {
    match err {
        CertificateError::NotValidForNameContext { presented, .. } if !presented.is_empty() => {
            let names: Vec<String> = presented.iter().map(|n| bare_name(n)).collect();
            format!(" (it is for {})", names.join(", "))
        }
        _ => String::new(),
    }
}

/// `"example.com"` from rustls' `DnsName("example.com")`; other forms as they are.
fn bare_name(presented: &str) -> String {
    presented
        .strip_prefix("DnsName(")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or(presented)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::{Options, Setup, fixture};

    #[test]
    fn every_fault_has_a_detail_and_a_fix() {
        let setup = Setup {
            web_users: vec!["ada".into()],
            ..fixture::setup()
        };
        let options = Options::default();
        let ctx = fixture::ctx(&setup, &options);
        let faults = [
            Fault::Setup("x".into()),
            Fault::Resolve("x".into()),
            Fault::Refused,
            Fault::ConnectTimeout,
            Fault::Connect("x".into()),
            Fault::Tls(TlsError::AlertReceived(Alert::UnknownCA)),
            Fault::Tls(TlsError::AlertReceived(Alert::CertificateExpired)),
            Fault::Tls(TlsError::AlertReceived(Alert::ProtocolVersion)),
            Fault::Tls(TlsError::AlertReceived(Alert::HandshakeFailure)),
            Fault::Tls(TlsError::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
            Fault::Tls(TlsError::InvalidCertificate(
                CertificateError::NotValidForName,
            )),
            Fault::Tls(TlsError::InvalidCertificate(CertificateError::Expired)),
            Fault::Tls(TlsError::InvalidCertificate(CertificateError::NotValidYet)),
            Fault::Tls(TlsError::General("x".into())),
            Fault::ClosedInHandshake,
            Fault::HandshakeTimeout,
            Fault::WebSocket("x".into()),
            Fault::Closed,
            Fault::Timeout,
            Fault::Io("x".into()),
            Fault::Protocol("x".into()),
            Fault::ConnAck(5),
            Fault::ClosedAfterConnect,
            Fault::NoConnAck,
            Fault::SubscribeRefused,
            Fault::NoSubAck,
            Fault::NoPubAck,
            Fault::NoPingResp,
            Fault::NotDelivered,
        ];
        let pw = Path::new("/pw");
        for target in [Target::Device("a"), Target::Web("ada", pw), Target::Local] {
            let endpoint = Endpoint {
                ctx: &ctx,
                target,
                host: "mqtt.example",
                port: 8884,
            };
            for fault in &faults {
                let (detail, fix) = endpoint.explain(fault);
                assert!(!detail.is_empty() && !fix.is_empty(), "{fault:?}");
            }
        }
        let device = Endpoint {
            ctx: &ctx,
            target: Target::Device("a"),
            host: "mqtt.example",
            port: 8884,
        };
        let (detail, fix) = device.explain(&Fault::Tls(TlsError::AlertReceived(Alert::UnknownCA)));
        assert!(detail.contains("/srv/b/devices/a.crt"), "{detail}");
        assert!(fix.contains("broker init"), "{fix}");
        let (detail, fix) = device.explain(&Fault::NotDelivered);
        assert!(detail.contains("altair/a/doctor"), "{detail}");
        assert!(fix.contains("/srv/b/acl"), "{fix}");
    }

    #[test]
    fn presented_names_are_shown_bare() {
        assert_eq!(bare_name("DnsName(\"other.example\")"), "\"other.example\"");
        assert_eq!(bare_name("IpAddress(1.2.3.4)"), "IpAddress(1.2.3.4)");
    }
}
