//! [`ChannelLink`]: one device's topics (`altair/<channel>/...`) through a broker, as a
//! terminal uses them: a persistent MQTT session that reconnects.
//!
//! The session is persistent (clean session off, subscriptions at QoS 1), so what the
//! device publishes while the link is reconnecting (a broker restart, a network blip) is
//! queued by the broker and still arrives; publications are QoS 1 and are sent again on
//! a fresh connection if the first attempt failed, so no keystroke is lost. The terminal
//! client (`altair-cloud term`) and the hil-tests' scenario terminal both talk through
//! it.

use std::time::{Duration, Instant};

use crate::mqtt::{BrokerUrl, Connect, Endpoint, Fault, Message, QoS, Session, Transport};

/// How long one connection attempt may take (TCP, TLS, WebSocket upgrade, CONNACK,
/// SUBACKs).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The wait between connection attempts while the broker is away: short, since a
/// person is waiting, and a broker refuses a connection at once, so this costs nothing.
const RETRY_WAIT: Duration = Duration::from_millis(50);

type Link = Session<Box<dyn Transport + Send>>;

/// Whether a fault will not go away by trying again: the broker refused the login, the
/// TLS handshake failed on a certificate, or a local file is unusable. Anything else
/// (refused, reset, timed out) is the broker or the network being away.
pub fn is_permanent(fault: &Fault) -> bool {
    matches!(fault, Fault::ConnAck(_) | Fault::Tls(_) | Fault::Setup(_))
}

/// What a failed connection to `url` means, in words: a refused login or certificate
/// ("cannot log in"), or a broker that cannot be reached.
pub fn connect_failure(url: &BrokerUrl, fault: &Fault) -> String {
    if is_permanent(fault) {
        format!("cannot log in to {url}: {fault}")
    } else {
        format!("cannot reach {url}: {fault}")
    }
}

/// A device's channel on a broker, reached with a persistent session that reconnects.
pub struct ChannelLink {
    endpoint: Endpoint,
    channel: String,
    client_id: String,
    /// The topic leaves subscribed to on each connect (`web`, `status`, ...).
    leaves: Vec<String>,
    link: Option<Link>,
}

impl ChannelLink {
    /// A link to `altair/<channel>/...` on `endpoint`'s broker as `client_id`, which
    /// subscribes to each of `leaves` (for example `["web", "status"]`; none for a link
    /// that only publishes). Nothing is sent until [`ChannelLink::connect`].
    pub fn new(endpoint: Endpoint, channel: &str, client_id: &str, leaves: &[&str]) -> Self {
        ChannelLink {
            endpoint,
            channel: channel.to_owned(),
            client_id: client_id.to_owned(),
            leaves: leaves.iter().map(|&l| l.to_owned()).collect(),
            link: None,
        }
    }

    /// The broker and login.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The topic `altair/<channel>/<leaf>`.
    pub fn topic(&self, leaf: &str) -> String {
        format!("altair/{}/{leaf}", self.channel)
    }

    /// Whether a connection is up (as far as is known: a dead one shows on the next call).
    pub fn is_connected(&self) -> bool {
        self.link.is_some()
    }

    /// Connects and subscribes, trying again until `deadline` while the broker is away; a
    /// permanent fault ([`is_permanent`]: a refused login or certificate) returns at once.
    /// Returns whether the broker kept the session from an earlier connection.
    pub fn connect(&mut self, deadline: Instant) -> Result<bool, Fault> {
        self.link = None;
        loop {
            match self.open() {
                Ok((link, resumed)) => {
                    self.link = Some(link);
                    return Ok(resumed);
                }
                Err(fault) if is_permanent(&fault) => return Err(fault),
                Err(fault) if Instant::now() + RETRY_WAIT >= deadline => return Err(fault),
                Err(_) => std::thread::sleep(RETRY_WAIT),
            }
        }
    }

    /// Forgets the connection (after a fault the caller reported): the next call
    /// connects again.
    pub fn drop_connection(&mut self) {
        self.link = None;
    }

    /// Publishes `payload` on `altair/<channel>/<leaf>` at QoS 1 and waits for the
    /// PUBACK. If the connection had gone, it connects again (until `deadline`) and
    /// sends the message once more.
    pub fn publish(&mut self, leaf: &str, payload: &[u8], deadline: Instant) -> Result<(), Fault> {
        let topic = self.topic(leaf);
        let mut first = true;
        loop {
            if self.link.is_none() {
                self.connect(deadline)?;
            }
            let link = self.link.as_mut().expect("connected above");
            let ack_by = Instant::now() + CONNECT_TIMEOUT;
            match link.publish(&topic, payload, QoS::AtLeastOnce, false, ack_by) {
                Ok(()) => return Ok(()),
                Err(fault) if first && !is_permanent(&fault) => {
                    self.link = None;
                    first = false;
                }
                Err(fault) => {
                    self.link = None;
                    return Err(fault);
                }
            }
        }
    }

    /// Waits until `deadline` for the next message on a subscribed leaf, keeping the
    /// connection alive with pings meanwhile. `Ok(None)`: nothing came in time. A lost
    /// connection is an error (the caller says so, then [`ChannelLink::connect`]s again);
    /// without a connection it connects first, until `deadline`.
    pub fn receive(&mut self, deadline: Instant) -> Result<Option<Message>, Fault> {
        if self.link.is_none() {
            self.connect(deadline.max(Instant::now() + CONNECT_TIMEOUT))?;
        }
        let link = self.link.as_mut().expect("connected above");
        let result = Self::receive_on(link, deadline);
        if result.is_err() {
            self.link = None;
        }
        result
    }

    fn receive_on(link: &mut Link, deadline: Instant) -> Result<Option<Message>, Fault> {
        loop {
            // A keep-alive ping may be due long before the caller's deadline.
            let due = link.ping_due().unwrap_or(deadline);
            if let Some(message) = link.receive(due.min(deadline))? {
                return Ok(Some(message));
            }
            if link.ping_due().is_some_and(|due| due <= Instant::now()) {
                link.ping(Instant::now() + CONNECT_TIMEOUT)?;
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    /// Sends a ping if one is due: for a link that only publishes, so the broker does
    /// not drop it while nobody types.
    pub fn keep_alive(&mut self) -> Result<(), Fault> {
        let Some(link) = self.link.as_mut() else {
            return Ok(());
        };
        if link.ping_due().is_some_and(|due| due <= Instant::now()) {
            let result = link.ping(Instant::now() + CONNECT_TIMEOUT);
            if result.is_err() {
                self.link = None;
            }
            return result;
        }
        Ok(())
    }

    /// When the next keep-alive ping is due, if connected.
    pub fn ping_due(&self) -> Option<Instant> {
        self.link.as_ref().and_then(|link| link.ping_due())
    }

    /// Ends the link and leaves nothing behind on the broker: a clean-session login drops
    /// the persistent session (and what it queued), then DISCONNECT. Best effort: a
    /// broker that is away keeps the session until it expires.
    pub fn close(&mut self) {
        self.link = None;
        if let Ok(transport) = self.endpoint.open(CONNECT_TIMEOUT) {
            let mut link = Session::new(transport);
            let login = Connect {
                credentials: self.endpoint.login(),
                ..Connect::new(&self.client_id)
            };
            if link
                .connect(&login, Instant::now() + CONNECT_TIMEOUT)
                .is_ok()
            {
                let _ = link.disconnect();
            }
        }
    }

    fn open(&self) -> Result<(Link, bool), Fault> {
        let mut link = Session::new(self.endpoint.open(CONNECT_TIMEOUT)?);
        let login = Connect {
            clean_session: false,
            credentials: self.endpoint.login(),
            ..Connect::new(&self.client_id)
        };
        let resumed = link.connect(&login, Instant::now() + CONNECT_TIMEOUT)?;
        for leaf in &self.leaves {
            let filter = self.topic(leaf);
            link.subscribe(&filter, QoS::AtLeastOnce, Instant::now() + CONNECT_TIMEOUT)?;
        }
        Ok((link, resumed))
    }
}
