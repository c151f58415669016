//! The disk protocol's payloads (reference.md section 3, plus `ack`), checked the same way
//! on both ends: the device decodes `data` and `ack` with these functions and the disk
//! server (`altair-cloud vdisk serve`) decodes `read` and `write` with them.
//!
//! | payload | bytes |
//! |---|---|
//! | `read`, `ack` | 4: little-endian u32 byte offset |
//! | `write`, `data` | 141: the offset, then the 137 sector bytes |
//!
//! An offset is valid when it is the start of one of the image's 2,464 sectors: a multiple
//! of 137 below [`IMAGE_BYTES`]. The 96 padding bytes some images carry are never a sector.

use core::fmt;

use crate::platform::{IMAGE_BYTES, SECTOR_BYTES};

/// Bytes in a `read` or `ack` payload.
pub const OFFSET_LEN: usize = 4;
/// Bytes in a `write` or `data` payload: 4 + 137 = 141.
pub const SECTOR_MESSAGE_LEN: usize = OFFSET_LEN + SECTOR_BYTES;

/// Why a payload was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WireError {
    /// The payload is not the length its topic needs.
    Length {
        /// What arrived.
        got: usize,
        /// What the topic needs.
        want: usize,
    },
    /// The offset is not on a sector boundary.
    Misaligned(u32),
    /// The offset is past the last sector.
    OutOfRange(u32),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Length { got, want } => {
                write!(f, "payload of {got} bytes (want {want})")
            }
            WireError::Misaligned(offset) => {
                write!(f, "offset {offset} is not a multiple of {SECTOR_BYTES}")
            }
            WireError::OutOfRange(offset) => {
                write!(
                    f,
                    "offset {offset} is past the last sector (image of {IMAGE_BYTES} bytes)"
                )
            }
        }
    }
}

impl core::error::Error for WireError {}

/// Checks that `offset` starts a sector of the image.
pub fn check_offset(offset: u32) -> Result<u32, WireError> {
    if !offset.is_multiple_of(SECTOR_BYTES as u32) {
        Err(WireError::Misaligned(offset))
    } else if offset >= IMAGE_BYTES {
        Err(WireError::OutOfRange(offset))
    } else {
        Ok(offset)
    }
}

/// Decodes a `read` or `ack` payload.
pub fn parse_offset(payload: &[u8]) -> Result<u32, WireError> {
    let bytes: [u8; OFFSET_LEN] = payload.try_into().map_err(|_| WireError::Length {
        got: payload.len(),
        want: OFFSET_LEN,
    })?;
    check_offset(u32::from_le_bytes(bytes))
}

/// Decodes a `write` or `data` payload into its offset and sector.
pub fn parse_sector(payload: &[u8]) -> Result<(u32, &[u8; SECTOR_BYTES]), WireError> {
    let length = WireError::Length {
        got: payload.len(),
        want: SECTOR_MESSAGE_LEN,
    };
    if payload.len() != SECTOR_MESSAGE_LEN {
        return Err(length);
    }
    let (head, sector) = payload.split_at(OFFSET_LEN);
    let offset = parse_offset(head)?;
    let sector = sector.try_into().map_err(|_| length)?;
    Ok((offset, sector))
}

/// Encodes a `read` or `ack` payload.
pub fn encode_offset(offset: u32) -> [u8; OFFSET_LEN] {
    offset.to_le_bytes()
}

/// Encodes a `write` or `data` payload.
pub fn encode_sector(offset: u32, sector: &[u8; SECTOR_BYTES]) -> [u8; SECTOR_MESSAGE_LEN] {
    let mut out = [0; SECTOR_MESSAGE_LEN];
    out[..OFFSET_LEN].copy_from_slice(&encode_offset(offset));
    out[OFFSET_LEN..].copy_from_slice(sector);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::sector_offset;

    #[test]
    fn payloads_round_trip() {
        let offset = sector_offset(76, 31);
        assert_eq!(parse_offset(&encode_offset(offset)), Ok(offset));
        let sector = [0xA5; SECTOR_BYTES];
        let message = encode_sector(offset, &sector);
        assert_eq!(parse_sector(&message), Ok((offset, &sector)));
    }

    #[test]
    fn bad_payloads_are_named() {
        assert_eq!(
            parse_offset(&[0; 5]),
            Err(WireError::Length { got: 5, want: 4 })
        );
        assert_eq!(
            parse_offset(&1u32.to_le_bytes()),
            Err(WireError::Misaligned(1))
        );
        assert_eq!(
            parse_offset(&IMAGE_BYTES.to_le_bytes()),
            Err(WireError::OutOfRange(IMAGE_BYTES))
        );
        assert_eq!(
            parse_sector(&[0; 140]),
            Err(WireError::Length {
                got: 140,
                want: 141
            })
        );
        let mut message = encode_sector(137, &[0; SECTOR_BYTES]);
        message[0] += 1;
        assert_eq!(parse_sector(&message), Err(WireError::Misaligned(138)));
    }
}
