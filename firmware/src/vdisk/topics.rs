//! The disk protocol's MQTT topics for one channel (reference.md section 3).
//!
//! | topic | direction | payload |
//! |---|---|---|
//! | `altair/<ch>/vdisk/read` | device -> server | offset |
//! | `altair/<ch>/vdisk/write` | device -> server | offset + sector |
//! | `altair/<ch>/vdisk/data` | server -> device | offset + sector |
//! | `altair/<ch>/vdisk/ack` | server -> device | offset, once the write is durable |

use heapless::String;

use crate::session::topics::{MAX_CHANNEL_LEN, channel_topic};
use crate::session::{QoS, SessionError, Subscription, Subscriptions};

/// The longest suffix after the channel.
const LONGEST_SUFFIX: &str = "/vdisk/write";

/// The longest disk topic: `altair/` + a 64-byte channel + `/vdisk/write`, 83 bytes.
pub const MAX_DISK_TOPIC_LEN: usize = "altair/".len() + MAX_CHANNEL_LEN + LONGEST_SUFFIX.len();

/// A disk topic string.
pub type DiskTopic = String<MAX_DISK_TOPIC_LEN>;

/// Which inbound disk topic a message came on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Inbound {
    Data,
    Ack,
}

/// The four disk topics of one channel, built once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskTopics {
    read: DiskTopic,
    write: DiskTopic,
    data: DiskTopic,
    ack: DiskTopic,
}

impl DiskTopics {
    /// The disk topics of `channel` (the rule of [`crate::session::topics::check_channel`]).
    pub fn new(channel: &str) -> Result<Self, SessionError> {
        Ok(DiskTopics {
            read: channel_topic(channel, "/vdisk/read")?,
            write: channel_topic(channel, LONGEST_SUFFIX)?,
            data: channel_topic(channel, "/vdisk/data")?,
            ack: channel_topic(channel, "/vdisk/ack")?,
        })
    }

    /// `altair/<ch>/vdisk/read`: sector requests.
    pub fn read(&self) -> &str {
        &self.read
    }

    /// `altair/<ch>/vdisk/write`: sectors to store.
    pub fn write(&self) -> &str {
        &self.write
    }

    /// `altair/<ch>/vdisk/data`: requested sectors.
    pub fn data(&self) -> &str {
        &self.data
    }

    /// `altair/<ch>/vdisk/ack`: offsets of durable writes.
    pub fn ack(&self) -> &str {
        &self.ack
    }

    /// `data` and `ack`, at QoS 0: a reply that is lost is asked for again, and one
    /// queued while the device was away would answer a request it has already re-sent.
    pub fn subscriptions(&self) -> Subscriptions<'_> {
        [&self.data, &self.ack]
            .into_iter()
            .map(|topic| Subscription {
                topic,
                qos: QoS::AtMostOnce,
            })
            .collect()
    }

    /// Which inbound disk topic `topic` is, if any.
    pub(super) fn inbound(&self, topic: &str) -> Option<Inbound> {
        if topic == self.data.as_str() {
            Some(Inbound::Data)
        } else if topic == self.ack.as_str() {
            Some(Inbound::Ack)
        } else {
            None
        }
    }
}
