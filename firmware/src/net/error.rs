//! [`LinkError`]: why a link could not be opened or went down, split by cause so the
//! run loop can log the right thing and pick the right retry.

use embedded_io_async::ErrorKind;
use embedded_tls::TlsError;
use minimq::ReasonCode;

/// Why opening or using a [`crate::net::Link`] failed.
#[derive(Debug, Clone, Copy)]
pub enum LinkError {
    /// The TLS 1.3 handshake failed for a reason other than a certificate: the peer does
    /// not speak TLS 1.3 with AES-GCM and secp256r1, aborted the handshake, or sent
    /// something embedded-tls could not parse.
    Handshake(TlsError),
    /// The broker's certificate is not signed by the pinned CA, does not name the
    /// configured host in a DNS subject alternative name, or was not proven (the
    /// handshake skipped the certificate or its signature).
    ServerCertificate,
    /// The broker refused the device's client certificate. In TLS 1.3 the client's part
    /// of the handshake ends before the server judges the certificate, so this shows as
    /// an alert on the first read after the handshake (before the CONNACK).
    ClientCertificateRejected,
    /// The broker answered CONNECT with a failure reason code.
    Refused(ReasonCode),
    /// The byte stream closed or failed (including a TLS close_notify or a broker
    /// DISCONNECT).
    Closed(ErrorKind),
    /// No answer in time: the handshake, the CONNACK, a write, or a keepalive PINGRESP.
    Timeout,
    /// The broker broke the protocol, or the session's buffers cannot hold what was asked
    /// (a topic or payload too large, too many messages in flight).
    Protocol,
    /// The session's transmit buffer is full of messages the broker has not acknowledged
    /// yet: poll, then try again. The link is still up.
    Busy,
    /// The configuration cannot work: a topic, client id or key the libraries reject.
    Config,
}

impl core::fmt::Display for LinkError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LinkError::Handshake(e) => write!(f, "TLS handshake failed: {e:?}"),
            LinkError::ServerCertificate => {
                f.write_str("the broker's certificate is not from the pinned CA for this host")
            }
            LinkError::ClientCertificateRejected => {
                f.write_str("the broker rejected the device certificate")
            }
            LinkError::Refused(code) => write!(f, "the broker refused CONNECT: {code:?}"),
            LinkError::Closed(kind) => write!(f, "connection closed: {kind:?}"),
            LinkError::Timeout => f.write_str("timed out"),
            LinkError::Protocol => f.write_str("MQTT protocol or buffer limit error"),
            LinkError::Busy => f.write_str("transmit buffer full; try again after polling"),
            LinkError::Config => f.write_str("invalid link configuration"),
        }
    }
}

impl core::error::Error for LinkError {}

/// Classifies a TLS error seen by [`crate::net::Link::connect`]'s handshake.
pub(crate) fn from_handshake(e: TlsError) -> LinkError {
    match e {
        TlsError::InvalidCertificate
        | TlsError::InvalidCertificateEntry
        | TlsError::InvalidSignature
        | TlsError::InvalidSignatureScheme => LinkError::ServerCertificate,
        TlsError::Io(kind) => LinkError::Closed(kind),
        TlsError::ConnectionClosed | TlsError::IoError => LinkError::Closed(ErrorKind::Other),
        TlsError::InvalidPrivateKey => LinkError::Config,
        other => LinkError::Handshake(other),
    }
}

/// Classifies a TLS error seen after the handshake. `before_connack` is whether no MQTT
/// answer has come yet, which is when a rejected client certificate shows.
pub(crate) fn from_tls(e: TlsError, before_connack: bool) -> LinkError {
    match e {
        // embedded-tls turns every post-handshake alert other than close_notify into
        // InternalError, without its description.
        TlsError::InternalError if before_connack => LinkError::ClientCertificateRejected,
        TlsError::Io(ErrorKind::Interrupted) => LinkError::Closed(ErrorKind::Interrupted),
        TlsError::Io(kind) => LinkError::Closed(kind),
        TlsError::ConnectionClosed | TlsError::IoError => LinkError::Closed(ErrorKind::Other),
        _ => LinkError::Protocol,
    }
}

/// Classifies a minimq error. `before_connack` as in [`from_tls`]; `silent` is whether
/// the broker has been silent for longer than a keepalive round trip, which is how a
/// keepalive timeout (minimq reports it as a plain disconnect) is told from a close.
pub(crate) fn from_mqtt(
    e: minimq::Error<TlsError>,
    before_connack: bool,
    silent: bool,
) -> LinkError {
    match e {
        minimq::Error::Transport(t) => from_tls(t, before_connack),
        minimq::Error::Peer(minimq::PeerError::Rejected(code)) if before_connack => {
            LinkError::Refused(code)
        }
        minimq::Error::Disconnected if silent => LinkError::Timeout,
        minimq::Error::Disconnected | minimq::Error::WriteZero => {
            LinkError::Closed(ErrorKind::ConnectionReset)
        }
        minimq::Error::InvalidRequest => LinkError::Config,
        // Flow control, and minimq's table of unacknowledged QoS 1 messages (8) being
        // full: both clear as the broker's acknowledgements arrive. After a reconnect that
        // resumes the session, the resent messages and the output buffered meanwhile fill
        // that table at once; taking it for a protocol error dropped the connection
        // again and again.
        minimq::Error::NotReady
        | minimq::Error::Resource(minimq::ResourceError::InflightExhausted) => LinkError::Busy,
        _ => LinkError::Protocol,
    }
}

#[cfg(test)]
mod tests {
    use super::{LinkError, from_mqtt};

    #[test]
    fn a_full_in_flight_table_is_busy_not_a_broken_connection() {
        let full = minimq::Error::Resource(minimq::ResourceError::InflightExhausted);
        assert!(matches!(from_mqtt(full, false, false), LinkError::Busy));
        let not_ready = minimq::Error::NotReady;
        assert!(matches!(
            from_mqtt(not_ready, false, false),
            LinkError::Busy
        ));
        let too_small = minimq::Error::Resource(minimq::ResourceError::BufferTooSmall);
        assert!(matches!(
            from_mqtt(too_small, false, false),
            LinkError::Protocol
        ));
    }
}
