//! MQTT 3.1.1 packets: encoding the ones a client sends and decoding the ones a broker
//! sends, with every malformed input reported as [`Fault::Protocol`].

use super::transport::Fault;

/// Largest packet accepted from the broker.
const MAX_PACKET: usize = 64 * 1024;

/// Packet type nibbles (MQTT 3.1.1 section 2.2.1).
const CONNECT: u8 = 1;
const CONNACK: u8 = 2;
const PUBLISH: u8 = 3;
const PUBACK: u8 = 4;
const SUBSCRIBE: u8 = 8;
const SUBACK: u8 = 9;
const PINGREQ: u8 = 12;
const PINGRESP: u8 = 13;
const DISCONNECT: u8 = 14;

/// Quality of service of a publication or subscription (QoS 2 is not supported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum QoS {
    /// QoS 0: at most once, no acknowledgement.
    #[default]
    AtMostOnce = 0,
    /// QoS 1: at least once, acknowledged with PUBACK.
    AtLeastOnce = 1,
}

/// The last-will message the broker publishes if the client goes away without DISCONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Will<'a> {
    /// Topic of the will message.
    pub topic: &'a str,
    /// Payload of the will message.
    pub payload: &'a [u8],
    /// QoS the broker publishes it with.
    pub qos: QoS,
    /// Whether the broker retains it.
    pub retain: bool,
}

/// What a CONNECT packet says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connect<'a> {
    /// Client identifier.
    pub client_id: &'a str,
    /// Clean session: the broker forgets earlier subscriptions and queued messages.
    pub clean_session: bool,
    /// Keep-alive interval in seconds (0: none); the client must send something, e.g. a
    /// PINGREQ ([`super::Session::ping`]), at least this often.
    pub keep_alive: u16,
    /// User name and password, if the listener wants them.
    pub credentials: Option<(&'a str, &'a [u8])>,
    /// Last will, if any.
    pub will: Option<Will<'a>>,
}

impl<'a> Connect<'a> {
    /// A clean session with a 30 s keep-alive, no credentials and no will.
    pub fn new(client_id: &'a str) -> Self {
        Self {
            client_id,
            clean_session: true,
            keep_alive: 30,
            credentials: None,
            will: None,
        }
    }
}

/// An application message received from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Topic name.
    pub topic: String,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// QoS of the delivery.
    pub qos: QoS,
    /// Whether it is a retained message sent on subscribing.
    pub retain: bool,
}

/// One packet from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Packet {
    /// CONNACK: session present flag and return code.
    ConnAck {
        /// Whether the broker kept a session for this client id.
        session_present: bool,
        /// Return code (0: accepted).
        code: u8,
    },
    /// SUBACK: packet id and the granted QoS (or 0x80 for failure) per topic.
    SubAck(u16, Vec<u8>),
    /// PUBACK for a packet id.
    PubAck(u16),
    /// PINGRESP.
    PingResp,
    /// An application message, with its packet id (QoS 1 only).
    Publish(Option<u16>, Message),
    /// Anything else, by type nibble.
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

/// Encodes CONNECT.
pub(crate) fn connect(c: &Connect<'_>) -> Vec<u8> {
    let mut body = Vec::new();
    put_bytes(&mut body, b"MQTT");
    body.push(4); // protocol level 3.1.1
    let mut flags = 0;
    if c.clean_session {
        flags |= 0x02;
    }
    if let Some(will) = &c.will {
        flags |= 0x04 | (will.qos as u8) << 3;
        if will.retain {
            flags |= 0x20;
        }
    }
    if c.credentials.is_some() {
        flags |= 0xC0;
    }
    body.push(flags);
    body.extend_from_slice(&c.keep_alive.to_be_bytes());
    put_bytes(&mut body, c.client_id.as_bytes());
    if let Some(will) = &c.will {
        put_bytes(&mut body, will.topic.as_bytes());
        put_bytes(&mut body, will.payload);
    }
    if let Some((user, password)) = c.credentials {
        put_bytes(&mut body, user.as_bytes());
        put_bytes(&mut body, password);
    }
    frame(CONNECT << 4, &body)
}

/// Encodes SUBSCRIBE for one topic filter.
pub(crate) fn subscribe(id: u16, filter: &str, qos: QoS) -> Vec<u8> {
    let mut body = id.to_be_bytes().to_vec();
    put_bytes(&mut body, filter.as_bytes());
    body.push(qos as u8);
    frame(SUBSCRIBE << 4 | 0x02, &body)
}

/// Encodes PUBLISH; `id` is the packet id, used at QoS 1 only.
pub(crate) fn publish(id: u16, topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Vec<u8> {
    let mut body = Vec::new();
    put_bytes(&mut body, topic.as_bytes());
    if qos == QoS::AtLeastOnce {
        body.extend_from_slice(&id.to_be_bytes());
    }
    body.extend_from_slice(payload);
    frame(PUBLISH << 4 | (qos as u8) << 1 | u8::from(retain), &body)
}

/// Encodes PUBACK.
pub(crate) fn puback(id: u16) -> Vec<u8> {
    frame(PUBACK << 4, &id.to_be_bytes())
}

/// Encodes PINGREQ.
pub(crate) fn pingreq() -> Vec<u8> {
    frame(PINGREQ << 4, &[])
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
            [ack, code] => Ok(Packet::ConnAck {
                session_present: ack & 0x01 != 0,
                code: *code,
            }),
            _ => Err(Fault::Protocol("malformed CONNACK".into())),
        },
        SUBACK => Ok(Packet::SubAck(get_u16(body, 0)?, body[2..].to_vec())),
        PUBACK => Ok(Packet::PubAck(get_u16(body, 0)?)),
        PINGRESP => Ok(Packet::PingResp),
        PUBLISH => decode_publish(first, body),
        other => Ok(Packet::Other(other)),
    }
}

/// Decodes a PUBLISH body.
fn decode_publish(first: u8, body: &[u8]) -> Result<Packet, Fault> {
    let qos = match (first >> 1) & 0x03 {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        other => {
            return Err(Fault::Protocol(format!(
                "PUBLISH at QoS {other}, above what was subscribed"
            )));
        }
    };
    let topic_len = usize::from(get_u16(body, 0)?);
    let topic = body
        .get(2..2 + topic_len)
        .ok_or_else(|| Fault::Protocol("malformed PUBLISH".into()))?;
    let mut at = 2 + topic_len;
    let id = if qos == QoS::AtLeastOnce {
        at += 2;
        Some(get_u16(body, at - 2)?)
    } else {
        None
    };
    let message = Message {
        topic: String::from_utf8_lossy(topic).into_owned(),
        payload: body.get(at..).unwrap_or_default().to_vec(),
        qos,
        retain: first & 0x01 != 0,
    };
    Ok(Packet::Publish(id, message))
}

/// What a CONNACK return code means (MQTT 3.1.1 section 3.2.2.3: refusals are 1-5).
pub fn connack_meaning(code: u8) -> &'static str {
    match code {
        0 => "connection accepted",
        1 => "unacceptable protocol version",
        2 => "client identifier rejected",
        3 => "server unavailable",
        4 => "bad user name or password",
        5 => "not authorized",
        _ => "unknown refusal code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_packet_has_credentials_flags() {
        let bytes = connect(&Connect {
            credentials: Some(("u", b"p")),
            ..Connect::new("c")
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
    fn connect_packet_carries_the_will_before_the_credentials() {
        let bytes = connect(&Connect {
            clean_session: false,
            keep_alive: 60,
            credentials: Some(("u", b"p")),
            will: Some(Will {
                topic: "w",
                payload: b"x",
                qos: QoS::AtLeastOnce,
                retain: true,
            }),
            ..Connect::new("c")
        });
        assert_eq!(
            bytes,
            [
                0x10, 25, 0, 4, b'M', b'Q', b'T', b'T', 4, 0xEC, 0, 60, 0, 1, b'c', 0, 1, b'w', 0,
                1, b'x', 0, 1, b'u', 0, 1, b'p'
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
        let mut buf = vec![0x20, 0x02, 0x01];
        assert_eq!(split_packet(&mut buf).unwrap(), None);
        buf.push(0x05);
        assert_eq!(
            split_packet(&mut buf).unwrap(),
            Some(Packet::ConnAck {
                session_present: true,
                code: 5
            })
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn publish_round_trips_through_decoder() {
        let mut buf = publish(7, "a/b", b"hi", QoS::AtLeastOnce, false);
        let mut retained = publish(7, "a/b", b"hi", QoS::AtMostOnce, true);
        buf.append(&mut retained);
        let message = |qos, retain| Message {
            topic: "a/b".into(),
            payload: b"hi".to_vec(),
            qos,
            retain,
        };
        assert_eq!(
            split_packet(&mut buf).unwrap(),
            Some(Packet::Publish(Some(7), message(QoS::AtLeastOnce, false)))
        );
        assert_eq!(
            split_packet(&mut buf).unwrap(),
            Some(Packet::Publish(None, message(QoS::AtMostOnce, true)))
        );
        assert!(buf.is_empty());
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
