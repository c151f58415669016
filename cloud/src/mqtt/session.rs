//! [`Session`]: one MQTT 3.1.1 connection over a [`Transport`], blocking, with a deadline
//! on every wait.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::packet::{self, Connect, Message, Packet, QoS};
use super::transport::{Fault, Transport};

/// An MQTT session over a [`Transport`].
///
/// Every call that waits for the broker takes a deadline and fails with the [`Fault`] that
/// names what did not arrive ([`Fault::NoConnAck`], [`Fault::NoSubAck`], ...). Messages
/// that arrive while a call waits for an acknowledgement are kept for [`Session::receive`];
/// QoS 1 deliveries are acknowledged as they arrive.
pub struct Session<T> {
    transport: T,
    buf: Vec<u8>,
    inbox: VecDeque<Message>,
    last_id: u16,
    keep_alive: Option<Duration>,
    last_sent: Instant,
}

impl<T: Transport> Session<T> {
    /// Wraps a connected transport; [`Session::connect`] logs in.
    pub fn new(transport: T) -> Self {
        Self {
            transport,
            buf: Vec::new(),
            inbox: VecDeque::new(),
            last_id: 0,
            keep_alive: None,
            last_sent: Instant::now(),
        }
    }

    /// Sends CONNECT and waits until `deadline` for an accepting CONNACK; returns whether
    /// the broker kept a session for this client id (always false with a clean session).
    ///
    /// A refusal is [`Fault::ConnAck`] with the return code; a broker that closes the
    /// connection or stays silent is [`Fault::ClosedAfterConnect`] or [`Fault::NoConnAck`].
    pub fn connect(&mut self, login: &Connect<'_>, deadline: Instant) -> Result<bool, Fault> {
        self.send(&packet::connect(login))?;
        self.keep_alive =
            (login.keep_alive > 0).then(|| Duration::from_secs(login.keep_alive.into()));
        match self.next_packet(deadline) {
            Ok(Packet::ConnAck {
                session_present,
                code: 0,
            }) => Ok(session_present),
            Ok(Packet::ConnAck { code, .. }) => Err(Fault::ConnAck(code)),
            Ok(_) => Err(Fault::Protocol("expected CONNACK".into())),
            Err(Fault::Closed) => Err(Fault::ClosedAfterConnect),
            Err(Fault::Timeout) => Err(Fault::NoConnAck),
            Err(other) => Err(other),
        }
    }

    /// Subscribes to `filter` at up to `qos` and waits until `deadline` for the SUBACK;
    /// returns the QoS the broker granted, or [`Fault::SubscribeRefused`].
    pub fn subscribe(&mut self, filter: &str, qos: QoS, deadline: Instant) -> Result<QoS, Fault> {
        let id = self.next_id();
        self.send(&packet::subscribe(id, filter, qos))?;
        loop {
            match self.next_packet(deadline) {
                Ok(Packet::SubAck(got, codes)) if got == id => {
                    return match codes.first() {
                        Some(0) => Ok(QoS::AtMostOnce),
                        Some(1) => Ok(QoS::AtLeastOnce),
                        Some(2) => Err(Fault::Protocol(
                            "SUBACK granted QoS 2, more than was asked".into(),
                        )),
                        _ => Err(Fault::SubscribeRefused),
                    };
                }
                Ok(other) => self.keep(other)?,
                Err(Fault::Timeout) => return Err(Fault::NoSubAck),
                Err(other) => return Err(other),
            }
        }
    }

    /// Publishes `payload` to `topic`. At QoS 1 it waits until `deadline` for the PUBACK
    /// ([`Fault::NoPubAck`] if none comes); at QoS 0 it returns once the bytes are sent.
    pub fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        deadline: Instant,
    ) -> Result<(), Fault> {
        let id = match qos {
            QoS::AtMostOnce => 0,
            QoS::AtLeastOnce => self.next_id(),
        };
        self.send(&packet::publish(id, topic, payload, qos, retain))?;
        if qos == QoS::AtMostOnce {
            return Ok(());
        }
        loop {
            match self.next_packet(deadline) {
                Ok(Packet::PubAck(got)) if got == id => return Ok(()),
                Ok(other) => self.keep(other)?,
                Err(Fault::Timeout) => return Err(Fault::NoPubAck),
                Err(other) => return Err(other),
            }
        }
    }

    /// The next message on a subscription, or `None` if none arrives before `deadline`.
    pub fn receive(&mut self, deadline: Instant) -> Result<Option<Message>, Fault> {
        loop {
            if let Some(message) = self.inbox.pop_front() {
                return Ok(Some(message));
            }
            match self.next_packet(deadline) {
                Ok(other) => self.keep(other)?,
                Err(Fault::Timeout) => return Ok(None),
                Err(other) => return Err(other),
            }
        }
    }

    /// The next message already received, without waiting: `None` when getting one
    /// would mean reading from the transport. For draining what arrived together.
    pub fn receive_buffered(&mut self) -> Result<Option<Message>, Fault> {
        loop {
            if let Some(message) = self.inbox.pop_front() {
                return Ok(Some(message));
            }
            match packet::split_packet(&mut self.buf)? {
                Some(packet) => self.keep(packet)?,
                None => return Ok(None),
            }
        }
    }

    /// Sends PINGREQ and waits until `deadline` for the PINGRESP ([`Fault::NoPingResp`]).
    pub fn ping(&mut self, deadline: Instant) -> Result<(), Fault> {
        self.send(&packet::pingreq())?;
        loop {
            match self.next_packet(deadline) {
                Ok(Packet::PingResp) => return Ok(()),
                Ok(other) => self.keep(other)?,
                Err(Fault::Timeout) => return Err(Fault::NoPingResp),
                Err(other) => return Err(other),
            }
        }
    }

    /// When the keep-alive interval runs out if nothing more is sent: a long-lived client
    /// calls [`Session::ping`] by then. `None` without a keep-alive (or before connecting).
    pub fn ping_due(&self) -> Option<Instant> {
        self.keep_alive.map(|interval| self.last_sent + interval)
    }

    /// Sends DISCONNECT, so the broker drops the will, and ends the session.
    pub fn disconnect(mut self) -> Result<(), Fault> {
        self.send(&packet::disconnect())
    }

    /// The next packet identifier (1 to 65535, then around again).
    fn next_id(&mut self) -> u16 {
        self.last_id = self.last_id.checked_add(1).unwrap_or(1);
        self.last_id
    }

    /// Sends a packet, noting the time for the keep-alive.
    fn send(&mut self, bytes: &[u8]) -> Result<(), Fault> {
        self.transport.send(bytes)?;
        self.last_sent = Instant::now();
        Ok(())
    }

    /// Keeps a packet that is not the one awaited: a message goes to the inbox (QoS 1
    /// acknowledged), anything else is dropped.
    fn keep(&mut self, incoming: Packet) -> Result<(), Fault> {
        if let Packet::Publish(id, message) = incoming {
            if let Some(id) = id {
                self.send(&packet::puback(id))?;
            }
            self.inbox.push_back(message);
        }
        Ok(())
    }

    /// Waits for the next packet until `deadline`.
    fn next_packet(&mut self, deadline: Instant) -> Result<Packet, Fault> {
        loop {
            if let Some(packet) = packet::split_packet(&mut self.buf)? {
                return Ok(packet);
            }
            let bytes = self.transport.recv(deadline)?;
            self.buf.extend_from_slice(&bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A broker played from a script: what it sends, and what it was sent.
    struct Script {
        replies: VecDeque<Vec<u8>>,
        sent: Vec<Vec<u8>>,
    }

    impl Transport for &mut Script {
        fn send(&mut self, bytes: &[u8]) -> Result<(), Fault> {
            self.sent.push(bytes.to_vec());
            Ok(())
        }

        fn recv(&mut self, _deadline: Instant) -> Result<Vec<u8>, Fault> {
            self.replies.pop_front().ok_or(Fault::Timeout)
        }
    }

    fn script(replies: &[&[u8]]) -> Script {
        Script {
            replies: replies.iter().map(|r| r.to_vec()).collect(),
            sent: Vec::new(),
        }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(1)
    }

    #[test]
    fn refusals_and_silence_are_named() {
        let mut broker = script(&[&[0x20, 2, 0, 5]]);
        let err = Session::new(&mut broker)
            .connect(&Connect::new("c"), soon())
            .unwrap_err();
        assert!(matches!(err, Fault::ConnAck(5)), "{err:?}");
        let mut silent = script(&[]);
        let mut session = Session::new(&mut silent);
        let err = session.connect(&Connect::new("c"), soon()).unwrap_err();
        assert!(matches!(err, Fault::NoConnAck), "{err:?}");
        for (result, name) in [
            (
                session.subscribe("t", QoS::AtLeastOnce, soon()).err(),
                "SUBACK",
            ),
            (
                session
                    .publish("t", b"x", QoS::AtLeastOnce, false, soon())
                    .err(),
                "PUBACK",
            ),
            (session.ping(soon()).err(), "PINGRESP"),
        ] {
            let text = result.expect("a fault").to_string();
            assert_eq!(text, format!("no {name} in time"));
        }
    }

    #[test]
    fn messages_met_while_waiting_are_kept_and_acknowledged() {
        let mut broker = script(&[
            &[0x20, 2, 0, 0],
            // A QoS 1 message (id 9) before the SUBACK of id 1, which grants QoS 1.
            &[0x32, 6, 0, 1, b't', 0, 9, b'a'],
            &[0x90, 3, 0, 1, 1],
            &[0x30, 4, 0, 1, b't', b'b'],
        ]);
        let mut session = Session::new(&mut broker);
        assert!(!session.connect(&Connect::new("c"), soon()).unwrap());
        assert!(session.ping_due().is_some());
        let granted = session.subscribe("t", QoS::AtLeastOnce, soon()).unwrap();
        assert_eq!(granted, QoS::AtLeastOnce);
        let payloads: Vec<Vec<u8>> = std::iter::from_fn(|| session.receive(soon()).unwrap())
            .map(|m| m.payload)
            .collect();
        assert_eq!(payloads, [b"a".to_vec(), b"b".to_vec()]);
        session.disconnect().unwrap();
        assert_eq!(broker.sent[2], [0x40, 2, 0, 9], "PUBACK for id 9");
        assert_eq!(broker.sent[3], [0xE0, 0], "DISCONNECT");
    }
}
