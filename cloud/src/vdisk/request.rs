//! One inbound disk request, checked: which channel, which kind, and a valid offset.

use altair_firmware::platform::SECTOR_BYTES;
use altair_firmware::session::topics::check_channel;
use altair_firmware::vdisk::wire::{self, WireError};

/// A checked request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The channel (a valid channel name, so also a safe file name).
    pub channel: String,
    /// What it asks for.
    pub kind: Kind,
}

/// The two requests of the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `vdisk/read`: send the sector at this offset on `vdisk/data`.
    Read(u32),
    /// `vdisk/write`: store the sector at this offset, then acknowledge it on `vdisk/ack`.
    Write(u32, Box<[u8; SECTOR_BYTES]>),
}

/// Why a message was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not `altair/<channel>/vdisk/read` or `.../write`.
    Topic,
    /// The channel part is not a channel name.
    Channel,
    /// The payload is wrong for its topic.
    Payload(WireError),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Topic => f.write_str("not a disk request topic"),
            Refusal::Channel => f.write_str("not a valid channel name"),
            Refusal::Payload(e) => e.fmt(f),
        }
    }
}

/// Parses a message from the broker into a request.
pub fn parse(topic: &str, payload: &[u8]) -> Result<Request, Refusal> {
    let rest = topic.strip_prefix("altair/").ok_or(Refusal::Topic)?;
    let (channel, suffix) = rest.split_once('/').ok_or(Refusal::Topic)?;
    let kind = match suffix {
        "vdisk/read" => Kind::Read(wire::parse_offset(payload).map_err(Refusal::Payload)?),
        "vdisk/write" => {
            let (offset, sector) = wire::parse_sector(payload).map_err(Refusal::Payload)?;
            Kind::Write(offset, Box::new(*sector))
        }
        _ => return Err(Refusal::Topic),
    };
    check_channel(channel).map_err(|_| Refusal::Channel)?;
    Ok(Request {
        channel: channel.to_owned(),
        kind,
    })
}

/// The reply topic `altair/<channel>/vdisk/<what>`.
pub fn reply_topic(channel: &str, what: &str) -> String {
    format!("altair/{channel}/vdisk/{what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked() {
        let read = parse("altair/kitchen/vdisk/read", &274u32.to_le_bytes()).unwrap();
        assert_eq!(read.kind, Kind::Read(274));
        assert_eq!(read.channel, "kitchen");
        let mut write = 137u32.to_le_bytes().to_vec();
        write.extend([7; SECTOR_BYTES]);
        let got = parse("altair/k-1/vdisk/write", &write).unwrap();
        assert_eq!(got.kind, Kind::Write(137, Box::new([7; SECTOR_BYTES])));
        let refused = |topic: &str, payload: &[u8]| parse(topic, payload).unwrap_err();
        assert_eq!(refused("altair/k/vdisk/data", &[0; 4]), Refusal::Topic);
        assert_eq!(refused("other/k/vdisk/read", &[0; 4]), Refusal::Topic);
        assert_eq!(refused("altair/../vdisk/read", &[0; 4]), Refusal::Channel);
        assert_eq!(refused("altair/a b/vdisk/read", &[0; 4]), Refusal::Channel);
        assert!(matches!(
            refused("altair/k/vdisk/read", &[0; 3]),
            Refusal::Payload(WireError::Length { got: 3, want: 4 })
        ));
        assert!(matches!(
            refused("altair/k/vdisk/write", &write[..100]),
            Refusal::Payload(WireError::Length { .. })
        ));
        assert!(matches!(
            refused("altair/k/vdisk/read", &5u32.to_le_bytes()),
            Refusal::Payload(WireError::Misaligned(5))
        ));
    }
}
