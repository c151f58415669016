//! The device's transport: MQTT 5 (minimq 0.13) over TLS 1.3 (embedded-tls 0.19) over
//! whatever byte stream the platform has, with mutual authentication and no allocator.
//!
//! It owns the connection, not the conversation: what to publish and what inbound
//! messages mean is the session's business (`crate::session`). Layers, bottom up:
//!
//! - the platform's byte stream, any `embedded_io_async::Read + Write` (a TCP socket,
//!   a UART carrying TCP): it MUST return `Pending`, not an error, when no data is there
//!   yet, and MUST report a closed connection as `Ok(0)` or an error;
//! - [`RecordStream`]: cuts it into whole TLS records so reads can be cancelled safely;
//! - [`tls`]: the device's credentials and the CA-pinning, host-checking provider;
//! - [`Link`] / [`Connected`]: the MQTT session across connections, and one connection;
//! - [`Backoff`] / [`Reconnect`]: when to try again;
//! - [`exec`]: [`poll_once`] and [`block_on`], how the platform drives all of it without
//!   an OS, and the cancel-safety rule.
//!
//! Two more things come from the platform:
//! - randomness, a [`rand_core::CryptoRngCore`] passed to [`Link::connect`]. It MUST be a
//!   real hardware or OS generator on devices (the MT3620's TRNG); a seed baked in at
//!   build time is acceptable only in tests;
//! - time, through embassy-time, which minimq reads directly (`Instant::now`) for
//!   keepalive: the platform MUST register an embassy-time driver (tick rate 1 MHz, the
//!   default) that is monotonic. With [`poll_once`] / [`block_on`] its `schedule_wake`
//!   MAY do nothing, since they poll again instead of waiting for a wake-up.
//!
//! # Memory
//!
//! All buffers live in one [`LinkBuffers`] ([`LinkBuffers::BYTES`] = 12,608 bytes), which
//! the platform places where it likes (a `static`, or the run loop's stack frame). The
//! sizes are set by what crosses the link: terminal output of at most 256 bytes per
//! message, disk sectors of 141 bytes, pasted text in 256-byte chunks.

pub mod backoff;
mod error;
pub mod exec;
mod link;
pub mod record_stream;
pub mod tls;

pub use backoff::{Backoff, Reconnect};
pub use error::LinkError;
pub use exec::{block_on, poll_once};
pub use link::{Connected, Inbound, Link, LinkConfig, Pending, Received};
pub use minimq::QoS;
pub use record_stream::{RecordStream, StreamError};
pub use tls::Credentials;

/// The TLS record read buffer. With the max fragment length extension at 4,096 bytes
/// (RFC 6066 section 4), a server record is at most 4,096 bytes of plaintext plus the
/// header, content type and AEAD tag: 4,352 covers it with room to spare (Mosquitto
/// honours the extension). A server that ignores it needs 16,640 (2^14 + 256); setting
/// this to 16,640 also stops the link from asking for the extension.
pub const TLS_READ_BYTES: usize = 4_352;

/// The TLS record write buffer: the largest record the device sends. Larger writes are
/// split into several records; 2,048 holds any one MQTT packet of the terminal and disk
/// protocols whole, plus embedded-tls's 128 bytes of record overhead.
pub const TLS_WRITE_BYTES: usize = 2_048;

/// The largest inbound MQTT packet. minimq tells the broker this as its Maximum Packet
/// Size (MQTT 5 section 3.1.2.11.4), and Mosquitto then silently drops larger messages
/// for this client rather than send them, so an oversize publish costs nothing here.
/// 1,024 bytes holds a 256-byte paste chunk or a 141-byte sector with any topic.
pub const MQTT_RX_BYTES: usize = 1_024;

/// minimq's transmit arena: QoS 1 messages awaiting PUBACK, pending SUBSCRIBEs, and the
/// CONNECT (with the will) being encoded. 4,096 bytes keeps about a dozen 256-byte
/// output messages in flight; when full, publishes fail with [`LinkError::Busy`].
pub const MQTT_TX_BYTES: usize = 4_096;

/// [`RecordStream`]'s stash: the largest TLS record it can make cancel-safe. An inbound
/// MQTT packet of [`MQTT_RX_BYTES`] is one record of that plus 22 bytes (header,
/// content type, tag); 64 bytes of slack also cover session tickets (about 250 bytes).
pub const STASH_BYTES: usize = MQTT_RX_BYTES + 64;

/// The most topic filters one [`Connected::subscribe`] call takes.
pub const MAX_SUBSCRIPTIONS: usize = 8;

/// Every buffer a [`Link`] uses, in one place so the platform can put them in `.bss`.
pub struct LinkBuffers {
    /// TLS records from the broker ([`TLS_READ_BYTES`]).
    pub tls_read: [u8; TLS_READ_BYTES],
    /// TLS records to the broker ([`TLS_WRITE_BYTES`]).
    pub tls_write: [u8; TLS_WRITE_BYTES],
    /// [`RecordStream`]'s stash ([`STASH_BYTES`]).
    pub stash: [u8; STASH_BYTES],
    /// One inbound MQTT packet ([`MQTT_RX_BYTES`]).
    pub mqtt_rx: [u8; MQTT_RX_BYTES],
    /// minimq's transmit arena ([`MQTT_TX_BYTES`]).
    pub mqtt_tx: [u8; MQTT_TX_BYTES],
}

impl LinkBuffers {
    /// Their total size in bytes.
    pub const BYTES: usize =
        TLS_READ_BYTES + TLS_WRITE_BYTES + STASH_BYTES + MQTT_RX_BYTES + MQTT_TX_BYTES;

    /// Zeroed buffers (all zero, so a `static` of them lands in `.bss`).
    pub const fn new() -> Self {
        Self {
            tls_read: [0; TLS_READ_BYTES],
            tls_write: [0; TLS_WRITE_BYTES],
            stash: [0; STASH_BYTES],
            mqtt_rx: [0; MQTT_RX_BYTES],
            mqtt_tx: [0; MQTT_TX_BYTES],
        }
    }
}

impl Default for LinkBuffers {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_total_is_documented() {
        assert_eq!(LinkBuffers::BYTES, 12_608);
        assert_eq!(core::mem::size_of::<LinkBuffers>(), LinkBuffers::BYTES);
    }
}
