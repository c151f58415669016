//! A minimal MQTT 3.1.1 client: just enough packets to log in, subscribe, publish at QoS 1
//! and see the message come back, with every refusal reported as a typed [`Fault`].
//!
//! The transport is abstract ([`Transport`]) so the same session runs over plain TCP, TLS
//! and WebSockets.

use std::time::Instant;

use super::net::Fault;

/// Largest packet the doctor accepts from the broker; its own packets are tiny.
const MAX_PACKET: usize = 64 * 1024;

/// Packet type nibbles (MQTT 3.1.1 section 2.2.1).
const CONNECT: u8 = 1;
const CONNACK: u8 = 2;
const PUBLISH: u8 = 3;
const PUBACK: u8 = 4;
const SUBSCRIBE: u8 = 8;
const SUBACK: u8 = 9;
const DISCONNECT: u8 = 14;

/// A byte pipe to the broker: plain TCP, TLS or binary WebSocket messages.
pub(crate) trait Transport {
    /// Sends all of `bytes`.
    fn send(&mut self, bytes: &[u8]) -> Result<(), Fault>;
    /// Receives at least one byte, or fails with [`Fault::Timeout`] once `deadline` passes.
    fn recv(&mut self, deadline: Instant) -> Result<Vec<u8>, Fault>;
}

/// The login part of a CONNECT packet.
#[derive(Debug, Clone, Default)]
pub(crate) struct Login<'a> {
    /// Client identifier.
    pub client_id: &'a str,
    /// User name and password, if the listener wants them.
    pub credentials: Option<(&'a str, &'a [u8])>,
}

/// One packet from the broker, as far as the doctor cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Packet {
    /// CONNACK with its return code.
    ConnAck(u8),
    /// SUBACK: packet id and the granted QoS (or 0x80 for failure) per topic.
    SubAck(u16, Vec<u8>),
    /// PUBACK for a packet id.
    PubAck(u16),
    /// An application message.
    Publish {
        /// QoS of the delivery.
        qos: u8,
        /// Packet id (QoS 1 and 2 only).
        id: Option<u16>,
        /// Topic name.
        topic: String,
        /// Payload bytes.
        payload: Vec<u8>,
    },
    /// Anything else (PINGRESP, ...), by type nibble.
    Other(u8),
}

/// Appends an MQTT variable byte integer.
fn put_length(out: &mut Vec<u8>, mut len: usize) {
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
}

/// Appends a length-prefixed string or binary field.
fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&bytes[..usize::from(len)]);
}

/// Wraps a variable header + payload into a packet with its fixed header.
fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    put_length(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// Encodes CONNECT (clean session, keep-alive 30 s).
pub(crate) fn connect(login: &Login<'_>) -> Vec<u8> {
    let mut body = Vec::new();
    put_bytes(&mut body, b"MQTT");
    body.push(4); // protocol level 3.1.1
    let mut flags = 0x02; // clean session
    if login.credentials.is_some() {
        flags |= 0xC0;
    }
    body.push(flags);
    body.extend_from_slice(&30u16.to_be_bytes());
    put_bytes(&mut body, login.client_id.as_bytes());
    if let Some((user, password)) = login.credentials {
        put_bytes(&mut body, user.as_bytes());
        put_bytes(&mut body, password);
    }
    frame(CONNECT << 4, &body)
}

/// Encodes SUBSCRIBE for one topic filter.
pub(crate) fn subscribe(id: u16, filter: &str, qos: u8) -> Vec<u8> {
    let mut body = id.to_be_bytes().to_vec();
    put_bytes(&mut body, filter.as_bytes());
    body.push(qos);
    frame(SUBSCRIBE << 4 | 0x02, &body)
}

/// Encodes a QoS 1 PUBLISH.
pub(crate) fn publish_qos1(id: u16, topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    put_bytes(&mut body, topic.as_bytes());
    body.extend_from_slice(&id.to_be_bytes());
    body.extend_from_slice(payload);
    frame(PUBLISH << 4 | 0x02, &body)
}

/// Encodes PUBACK.
pub(crate) fn puback(id: u16) -> Vec<u8> {
    frame(PUBACK << 4, &id.to_be_bytes())
}

/// Encodes DISCONNECT.
pub(crate) fn disconnect() -> Vec<u8> {
    frame(DISCONNECT << 4, &[])
}

/// Reads a big-endian u16 at `at`.
fn get_u16(bytes: &[u8], at: usize) -> Result<u16, Fault> {
    match bytes.get(at..at + 2) {
        Some(&[hi, lo]) => Ok(u16::from_be_bytes([hi, lo])),
        _ => Err(Fault::Protocol("packet too short".into())),
    }
}

/// Splits one complete packet off the front of `buf`: `Ok(None)` if more bytes are needed.
pub(crate) fn split_packet(buf: &mut Vec<u8>) -> Result<Option<Packet>, Fault> {
    let mut len = 0usize;
    let mut shift = 0;
    let mut at = 1;
    loop {
        let Some(&byte) = buf.get(at) else {
            return Ok(None);
        };
        len |= usize::from(byte & 0x7F) << shift;
        at += 1;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 21 {
            return Err(Fault::Protocol("malformed remaining length".into()));
        }
    }
    if len > MAX_PACKET {
        return Err(Fault::Protocol(format!(
            "{len}-byte packet from the broker"
        )));
    }
    if buf.len() < at + len {
        return Ok(None);
    }
    let first = buf[0];
    let body: Vec<u8> = buf.drain(..at + len).skip(at).collect();
    decode(first, &body).map(Some)
}

/// Decodes a packet body given its first header byte.
fn decode(first: u8, body: &[u8]) -> Result<Packet, Fault> {
    match first >> 4 {
        CONNACK => match body {
            [_, code] => Ok(Packet::ConnAck(*code)),
            _ => Err(Fault::Protocol("malformed CONNACK".into())),
        },
        SUBACK => Ok(Packet::SubAck(get_u16(body, 0)?, body[2..].to_vec())),
        PUBACK => Ok(Packet::PubAck(get_u16(body, 0)?)),
        PUBLISH => decode_publish(first, body),
        other => Ok(Packet::Other(other)),
    }
}

/// Decodes a PUBLISH body.
fn decode_publish(first: u8, body: &[u8]) -> Result<Packet, Fault> {
    let qos = (first >> 1) & 0x03;
    let topic_len = usize::from(get_u16(body, 0)?);
    let topic = body
        .get(2..2 + topic_len)
        .ok_or_else(|| Fault::Protocol("malformed PUBLISH".into()))?;
    let mut at = 2 + topic_len;
    let id = if qos > 0 {
        at += 2;
        Some(get_u16(body, at - 2)?)
    } else {
        None
    };
    Ok(Packet::Publish {
        qos,
        id,
        topic: String::from_utf8_lossy(topic).into_owned(),
        payload: body.get(at..).unwrap_or_default().to_vec(),
    })
}

/// Why the broker refused a CONNECT (MQTT 3.1.1 CONNACK return codes 1-5).
pub(crate) fn connack_meaning(code: u8) -> &'static str {
    match code {
        1 => "unacceptable protocol version",
        2 => "client identifier rejected",
        3 => "server unavailable",
        4 => "bad user name or password",
        5 => "not authorized",
        _ => "unknown refusal code",
    }
}

/// An MQTT session over a [`Transport`].
pub(crate) struct Session<T> {
    transport: T,
    buf: Vec<u8>,
}

impl<T: Transport> Session<T> {
    /// Wraps a connected transport.
    pub(crate) fn new(transport: T) -> Self {
        Self {
            transport,
            buf: Vec::new(),
        }
    }

    /// Waits for the next packet until `deadline`.
    pub(crate) fn next_packet(&mut self, deadline: Instant) -> Result<Packet, Fault> {
        loop {
            if let Some(packet) = split_packet(&mut self.buf)? {
                return Ok(packet);
            }
            let bytes = self.transport.recv(deadline)?;
            self.buf.extend_from_slice(&bytes);
        }
    }

    /// Sends CONNECT and waits for an accepting CONNACK.
    pub(crate) fn connect(&mut self, login: &Login<'_>, deadline: Instant) -> Result<(), Fault> {
        self.transport.send(&connect(login))?;
        match self.next_packet(deadline) {
            Ok(Packet::ConnAck(0)) => Ok(()),
            Ok(Packet::ConnAck(code)) => Err(Fault::ConnAck(code)),
            Ok(_) => Err(Fault::Protocol("expected CONNACK".into())),
            Err(Fault::Closed) => Err(Fault::ClosedAfterConnect),
            Err(Fault::Timeout) => Err(Fault::NoConnAck),
            Err(other) => Err(other),
        }
    }

    /// Subscribes to `topic` at QoS 1, then publishes `payload` to it at QoS 1 and waits
    /// for both the PUBACK and the message to come back.
    pub(crate) fn round_trip(
        &mut self,
        topic: &str,
        payload: &[u8],
        deadline: Instant,
    ) -> Result<(), Fault> {
        self.transport.send(&subscribe(1, topic, 1))?;
        self.await_suback(1, deadline)?;
        self.transport.send(&publish_qos1(2, topic, payload))?;
        let (mut acked, mut received) = (false, false);
        while !(acked && received) {
            match self.next_packet(deadline) {
                Ok(Packet::PubAck(2)) => acked = true,
                Ok(Packet::Publish {
                    id,
                    topic: t,
                    payload: p,
                    ..
                }) => {
                    if let Some(id) = id {
                        self.transport.send(&puback(id))?;
                    }
                    received |= t == topic && p == payload;
                }
                Ok(_) => {}
                Err(Fault::Timeout) if !acked => return Err(Fault::NoPubAck),
                Err(Fault::Timeout) => return Err(Fault::NotDelivered),
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    /// Waits for the SUBACK of packet `id` and checks it granted the subscription.
    fn await_suback(&mut self, id: u16, deadline: Instant) -> Result<(), Fault> {
        loop {
            match self.next_packet(deadline) {
                Ok(Packet::SubAck(got, codes)) if got == id => {
                    return match codes.first() {
                        Some(code) if *code <= 2 => Ok(()),
                        _ => Err(Fault::SubscribeRefused),
                    };
                }
                Ok(_) => {}
                Err(Fault::Timeout) => return Err(Fault::NoSubAck),
                Err(other) => return Err(other),
            }
        }
    }

    /// Sends DISCONNECT, ignoring errors: the checks are already decided.
    pub(crate) fn disconnect(mut self) {
        let _ = self.transport.send(&disconnect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_packet_has_credentials_flags() {
        let bytes = connect(&Login {
            client_id: "c",
            credentials: Some(("u", b"p")),
        });
        assert_eq!(
            bytes,
            [
                0x10, 19, 0, 4, b'M', b'Q', b'T', b'T', 4, 0xC2, 0, 30, 0, 1, b'c', 0, 1, b'u', 0,
                1, b'p'
            ]
        );
    }

    #[test]
    fn long_lengths_use_continuation_bytes() {
        let mut out = Vec::new();
        put_length(&mut out, 321);
        assert_eq!(out, [0xC1, 0x02]);
    }

    #[test]
    fn split_waits_for_complete_packets() {
        let mut buf = vec![0x20, 0x02, 0x00];
        assert_eq!(split_packet(&mut buf).unwrap(), None);
        buf.push(0x05);
        assert_eq!(split_packet(&mut buf).unwrap(), Some(Packet::ConnAck(5)));
        assert!(buf.is_empty());
    }

    #[test]
    fn publish_round_trips_through_decoder() {
        let mut buf = publish_qos1(7, "a/b", b"hi");
        assert_eq!(
            split_packet(&mut buf).unwrap(),
            Some(Packet::Publish {
                qos: 1,
                id: Some(7),
                topic: "a/b".into(),
                payload: b"hi".to_vec()
            })
        );
    }

    #[test]
    fn garbage_does_not_panic() {
        for first in 0..=255u8 {
            for len in 0..6u8 {
                let mut buf = vec![first, len, 0xFF, 0xFF, 0x00];
                let _ = split_packet(&mut buf);
            }
        }
        let mut endless = vec![0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        assert!(split_packet(&mut endless).is_err());
    }
}
