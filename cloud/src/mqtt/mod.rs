//! A small blocking MQTT 3.1.1 client for the host side: the doctor's network checks, the
//! tests, and terminal clients.
//!
//! A connection is a [`Transport`] (a byte pipe: plain TCP, TLS, or WebSockets over TLS)
//! wrapped in a [`Session`]. Every wait has a deadline, and every failure is a [`Fault`]
//! that names what went wrong (connection refused, a TLS alert, a CONNACK refusal, no
//! SUBACK in time, ...), finely enough to name the fix.
//!
//! ```no_run
//! use std::path::Path;
//! use std::time::{Duration, Instant};
//!
//! use altair_cloud::mqtt::{self, Connect, QoS, Session};
//!
//! # fn main() -> Result<(), mqtt::Fault> {
//! let timeout = Duration::from_secs(5);
//! // A device-style client: TLS 1.3 with a client certificate, the broker checked
//! // against the broker directory's CA.
//! let identity = (
//!     mqtt::load_certs(Path::new("broker/devices/kitchen.crt"))?,
//!     mqtt::load_key(Path::new("broker/devices/kitchen.key"))?,
//! );
//! let roots = mqtt::roots_from(Path::new("broker/ca.crt"))?;
//! let config = mqtt::client_config(roots, Some(identity))?;
//! let transport = mqtt::open_tls("mqtt.example.com", 8884, config, timeout)?;
//! let mut session = Session::new(transport);
//! session.connect(&Connect::new("kitchen"), Instant::now() + timeout)?;
//! session.subscribe("altair/kitchen/#", QoS::AtLeastOnce, Instant::now() + timeout)?;
//! session.publish("altair/kitchen/dev", b"DIR\r", QoS::AtMostOnce, false, Instant::now())?;
//! while let Some(message) = session.receive(Instant::now() + timeout)? {
//!     println!("{} {:?}", message.topic, message.payload);
//! }
//! session.disconnect()
//! # }
//! ```

mod endpoint;
mod packet;
mod session;
mod transport;

pub use endpoint::{BrokerUrl, Endpoint, Scheme};
pub use packet::{Connect, Message, QoS, Will, connack_meaning};
pub use session::Session;
pub use transport::{
    Fault, HasSocket, StreamTransport, TlsStream, Transport, WsTransport, client_config,
    connect_tcp, load_certs, load_key, open_tls, open_wss, pem_problem, roots_from, system_roots,
    tls_handshake, ws_handshake,
};
