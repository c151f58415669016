//! A minimal MQTT 3.1.1 client over WebSockets over TLS, for the browser listener (Debian's
//! `mosquitto_pub`/`mosquitto_sub` 2.0.11 cannot speak WebSockets). Blocking, with a read
//! timeout on every wait.

use std::io;
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tungstenite::client::IntoClientRequest as _;
use tungstenite::{Message, WebSocket, http};

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// An MQTT connection over WebSockets, after a CONNACK with return code 0.
pub struct WsClient {
    ws: WebSocket<Tls>,
    buf: Vec<u8>,
}

/// A message received on a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The topic.
    pub topic: String,
    /// The payload.
    pub payload: Vec<u8>,
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

fn packet(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    let mut len = body.len();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

/// Splits one whole MQTT packet off the front of `buf`: (first byte, body).
fn take_packet(buf: &mut Vec<u8>) -> Option<(u8, Vec<u8>)> {
    let mut len = 0usize;
    let mut shift = 0;
    let mut i = 1;
    loop {
        let byte = *buf.get(i)?;
        len |= usize::from(byte & 0x7f) << shift;
        shift += 7;
        i += 1;
        if byte & 0x80 == 0 {
            break;
        }
    }
    if buf.len() < i + len {
        return None;
    }
    let kind = buf[0];
    let body = buf[i..i + len].to_vec();
    buf.drain(..i + len);
    Some((kind, body))
}

fn tls_config(ca_crt: &Path) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    let ca = CertificateDer::from_pem_file(ca_crt).expect("read ca.crt");
    roots.add(ca).expect("add ca.crt");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

impl WsClient {
    /// Connects to `wss://localhost:port/mqtt` (trusting `ca_crt`) and sends CONNECT with
    /// the given credentials (`None`: anonymous). Returns the CONNACK return code and, if
    /// it is 0, the client. TLS, WebSocket and MQTT failures are `Err` with a message.
    pub fn connect(
        port: u16,
        ca_crt: &Path,
        credentials: Option<(&str, &[u8])>,
    ) -> Result<(u8, Option<WsClient>), String> {
        let tcp = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("tcp: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        let name = ServerName::try_from("localhost").expect("server name");
        let conn = ClientConnection::new(tls_config(ca_crt), name).map_err(|e| e.to_string())?;
        let tls = StreamOwned::new(conn, tcp);
        let mut request = format!("wss://localhost:{port}/mqtt")
            .into_client_request()
            .map_err(|e| e.to_string())?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            http::HeaderValue::from_static("mqtt"),
        );
        let (ws, _) = tungstenite::client::client(request, tls)
            .map_err(|e| format!("websocket handshake: {e}"))?;
        let mut client = WsClient {
            ws,
            buf: Vec::new(),
        };

        let mut body = Vec::new();
        string(&mut body, b"MQTT");
        body.push(4); // MQTT 3.1.1
        let mut flags = 0x02; // clean session
        if credentials.is_some() {
            flags |= 0x80 | 0x40;
        }
        body.push(flags);
        body.extend_from_slice(&30u16.to_be_bytes()); // keep alive
        string(&mut body, b"altair-cloud-test");
        if let Some((user, password)) = credentials {
            string(&mut body, user.as_bytes());
            string(&mut body, password);
        }
        client.send(&packet(0x10, &body))?;
        match client.next_packet(Instant::now() + Duration::from_secs(5))? {
            Some((0x20, body)) if body.len() == 2 => {
                let code = body[1];
                Ok((code, (code == 0).then_some(client)))
            }
            Some((kind, _)) => Err(format!("expected CONNACK, got packet type {kind:#x}")),
            None => Err("no CONNACK".into()),
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.ws
            .send(Message::Binary(bytes.to_vec().into()))
            .map_err(|e| format!("send: {e}"))
    }

    /// The next MQTT packet, or `None` when `deadline` passes first or the connection
    /// closes.
    fn next_packet(&mut self, deadline: Instant) -> Result<Option<(u8, Vec<u8>)>, String> {
        loop {
            if let Some(p) = take_packet(&mut self.buf) {
                return Ok(Some(p));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.ws
                .get_ref()
                .get_ref()
                .set_read_timeout(Some(left))
                .map_err(|e| e.to_string())?;
            match self.ws.read() {
                Ok(Message::Binary(bytes)) => self.buf.extend_from_slice(&bytes),
                Ok(Message::Close(_)) => return Ok(None),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None);
                }
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Ok(None);
                }
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    /// Subscribes to `topic` (QoS 0) and returns the SUBACK return code.
    pub fn subscribe(&mut self, topic: &str) -> Result<u8, String> {
        let mut body = 1u16.to_be_bytes().to_vec();
        string(&mut body, topic.as_bytes());
        body.push(0);
        self.send(&packet(0x82, &body))?;
        loop {
            match self.next_packet(Instant::now() + Duration::from_secs(5))? {
                Some((0x90, body)) if body.len() == 3 => return Ok(body[2]),
                Some(_) => {}
                None => return Err("no SUBACK".into()),
            }
        }
    }

    /// Publishes `payload` to `topic` at QoS 0.
    pub fn publish(&mut self, topic: &str, payload: &[u8]) -> Result<(), String> {
        let mut body = Vec::new();
        string(&mut body, topic.as_bytes());
        body.extend_from_slice(payload);
        self.send(&packet(0x30, &body))
    }

    /// The next message received before `timeout`, if any.
    pub fn receive(&mut self, timeout: Duration) -> Result<Option<Received>, String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.next_packet(deadline)? {
                Some((kind, body)) if kind & 0xf0 == 0x30 => {
                    let len = usize::from(u16::from_be_bytes([body[0], body[1]]));
                    let topic = String::from_utf8_lossy(&body[2..2 + len]).into_owned();
                    // QoS 0 only: no packet identifier.
                    let payload = body[2 + len..].to_vec();
                    return Ok(Some(Received { topic, payload }));
                }
                Some(_) => {}
                None => return Ok(None),
            }
        }
    }
}
