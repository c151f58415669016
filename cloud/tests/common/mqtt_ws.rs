//! MQTT over WebSockets over TLS for the browser listener (Debian's
//! `mosquitto_pub`/`mosquitto_sub` 2.0.11 cannot speak WebSockets): a thin wrapper over
//! [`altair_cloud::mqtt`] that waits at most 5 s for each answer.

use std::path::Path;
use std::time::{Duration, Instant};

use altair_cloud::mqtt::{self, Connect, Fault, Message, QoS, Session, WsTransport};

/// How long each step (connect, handshakes, CONNACK, SUBACK) may take.
const STEP: Duration = Duration::from_secs(5);

fn deadline() -> Instant {
    Instant::now() + STEP
}

/// An MQTT connection over WebSockets, after a CONNACK with return code 0.
pub struct WsClient(Session<WsTransport>);

impl WsClient {
    /// Connects to `wss://localhost:port/mqtt` (trusting `ca_crt`) and sends CONNECT with
    /// the given credentials (`None`: anonymous). Returns the CONNACK return code and, if
    /// it is 0, the client. TLS, WebSocket and other MQTT failures are `Err`.
    pub fn connect(
        port: u16,
        ca_crt: &Path,
        credentials: Option<(&str, &[u8])>,
    ) -> Result<(u8, Option<WsClient>), Fault> {
        let config = mqtt::client_config(mqtt::roots_from(ca_crt)?, None)?;
        let tcp = mqtt::connect_tcp("127.0.0.1", port, STEP)?;
        let tls = mqtt::tls_handshake(config, "localhost", tcp, deadline())?;
        let ws = mqtt::ws_handshake(tls, "localhost", port, deadline())?;
        let mut session = Session::new(ws);
        let login = Connect {
            credentials,
            ..Connect::new("altair-cloud-test")
        };
        match session.connect(&login, deadline()) {
            Ok(_) => Ok((0, Some(WsClient(session)))),
            Err(Fault::ConnAck(code)) => Ok((code, None)),
            Err(other) => Err(other),
        }
    }

    /// Subscribes to `topic` (QoS 0) and returns the SUBACK return code.
    pub fn subscribe(&mut self, topic: &str) -> Result<u8, Fault> {
        match self.0.subscribe(topic, QoS::AtMostOnce, deadline()) {
            Ok(granted) => Ok(granted as u8),
            Err(Fault::SubscribeRefused) => Ok(0x80),
            Err(other) => Err(other),
        }
    }

    /// Publishes `payload` to `topic` at QoS 0.
    pub fn publish(&mut self, topic: &str, payload: &[u8]) -> Result<(), Fault> {
        self.0
            .publish(topic, payload, QoS::AtMostOnce, false, Instant::now())
    }

    /// The next message received before `timeout`, if any.
    pub fn receive(&mut self, timeout: Duration) -> Result<Option<Message>, Fault> {
        self.0.receive(Instant::now() + timeout)
    }
}
