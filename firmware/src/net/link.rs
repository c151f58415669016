//! [`Link`]: one broker session over TLS 1.3 and MQTT 5, and [`Connected`], one live
//! connection of it.
//!
//! The [`Link`] outlives connections: it owns minimq's session state (QoS 1 messages in
//! flight, whether the broker holds a session), so a reconnect resumes where the last
//! connection stopped. Each [`Link::connect`] takes a fresh byte stream from the
//! platform, does the TLS handshake (CA pinned, host name checked, the device's
//! certificate and key), then CONNECT with a will (`offline`, retained, on the status
//! topic). Announcing `online` is the caller's job, once its subscriptions are made, so
//! that `online` means "ready for input" (the terminal session does it). Dropping a
//! [`Connected`] sends nothing, so the broker publishes the will;
//! [`Connected::disconnect`] is the polite way out.

use embassy_time::{Duration, Instant, with_timeout};
use embedded_io_async::{Read, Write};
use embedded_tls::{MaxFragmentLength, TlsConfig, TlsConnection, TlsContext};
use minimq::{
    ConfigBuilder, ConnectEvent, Op, Publication, QoS, Session, SubscriptionOptions, TopicFilter,
    Will,
};
use p256::ecdsa::SigningKey;
use rand_core::CryptoRngCore;

use super::error::{from_handshake, from_mqtt};
use super::record_stream::RecordStream;
use super::tls::{CipherSuite, Credentials, PinnedVerifier, Provider};
use super::{LinkBuffers, LinkError, MAX_SUBSCRIPTIONS, TLS_READ_BYTES};
use crate::session::{self, STATUS_OFFLINE, Transmit};

/// What a link needs to know besides its buffers.
#[derive(Clone, Copy, Debug)]
pub struct LinkConfig<'a> {
    /// The broker's DNS name: sent as SNI and checked against the server certificate's
    /// DNS names. It MUST be a name, not an IP address.
    pub host: &'a str,
    /// The MQTT client identifier (at most 64 bytes). The broker keeps the session under
    /// it, so it MUST be stable across reboots and unique per device.
    pub client_id: &'a str,
    /// The retained status topic (`altair/<ch>/status`): the will says
    /// [`STATUS_OFFLINE`] there, as does [`Connected::disconnect`].
    pub status_topic: &'a str,
    /// The MQTT keepalive, in seconds (0 turns keepalive off; then a dead connection is
    /// only noticed when a write fails).
    pub keepalive_secs: u16,
    /// How long the broker keeps the session (subscriptions, QoS 1 messages for the
    /// device) after the connection drops, in seconds.
    pub session_expiry_secs: u32,
    /// The device's certificate and key and the pinned CA.
    pub credentials: Credentials<'a>,
}

/// One broker session across connections (see the module docs).
pub struct Link<'b> {
    session: Session<'b>,
    tls_read: &'b mut [u8],
    tls_write: &'b mut [u8],
    stash: &'b mut [u8],
    host: &'b str,
    status_topic: &'b str,
    ca_cert_der: &'b [u8],
    client_cert_der: &'b [u8],
    key: SigningKey,
    keepalive: Duration,
    /// A connect has succeeded since boot, so minimq's next CONNECT resumes (clean start
    /// off) rather than starting a new session.
    resumes: bool,
}

impl<'b> Link<'b> {
    /// A link using `buffers`, configured by `config`. Fails with [`LinkError::Config`]
    /// if the key is not PKCS#8 P-256 or the client id or status topic is too long.
    pub fn new(buffers: &'b mut LinkBuffers, config: LinkConfig<'b>) -> Result<Self, LinkError> {
        let key = config.credentials.signing_key()?;
        let will = Will::new(config.status_topic, STATUS_OFFLINE, &[])
            .map_err(|_| LinkError::Config)?
            .retained()
            .qos(QoS::AtLeastOnce);
        let mqtt = ConfigBuilder::new(minimq::Buffers::new(
            &mut buffers.mqtt_rx,
            &mut buffers.mqtt_tx,
        ))
        .client_id(config.client_id)
        .and_then(|c| c.will(will))
        .map_err(|_| LinkError::Config)?
        .keepalive_interval(config.keepalive_secs)
        .session_expiry_interval(config.session_expiry_secs);
        Ok(Self {
            session: Session::new(mqtt),
            tls_read: &mut buffers.tls_read,
            tls_write: &mut buffers.tls_write,
            stash: &mut buffers.stash,
            host: config.host,
            status_topic: config.status_topic,
            ca_cert_der: config.credentials.ca_cert_der,
            client_cert_der: config.credentials.client_cert_der,
            key,
            keepalive: Duration::from_secs(u64::from(config.keepalive_secs)),
            resumes: false,
        })
    }

    /// Whether the next [`Link::connect`] starts a new session with MQTT's clean start, as
    /// minimq's first successful CONNECT after boot does. Mosquitto 2.0 does not keep
    /// such a session through its own restart, whatever the session expiry, so keys typed
    /// during a broker restart would be lost. The cure: after that connect,
    /// [`Connected::leave`] at once and connect again; every later connect resumes the
    /// session (clean start off), which Mosquitto keeps.
    pub fn will_clean_start(&self) -> bool {
        !self.resumes
    }

    /// Opens a connection over `stream`, a fresh byte stream to the broker's TLS port.
    ///
    /// `rng` MUST be a cryptographically secure generator (a hardware TRNG on devices):
    /// it makes the handshake's ephemeral key. `timeout` bounds the TLS handshake and,
    /// separately, the MQTT CONNECT/CONNACK exchange.
    ///
    /// On success the broker holds a session for the client id; check
    /// [`Connected::fresh_session`] to know whether subscriptions must be made again.
    pub async fn connect<'l, S, R>(
        &'l mut self,
        stream: S,
        rng: &mut R,
        timeout: Duration,
    ) -> Result<Connected<'l, 'b, S>, LinkError>
    where
        S: Read + Write + 'l,
        R: CryptoRngCore,
    {
        // Bits12 keeps the server's records at 4 KiB of plaintext, which is what lets
        // TLS_READ_BYTES be 4,352 instead of 16,640 (RFC 6066 section 4).
        let mut tls_config = TlsConfig::new().with_server_name(self.host);
        if TLS_READ_BYTES < 16_640 {
            tls_config = tls_config.with_max_fragment_length(MaxFragmentLength::Bits12);
        }
        let stream = RecordStream::new(stream, &mut *self.stash);
        let mut tls: TlsConnection<'l, _, CipherSuite> =
            TlsConnection::new(stream, &mut *self.tls_read, &mut *self.tls_write);
        let mut provider = Provider {
            rng,
            verifier: PinnedVerifier::new(self.ca_cert_der),
            client_cert_der: self.client_cert_der,
            key: &self.key,
        };
        match with_timeout(
            timeout,
            tls.open(TlsContext::new(&tls_config, &mut provider)),
        )
        .await
        {
            Err(_) => return Err(LinkError::Timeout),
            Ok(Err(e)) => {
                warn!("TLS handshake failed: {}", crate::fmt::debug(&e));
                return Err(from_handshake(e));
            }
            Ok(Ok(())) => {}
        }
        if !provider.verifier.proven() {
            warn!("TLS handshake finished without a verified server certificate");
            return Err(LinkError::ServerCertificate);
        }
        let conn = match with_timeout(timeout, self.session.connect(tls)).await {
            Err(_) => return Err(LinkError::Timeout),
            Ok(Err(e)) => {
                warn!("MQTT connect failed: {}", crate::fmt::debug(&e));
                return Err(from_mqtt(e, true, false));
            }
            Ok(Ok(conn)) => conn,
        };
        let fresh = conn.connect_event() == ConnectEvent::Connected;
        self.resumes = true;
        info!("connected to the broker (fresh session: {})", fresh);
        Ok(Connected {
            conn,
            keepalive: self.keepalive,
            last_progress: Instant::now(),
            fresh,
            dead: false,
            status_topic: self.status_topic,
        })
    }
}

/// The TLS connection over the platform's stream `S`.
type Tls<'l, S> = TlsConnection<'l, RecordStream<'l, S>, CipherSuite>;

/// A handle on a QoS 1 subscription or publish still waiting for the broker's answer.
pub type Pending = Op;

/// An inbound message copied out of the link into caller-owned fixed buffers.
#[derive(Debug, Clone, Default)]
pub struct Inbound<const TOPIC: usize = 128, const PAYLOAD: usize = 512> {
    /// The topic it was published on.
    pub topic: heapless::String<TOPIC>,
    /// Its payload.
    pub payload: heapless::Vec<u8, PAYLOAD>,
    /// Whether the broker delivered it from its retained store.
    pub retained: bool,
}

impl<const TOPIC: usize, const PAYLOAD: usize> Inbound<TOPIC, PAYLOAD> {
    /// Empty buffers.
    pub const fn new() -> Self {
        Self {
            topic: heapless::String::new(),
            payload: heapless::Vec::new(),
            retained: false,
        }
    }

    /// Copies `topic` and `payload` in; `false` (and the buffers cleared) if either does
    /// not fit.
    fn fill(&mut self, topic: &str, payload: &[u8], retained: bool) -> bool {
        self.topic.clear();
        self.payload.clear();
        self.retained = retained;
        if self.topic.push_str(topic).is_ok() && self.payload.extend_from_slice(payload).is_ok() {
            true
        } else {
            self.topic.clear();
            self.payload.clear();
            false
        }
    }
}

/// What [`Connected::poll`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// A message is in the caller's [`Inbound`].
    Message,
    /// No message came within the timeout (keepalive and acknowledgements were served).
    Idle,
    /// A message came whose topic or payload does not fit the caller's [`Inbound`]; it
    /// was acknowledged and dropped, and the buffers are empty. The lengths are given.
    Dropped {
        /// The topic's length in bytes.
        topic: usize,
        /// The payload's length in bytes.
        payload: usize,
    },
}

/// One live connection of a [`Link`] over the platform stream `S`.
///
/// After any error other than [`LinkError::Busy`] the connection is dead: drop it, wait
/// as [`super::Reconnect`] says, and [`Link::connect`] again with a fresh stream.
pub struct Connected<'l, 'b, S: Read + Write + 'l> {
    conn: minimq::Connection<'l, 'b, Tls<'l, S>>,
    keepalive: Duration,
    last_progress: Instant,
    fresh: bool,
    dead: bool,
    status_topic: &'b str,
}

impl<'l, 'b, S: Read + Write + 'l> Connected<'l, 'b, S> {
    /// Whether the broker started a new session: subscriptions from earlier connections
    /// are gone and must be made again. `false` when it resumed the session.
    pub fn fresh_session(&self) -> bool {
        self.fresh
    }

    /// Whether the connection can still be used.
    pub fn is_alive(&self) -> bool {
        !self.dead && self.conn.is_connected()
    }

    /// Whether the broker has acknowledged `op`.
    pub fn is_complete(&self, op: &Pending) -> bool {
        self.conn.is_complete(op)
    }

    /// Whether a QoS `qos` publish would be accepted now (room in the transmit buffer
    /// and the broker's receive window).
    pub fn can_publish(&self, qos: QoS) -> bool {
        self.is_alive() && self.conn.can_publish(qos)
    }

    fn check(&self) -> Result<(), LinkError> {
        if self.dead {
            Err(LinkError::Closed(
                embedded_io_async::ErrorKind::NotConnected,
            ))
        } else {
            Ok(())
        }
    }

    /// Records `e`: every error but [`LinkError::Busy`] and [`LinkError::Config`] (which
    /// sent nothing) leaves the connection dead.
    fn fail(&mut self, e: LinkError) -> LinkError {
        if !matches!(e, LinkError::Busy | LinkError::Config) {
            self.dead = true;
        }
        e
    }

    fn silent(&self) -> bool {
        self.keepalive != Duration::from_ticks(0)
            && Instant::now().saturating_duration_since(self.last_progress) >= self.keepalive
    }

    fn mqtt_error(&mut self, e: minimq::Error<embedded_tls::TlsError>) -> LinkError {
        let e = from_mqtt(e, false, self.silent());
        self.fail(e)
    }

    /// Subscribes to `filters` at QoS 1 (at most [`MAX_SUBSCRIPTIONS`] at once). The
    /// SUBSCRIBE is sent when this returns; the SUBACK arrives during later polls, when
    /// [`Self::is_complete`] turns true.
    pub async fn subscribe(
        &mut self,
        filters: &[&str],
        timeout: Duration,
    ) -> Result<Pending, LinkError> {
        self.check()?;
        let mut list: heapless::Vec<TopicFilter<'_>, MAX_SUBSCRIPTIONS> = heapless::Vec::new();
        for f in filters {
            let filter = TopicFilter::new(f)
                .options(SubscriptionOptions::default().maximum_qos(QoS::AtLeastOnce));
            list.push(filter).map_err(|_| LinkError::Config)?;
        }
        match with_timeout(timeout, self.conn.subscribe(&list, &[])).await {
            Err(_) => Err(self.fail(LinkError::Timeout)),
            Ok(Err(e)) => Err(self.mqtt_error(e)),
            Ok(Ok(op)) => Ok(op),
        }
    }

    /// Publishes `payload` on `topic`. A QoS 1 message is kept in the transmit buffer
    /// until the broker acknowledges it, and sent again after a reconnect that resumes
    /// the session. [`LinkError::Busy`] means the buffer is full: poll and retry.
    pub async fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        timeout: Duration,
    ) -> Result<Option<Pending>, LinkError> {
        self.check()?;
        let mut publication = Publication::new(topic, payload).qos(qos);
        if retain {
            publication = publication.retain();
        }
        match with_timeout(timeout, self.conn.publish(publication)).await {
            Err(_) => Err(self.fail(LinkError::Timeout)),
            Ok(Err(minimq::PubError::Session(e))) => Err(self.mqtt_error(e)),
            Ok(Err(minimq::PubError::Payload(_))) => Err(LinkError::Protocol),
            Ok(Ok(op)) => Ok(op),
        }
    }

    /// Serves the connection for at most `timeout`: reads, acknowledges, keeps alive,
    /// resends, and returns as soon as a message arrives (copied into `inbound`).
    ///
    /// Cancel-safe: the timeout only ever interrupts it between TLS records (see
    /// [`super::RecordStream`]). A keepalive PINGRESP that does not come within minimq's
    /// round-trip limit (5 s) ends the connection with [`LinkError::Timeout`].
    pub async fn poll<const TOPIC: usize, const PAYLOAD: usize>(
        &mut self,
        inbound: &mut Inbound<TOPIC, PAYLOAD>,
        timeout: Duration,
    ) -> Result<Received, LinkError> {
        self.check()?;
        let conn = &mut self.conn;
        let last_progress = &mut self.last_progress;
        let serve = async {
            loop {
                match conn.poll().await {
                    Ok(Some(message)) => {
                        *last_progress = Instant::now();
                        let (topic, payload) = (message.topic(), message.payload());
                        return Ok(if inbound.fill(topic, payload, message.retained()) {
                            Received::Message
                        } else {
                            Received::Dropped {
                                topic: topic.len(),
                                payload: payload.len(),
                            }
                        });
                    }
                    Ok(None) => *last_progress = Instant::now(),
                    Err(e) => return Err(e),
                }
            }
        };
        match with_timeout(timeout, serve).await {
            Err(_) => Ok(Received::Idle),
            Ok(Ok(received)) => {
                if let Received::Dropped { topic, payload } = received {
                    warn!(
                        "dropped an inbound message too large for its buffer (topic {} bytes, payload {} bytes)",
                        topic, payload
                    );
                }
                Ok(received)
            }
            Ok(Err(e)) => Err(self.mqtt_error(e)),
        }
    }

    /// Sends what the session or the virtual disk handed out
    /// ([`crate::session::Outgoing::poll_transmit`]): a SUBSCRIBE, or a publish at its
    /// QoS. [`LinkError::Busy`] (nothing sent) when the transmit buffer has no room for a
    /// publish now: poll, and offer it again.
    pub async fn send(&mut self, t: Transmit<'_>, timeout: Duration) -> Result<(), LinkError> {
        match t {
            Transmit::Subscribe(subscriptions) => {
                let topics: heapless::Vec<&str, { session::MAX_FILTERS }> =
                    subscriptions.iter().map(|s| s.topic).collect();
                self.subscribe(&topics, timeout).await.map(drop)
            }
            Transmit::Publish(p) => {
                let qos = match p.qos {
                    session::QoS::AtMostOnce => QoS::AtMostOnce,
                    session::QoS::AtLeastOnce => QoS::AtLeastOnce,
                };
                if !self.can_publish(qos) {
                    return Err(LinkError::Busy);
                }
                self.publish(p.topic, p.payload, qos, p.retain, timeout)
                    .await
                    .map(drop)
            }
        }
    }

    /// Publishes [`STATUS_OFFLINE`] (retained) and disconnects politely, so the session
    /// stays on the broker but the will is not sent.
    pub async fn disconnect(mut self, timeout: Duration) -> Result<(), LinkError> {
        let topic = self.status_topic;
        self.publish(topic, STATUS_OFFLINE, QoS::AtMostOnce, true, timeout)
            .await?;
        self.leave(timeout).await
    }

    /// Sends DISCONNECT and nothing else: the session stays on the broker, the will is
    /// not sent and the status is left as it is (to reconnect at once).
    pub async fn leave(mut self, timeout: Duration) -> Result<(), LinkError> {
        match with_timeout(timeout, self.conn.disconnect()).await {
            Err(_) => Err(LinkError::Timeout),
            Ok(Err(e)) => Err(from_mqtt(e, false, false)),
            Ok(Ok(())) => Ok(()),
        }
    }
}
