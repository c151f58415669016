//! The terminal's MQTT topics for one channel (reference.md section 3) and the rule for
//! channel names.
//!
//! | topic | direction | what |
//! |---|---|---|
//! | `altair/<ch>/web` | device -> terminal | guest output, 1 to [`MAX_MESSAGE_LEN`] bytes |
//! | `altair/<ch>/dev` | terminal -> device | typed text: a key or a line ending in `\r` |
//! | `altair/<ch>/dev/ctrl` | terminal -> device | one letter: `M` monitor, else Ctrl-letter |
//! | `altair/<ch>/dev/paste` | terminal -> device | pasted text, chunks of at most 256 bytes |
//! | `altair/<ch>/status` | device -> anyone | retained `online`, and `offline` as the last will |
//!
//! [`MAX_MESSAGE_LEN`]: super::MAX_MESSAGE_LEN

use heapless::String;

use super::{QoS, SessionError, Subscription, Subscriptions};

/// What every topic starts with.
const PREFIX: &str = "altair/";
/// The longest suffix after the channel.
const LONGEST_SUFFIX: &str = "/dev/paste";

/// The longest channel name, in bytes.
pub const MAX_CHANNEL_LEN: usize = 64;
/// The longest topic this module builds: `altair/` + a 64-byte channel + `/dev/paste`,
/// 81 bytes.
pub const MAX_TOPIC_LEN: usize = PREFIX.len() + MAX_CHANNEL_LEN + LONGEST_SUFFIX.len();

/// The payload of the retained status message while the device is connected.
pub const STATUS_ONLINE: &[u8] = b"online";
/// The payload of the last will, which the broker publishes on the status topic when the
/// device goes away without saying goodbye.
pub const STATUS_OFFLINE: &[u8] = b"offline";

/// Checks a channel name: 1 to [`MAX_CHANNEL_LEN`] characters from `A-Z`, `a-z`, `0-9`,
/// `_` and `-`.
///
/// The same rule as the certificate tooling's device ids (`altair_pki::check_device_id`),
/// so a device's id can be its channel. It keeps MQTT's special characters (`/`, `+`,
/// `#`) and anything non-ASCII out of the topics. The rule lives here, in the no_std
/// crate, so that `altair-pki` can call this function instead of keeping its own copy.
pub fn check_channel(channel: &str) -> Result<(), SessionError> {
    let ok = (1..=MAX_CHANNEL_LEN).contains(&channel.len())
        && channel
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(SessionError::BadChannel)
    }
}

/// Which inbound topic a message came on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Inbound {
    Dev,
    Ctrl,
    Paste,
}

/// A topic string of at most [`MAX_TOPIC_LEN`] bytes.
pub type Topic = String<MAX_TOPIC_LEN>;

/// `altair/<channel><suffix>` for a `channel` that passes [`check_channel`], in a string
/// of capacity `N` (each user sizes it for its longest suffix).
pub fn channel_topic<const N: usize>(
    channel: &str,
    suffix: &str,
) -> Result<String<N>, SessionError> {
    check_channel(channel)?;
    let mut t = String::new();
    // A channel too long for `N` is refused rather than cut.
    t.push_str(PREFIX)
        .and_then(|()| t.push_str(channel))
        .and_then(|()| t.push_str(suffix))
        .map_err(|_| SessionError::BadChannel)?;
    Ok(t)
}

/// The five topics of one channel, built once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topics {
    web: Topic,
    dev: Topic,
    ctrl: Topic,
    paste: Topic,
    status: Topic,
}

impl Topics {
    /// The topics of `channel`, which must pass [`check_channel`].
    pub fn new(channel: &str) -> Result<Self, SessionError> {
        check_channel(channel)?;
        let topic = |suffix| channel_topic(channel, suffix);
        Ok(Topics {
            web: topic("/web")?,
            dev: topic("/dev")?,
            ctrl: topic("/dev/ctrl")?,
            paste: topic(LONGEST_SUFFIX)?,
            status: topic("/status")?,
        })
    }

    /// `altair/<ch>/web`: guest output, device to terminal.
    pub fn web(&self) -> &str {
        &self.web
    }

    /// `altair/<ch>/dev`: typed text, terminal to device.
    pub fn dev(&self) -> &str {
        &self.dev
    }

    /// `altair/<ch>/dev/ctrl`: one control letter, terminal to device.
    pub fn ctrl(&self) -> &str {
        &self.ctrl
    }

    /// `altair/<ch>/dev/paste`: pasted text, terminal to device.
    pub fn paste(&self) -> &str {
        &self.paste
    }

    /// `altair/<ch>/status`: retained `online` / `offline`.
    pub fn status(&self) -> &str {
        &self.status
    }

    /// The three inbound topics, each at QoS 1 so that, on a persistent session, the
    /// broker keeps keystrokes sent while the device was away.
    pub fn subscriptions(&self) -> Subscriptions<'_> {
        [&self.dev, &self.ctrl, &self.paste]
            .into_iter()
            .map(|topic| Subscription {
                topic,
                qos: QoS::AtLeastOnce,
            })
            .collect()
    }

    /// Which inbound topic `topic` is, if any. Exact match: MQTT topics are case-sensitive.
    pub(super) fn inbound(&self, topic: &str) -> Option<Inbound> {
        if topic == self.dev.as_str() {
            Some(Inbound::Dev)
        } else if topic == self.ctrl.as_str() {
            Some(Inbound::Ctrl)
        } else if topic == self.paste.as_str() {
            Some(Inbound::Paste)
        } else {
            None
        }
    }
}
