//! The byte pipes MQTT runs over: TCP with timeouts, TLS 1.3 with rustls (the broker
//! verified against a CA file or the system roots, optionally a client certificate), and
//! WebSockets over TLS with tungstenite; and [`Fault`], the one error type every failure of
//! the client is sorted into.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::WebSocket;
use tungstenite::{Message, http};

use super::packet::connack_meaning;

/// A byte pipe to the broker: plain TCP, TLS or binary WebSocket messages.
pub trait Transport {
    /// Sends all of `bytes`.
    fn send(&mut self, bytes: &[u8]) -> Result<(), Fault>;
    /// Receives at least one byte, or fails with [`Fault::Timeout`] once `deadline` passes.
    fn recv(&mut self, deadline: Instant) -> Result<Vec<u8>, Fault>;
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn send(&mut self, bytes: &[u8]) -> Result<(), Fault> {
        (**self).send(bytes)
    }

    fn recv(&mut self, deadline: Instant) -> Result<Vec<u8>, Fault> {
        (**self).recv(deadline)
    }
}

/// Why a connection or an MQTT exchange failed, sorted finely enough to name the fix.
#[derive(Debug, Clone)]
pub enum Fault {
    /// A local file (certificate, key, password) could not be used.
    Setup(String),
    /// The host name did not resolve.
    Resolve(String),
    /// TCP connection refused: nothing listens on the port.
    Refused,
    /// TCP connect did not complete in time.
    ConnectTimeout,
    /// Another TCP connect error (unreachable network, ...).
    Connect(String),
    /// TLS failed: a certificate we rejected, or an alert the broker sent.
    Tls(rustls::Error),
    /// The broker closed the connection during the TLS handshake.
    ClosedInHandshake,
    /// The TLS handshake did not complete in time.
    HandshakeTimeout,
    /// The WebSocket upgrade failed.
    WebSocket(String),
    /// The connection was closed (EOF or reset).
    Closed,
    /// Nothing arrived before the deadline.
    Timeout,
    /// Another I/O error.
    Io(String),
    /// The broker sent something that is not MQTT 3.1.1 as expected.
    Protocol(String),
    /// CONNACK refused the connection with this return code.
    ConnAck(u8),
    /// The broker closed the connection instead of answering CONNECT.
    ClosedAfterConnect,
    /// No CONNACK arrived in time.
    NoConnAck,
    /// SUBACK refused the subscription (0x80).
    SubscribeRefused,
    /// No SUBACK arrived in time.
    NoSubAck,
    /// No PUBACK arrived in time.
    NoPubAck,
    /// No PINGRESP arrived in time.
    NoPingResp,
    /// A message published to a subscribed topic did not come back in time.
    NotDelivered,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Setup(msg) => f.write_str(msg),
            Self::Resolve(e) => write!(f, "cannot resolve the host: {e}"),
            Self::Refused => f.write_str("connection refused"),
            Self::ConnectTimeout => f.write_str("the TCP connection timed out"),
            Self::Connect(e) => write!(f, "cannot connect: {e}"),
            Self::Tls(e) => write!(f, "TLS failed: {e}"),
            Self::ClosedInHandshake => {
                f.write_str("the broker closed the connection during the TLS handshake")
            }
            Self::HandshakeTimeout => f.write_str("no TLS answer in time"),
            Self::WebSocket(msg) => write!(f, "the WebSocket upgrade failed: {msg}"),
            Self::Closed => f.write_str("the broker closed the connection"),
            Self::Timeout => f.write_str("the broker stopped answering"),
            Self::Io(e) => write!(f, "the connection failed: {e}"),
            Self::Protocol(msg) => write!(f, "not MQTT 3.1.1 as expected: {msg}"),
            Self::ConnAck(code) => write!(
                f,
                "the broker refused the login (CONNACK {code}: {})",
                connack_meaning(*code)
            ),
            Self::ClosedAfterConnect => {
                f.write_str("the broker closed the connection instead of answering CONNECT")
            }
            Self::NoConnAck => f.write_str("no CONNACK in time"),
            Self::SubscribeRefused => f.write_str("the broker refused the subscription"),
            Self::NoSubAck => f.write_str("no SUBACK in time"),
            Self::NoPubAck => f.write_str("no PUBACK in time"),
            Self::NoPingResp => f.write_str("no PINGRESP in time"),
            Self::NotDelivered => f.write_str("the message did not come back in time"),
        }
    }
}

impl std::error::Error for Fault {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Tls(e) => Some(e),
            _ => None,
        }
    }
}

/// Sorts an I/O error, unwrapping the TLS error rustls puts inside it.
fn from_io(err: &io::Error) -> Fault {
    if let Some(tls) = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return Fault::Tls(tls.clone());
    }
    match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Fault::Timeout,
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => Fault::Closed,
        _ => Fault::Io(err.to_string()),
    }
}

/// Time left until `deadline`, at least 1 ms (a zero socket timeout means "forever").
fn remaining(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1))
}

/// Opens a TCP connection to `host:port`, trying each address within `timeout`.
pub fn connect_tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, Fault> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| Fault::Resolve(e.to_string()))?
        .collect();
    let mut best: Option<Fault> = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                stream
                    .set_write_timeout(Some(timeout))
                    .map_err(|e| Fault::Io(e.to_string()))?;
                return Ok(stream);
            }
            Err(err) => {
                let fault = match err.kind() {
                    io::ErrorKind::ConnectionRefused => Fault::Refused,
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Fault::ConnectTimeout,
                    _ => Fault::Connect(err.to_string()),
                };
                // Refused or timed out says more than "address not available" on ::1.
                if best.is_none() || !matches!(fault, Fault::Connect(_)) {
                    best = Some(fault);
                }
            }
        }
    }
    Err(best.unwrap_or_else(|| Fault::Resolve(format!("no address for {host}"))))
}

/// Says what a PEM reading error means, in words.
pub fn pem_problem(err: &rustls::pki_types::pem::Error) -> String {
    match err {
        rustls::pki_types::pem::Error::NoItemsFound => "it holds no PEM item of that kind".into(),
        other => other.to_string(),
    }
}

/// Reads every certificate in a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Fault> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            Fault::Setup(format!(
                "cannot read {}: {}",
                path.display(),
                pem_problem(&e)
            ))
        })?;
    if certs.is_empty() {
        return Err(Fault::Setup(format!(
            "{} has no certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// Reads a private key from a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, Fault> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        Fault::Setup(format!(
            "cannot read the key {}: {}",
            path.display(),
            pem_problem(&e)
        ))
    })
}

/// Trust anchors: the certificates in `ca_file`.
pub fn roots_from(ca_file: &Path) -> Result<RootCertStore, Fault> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(ca_file)? {
        roots
            .add(cert)
            .map_err(|e| Fault::Setup(format!("{} is not a usable CA: {e}", ca_file.display())))?;
    }
    Ok(roots)
}

/// Trust anchors: the operating system's root certificates (for Let's Encrypt).
pub fn system_roots() -> Result<RootCertStore, Fault> {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(Fault::Setup(
            "no system root certificates found (install ca-certificates)".into(),
        ));
    }
    Ok(roots)
}

/// A TLS 1.3-only client configuration, with a client certificate when `identity` is given.
pub fn client_config(
    roots: RootCertStore,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<Arc<ClientConfig>, Fault> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(Fault::Tls)?
        .with_root_certificates(roots);
    let config = match identity {
        Some((certs, key)) => builder
            .with_client_auth_cert(certs, key)
            .map_err(|e| Fault::Setup(format!("the certificate and key do not fit: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// A finished TLS connection over TCP.
pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// Runs a TLS handshake with `host` over `tcp`, verifying the server's certificate.
pub fn tls_handshake(
    config: Arc<ClientConfig>,
    host: &str,
    mut tcp: TcpStream,
    deadline: Instant,
) -> Result<TlsStream, Fault> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| Fault::Setup(format!("\"{host}\" is not a valid TLS server name")))?;
    let mut conn = ClientConnection::new(config, name).map_err(Fault::Tls)?;
    while conn.is_handshaking() {
        tcp.set_read_timeout(Some(remaining(deadline)))
            .map_err(|e| Fault::Io(e.to_string()))?;
        if let Err(err) = conn.complete_io(&mut tcp) {
            return Err(match from_io(&err) {
                Fault::Closed => Fault::ClosedInHandshake,
                Fault::Timeout => Fault::HandshakeTimeout,
                other => other,
            });
        }
    }
    Ok(StreamOwned::new(conn, tcp))
}

/// Gives access to the TCP socket under a stream, to set its read deadline.
pub trait HasSocket {
    /// The underlying TCP socket.
    fn socket(&self) -> &TcpStream;
}

impl HasSocket for TcpStream {
    fn socket(&self) -> &TcpStream {
        self
    }
}

impl HasSocket for TlsStream {
    fn socket(&self) -> &TcpStream {
        &self.sock
    }
}

/// MQTT straight over a byte stream (plain TCP or TLS).
pub struct StreamTransport<S>(pub S);

impl<S: Read + Write + HasSocket> Transport for StreamTransport<S> {
    fn send(&mut self, bytes: &[u8]) -> Result<(), Fault> {
        match self.0.write_all(bytes).and_then(|()| self.0.flush()) {
            Ok(()) => Ok(()),
            // A broker that rejected our certificate sends an alert and closes: if the
            // write fails, read once more to find that alert rather than "closed".
            Err(err) => match self.recv(Instant::now() + Duration::from_millis(300)) {
                Err(fault @ Fault::Tls(_)) => Err(fault),
                _ => Err(from_io(&err)),
            },
        }
    }

    fn recv(&mut self, deadline: Instant) -> Result<Vec<u8>, Fault> {
        self.0
            .socket()
            .set_read_timeout(Some(remaining(deadline)))
            .map_err(|e| Fault::Io(e.to_string()))?;
        let mut buf = vec![0; 4096];
        match self.0.read(&mut buf) {
            Ok(0) => Err(Fault::Closed),
            Ok(n) => {
                buf.truncate(n);
                Ok(buf)
            }
            Err(err) => Err(from_io(&err)),
        }
    }
}

/// MQTT carried in binary WebSocket messages over TLS.
pub struct WsTransport(WebSocket<TlsStream>);

/// Sorts a tungstenite error.
fn from_ws(err: tungstenite::Error) -> Fault {
    match err {
        tungstenite::Error::Io(e) => from_io(&e),
        tungstenite::Error::Tls(e) => Fault::WebSocket(e.to_string()),
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => Fault::Closed,
        tungstenite::Error::Http(response) => Fault::WebSocket(format!(
            "the upgrade was answered with HTTP {}",
            response.status()
        )),
        other => Fault::WebSocket(other.to_string()),
    }
}

/// Upgrades a TLS connection to a WebSocket speaking the `mqtt` subprotocol.
pub fn ws_handshake(
    stream: TlsStream,
    host: &str,
    port: u16,
    deadline: Instant,
) -> Result<WsTransport, Fault> {
    stream
        .sock
        .set_read_timeout(Some(remaining(deadline)))
        .map_err(|e| Fault::Io(e.to_string()))?;
    let mut request = format!("wss://{host}:{port}/mqtt")
        .into_client_request()
        .map_err(|e| Fault::Setup(format!("bad WebSocket URL: {e}")))?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        http::HeaderValue::from_static("mqtt"),
    );
    match tungstenite::client::client(request, stream) {
        Ok((socket, _response)) => Ok(WsTransport(socket)),
        Err(HandshakeError::Interrupted(_)) => Err(Fault::Timeout),
        Err(HandshakeError::Failure(err)) => Err(match from_ws(err) {
            Fault::Closed => Fault::WebSocket("the listener closed the connection".into()),
            Fault::Timeout => Fault::WebSocket("no answer to the upgrade request".into()),
            other => other,
        }),
    }
}

/// Opens MQTT over TLS to `host:port` (TCP, then the TLS handshake with `config`), each
/// step within `timeout`: the device listener, with a client certificate in `config`.
pub fn open_tls(
    host: &str,
    port: u16,
    config: Arc<ClientConfig>,
    timeout: Duration,
) -> Result<StreamTransport<TlsStream>, Fault> {
    let tcp = connect_tcp(host, port, timeout)?;
    let tls = tls_handshake(config, host, tcp, Instant::now() + timeout)?;
    Ok(StreamTransport(tls))
}

/// Opens MQTT over WebSockets over TLS to `wss://host:port/mqtt` (TCP, the TLS handshake
/// with `config`, the WebSocket upgrade), each step within `timeout`: the browser listener.
pub fn open_wss(
    host: &str,
    port: u16,
    config: Arc<ClientConfig>,
    timeout: Duration,
) -> Result<WsTransport, Fault> {
    let tcp = connect_tcp(host, port, timeout)?;
    let tls = tls_handshake(config, host, tcp, Instant::now() + timeout)?;
    ws_handshake(tls, host, port, Instant::now() + timeout)
}

impl Transport for WsTransport {
    fn send(&mut self, bytes: &[u8]) -> Result<(), Fault> {
        self.0
            .send(Message::Binary(bytes.to_vec().into()))
            .map_err(from_ws)
    }

    fn recv(&mut self, deadline: Instant) -> Result<Vec<u8>, Fault> {
        loop {
            self.0
                .get_ref()
                .sock
                .set_read_timeout(Some(remaining(deadline)))
                .map_err(|e| Fault::Io(e.to_string()))?;
            match self.0.read().map_err(from_ws)? {
                Message::Binary(bytes) => return Ok(bytes.to_vec()),
                Message::Close(_) => return Err(Fault::Closed),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_errors_inside_io_errors_are_found() {
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA);
        let err = io::Error::new(io::ErrorKind::InvalidData, alert);
        assert!(matches!(
            from_io(&err),
            Fault::Tls(rustls::Error::AlertReceived(
                rustls::AlertDescription::UnknownCA
            ))
        ));
        assert!(matches!(
            from_io(&io::Error::from(io::ErrorKind::ConnectionReset)),
            Fault::Closed
        ));
    }

    #[test]
    fn refused_port_is_named() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let fault = connect_tcp("127.0.0.1", port, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(fault, Fault::Refused), "{fault:?}");
    }
}
