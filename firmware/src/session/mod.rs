//! The terminal session over MQTT, as a sans-IO state machine.
//!
//! A [`Session`] knows the topics and payloads of reference.md section 3 and nothing of
//! sockets, TLS or MQTT client libraries. The platform's MQTT client hands it each
//! inbound message as `(topic, payload)`; the session turns it into keys for the guest
//! or monitor commands, turns guest output into `web` messages, and says, given
//! `now_ms`, what to send and when it wants to be asked again (style.md habit 3).
//!
//! ```text
//!  platform's MQTT client        Session                                    Altair
//!  ----------------------        -------                                    ------
//!  dev, dev/paste ─► on_message ─┬─► pending input ──── feed ─────────► console RX (512)
//!  dev/ctrl letter (Ctrl-L)      │   (PENDING_INPUT_LEN; a message that        │ IN 11h
//!                                │    does not fit is refused + reported)      ▼
//!  dev/ctrl "M" ─────────────────┼─► monitor mode: line editor                CPU (stopped
//!                                │        │ "\r"                               │  while
//!                                │        ▼                                    │  in_monitor())
//!                                │   Monitor::command_bytes ─► reply ─┐        │ OUT 11h
//!                                │                                    │        ▼
//!                                └─► echo expectations ─ suppress ─┐  │  console TX (256)
//!                                                                  ▼  ▼        │
//!  web ◄── poll_transmit ◄── staged message ◄── outbox ring ◄── after_run: drain, 7-bit
//!          transmitted()     (≤ 256 B, kept     (OUTPUT_BUFFER_LEN; offline the oldest
//!                             until accepted)    goes and the gap is marked)
//!  SUBSCRIBE ◄── dev, dev/ctrl, dev/paste at QoS 1    } after connected(), before output
//!  status ◄───── retained "online"                    }  (the will: retained "offline")
//! ```
//!
//! # The platform's loop
//!
//! ```text
//! on CONNACK:        session.connected()            (will: session.will())
//! on connection lost: session.disconnected()
//! on each message:   session.on_message(topic, payload, &mut altair, now)
//! unless session.in_monitor(): stop = altair.run(budget); session.after_run(stop, &mut altair, now)
//! then:              while let Some(t) = session.poll_transmit(now) { client takes t? → session.transmitted() }
//!                    (or session.flush(now, |t| client.send(t)))
//! sleep until:       session.next_deadline_ms(), a message, or the guest being due to run
//! ```
//!
//! # Output: when a `web` message goes
//!
//! Guest output is drained from the console after every run into the outbox and
//! published as one `web` message of at most [`MAX_MESSAGE_LEN`] (256) bytes, the
//! original's largest message and the most the original terminal expects, when
//! - the guest waits for input ([`Stop::Idle`]), so a keystroke's echo goes out at once,
//!   alone in its message;
//! - a full message has gathered, so bulk output goes in few, full messages;
//! - or the oldest unpublished byte is [`Options::max_latency_ms`] (default 20 ms) old,
//!   so a guest printing slowly without ever waiting for input is still seen promptly.
//!
//! The original published when its 256-byte buffer filled or every 250 ms, so each echo
//! took up to a quarter of a second.
//!
//! Output bytes are masked to 7 bits: the original terminal's protocol is 7-bit, and
//! some guests (and CP/M programs) set the top bit.
//!
//! A message is handed out by [`Session::poll_transmit`] and stays staged until
//! [`Session::transmitted`] says the client took it: a publish the client refuses (its
//! buffer is full, the link just dropped) is offered again, unchanged, and nothing is
//! lost. While connected, a full outbox stops the draining of the console, so the
//! guest waits on its transmit status as it would for a slow terminal.
//!
//! # Offline
//!
//! While disconnected, output keeps being drained into the outbox
//! ([`OUTPUT_BUFFER_LEN`] bytes) so the guest runs on, and it is delivered in order after
//! [`Session::connected`]. When it overflows, the oldest bytes go, and the first message
//! after the gap starts with a marker such as
//! `\r\n[altair: 1234 bytes of output lost while offline]\r\n`: since the oldest bytes
//! always go first, the gap is always at the head of what is still buffered.
//!
//! On connecting, the session first asks for its subscriptions ([`Topics::subscriptions`],
//! QoS 1: with a persistent session the broker keeps keystrokes sent while the device
//! was away), then publishes a retained `online` on `status`, then the buffered output.
//! The platform's CONNECT carries [`Session::will`], a retained `offline`.
//!
//! # Input
//!
//! - `dev`: typed text, a key or a line ending in `\r`, goes to the guest's console.
//! - `dev/paste`: pasted text (chunks of at most 256 bytes) goes the same way. The
//!   console holds only [`RX_CAPACITY`] keys, so the session keeps a pending-input
//!   queue of [`PENDING_INPUT_LEN`] bytes and feeds the console as the guest reads. A
//!   message that does not fit whole in the console and the queue is refused, counted
//!   in [`Stats::input_refused`], logged and reported on `web` with a line such as
//!   `\r\n[altair: 256 bytes of pasted text refused: the input buffer is full]\r\n`,
//!   never cut in the middle or dropped silently. Keys stay in order across the topics.
//! - `dev/ctrl`: exactly one ASCII letter. `M`/`m` toggles monitor mode; any other
//!   letter L sends Ctrl-L (L & 0x1F) to the guest, also in monitor mode, where it waits
//!   in the queue until the CPU runs again. Anything else is logged and ignored.
//!
//! Bytes outside 7-bit ASCII are dropped from `dev` and `dev/paste` (and counted and
//! logged); control characters are keys like any other. Empty messages, messages on
//! unknown topics and bad `dev/ctrl` letters are logged, counted in
//! [`Stats::ignored`] and change nothing.
//!
//! # Monitor mode
//!
//! `M` on `dev/ctrl` drains the guest's remaining output, stops the CPU (the run loop
//! checks [`Session::in_monitor`]) and publishes [`Monitor::enter`]'s banner and the
//! [`PROMPT`]. `dev` and `dev/paste` text then goes to a line
//! editor (backspace and DEL erase, at most [`MAX_LINE_LEN`] characters): each line,
//! ended by `\r` or `\n`, is a [`Monitor::command_bytes`] whose reply is published on
//! `web`. `G` ([`Reply::Run`]) or `M` again leaves the monitor, and any text after the
//! `G` line in the same message goes to the guest. A CPU that halts with interrupts
//! off can only be restarted from the panel, so the session enters the monitor by
//! itself, with a note.
//!
//! # Echo suppression
//!
//! The original browser terminal echoes what it sends, and the original device then
//! skipped the next N bytes of guest output after an N-byte `dev` message.
//! [`Options::echo`] chooses:
//! - [`EchoSuppression::Off`] (default): every output byte is published; for
//!   terminals that do not echo locally. In monitor mode the session echoes the line
//!   being typed itself, since the monitor does not.
//! - [`EchoSuppression::Count`]: the original's rule. Its failure mode: a program that
//!   does not echo (a password prompt, a game reading single keys, output already on its
//!   way when the key arrived) loses its next N bytes of real output instead.
//! - [`EchoSuppression::Matching`]: skips output bytes only while they equal the typed
//!   bytes, in order; the first byte that differs ends the suppression. A program that
//!   does not echo loses nothing; one that echoes differently (uppercased, `\r` as
//!   `\r\n`) shows the difference twice, locally and from the device.
//!
//! Either way at most [`ECHO_WINDOW`] typed bytes are remembered; beyond that, output
//! is published (shown twice rather than lost). `dev/paste` and `dev/ctrl` input is
//! never suppressed: the original terminal echoes only what it types.
//!
//! # Memory
//!
//! Everything is fixed-size and lives in the `Session` value: the outbox
//! ([`OUTPUT_BUFFER_LEN`] = 4 KiB) and its staged message (256 B), pending input
//! ([`PENDING_INPUT_LEN`] = 2 KiB), echo expectations ([`ECHO_WINDOW`] = 256 B), the
//! monitor line (80 B) and five topic strings (5 x 81 B), 7,141 bytes of buffers:
//! `size_of::<Session>()` is 7,344 bytes on the device (thumbv7em) and 7,432 on a 64-bit
//! host, pinned by a test and bounded at compile time. On the device it belongs in a
//! static, beside the 64 KiB of guest memory, rather than on the stack.
//!
//! [`RX_CAPACITY`]: crate::machine::console::RX_CAPACITY

mod outbox;
pub mod topics;

#[cfg(test)]
mod tests;

use core::fmt::{self, Display, Write};

use heapless::{Deque, Vec};

use crate::machine::{Altair, Stop};
use crate::monitor::{MAX_LINE_LEN, Monitor, PROMPT, Reply};
use crate::platform::BlockStorage;
use outbox::{Outbox, OutboxText};
pub use topics::{MAX_CHANNEL_LEN, MAX_TOPIC_LEN, STATUS_OFFLINE, STATUS_ONLINE, Topics};

/// The largest `web` message: 256 bytes, the original's buffer and the most the original
/// terminal expects in one message.
pub const MAX_MESSAGE_LEN: usize = 256;
/// Output kept while it cannot be published (offline, or the client is busy): 4 KiB,
/// about a minute of a person's reading or 50 lines of 80 columns.
pub const OUTPUT_BUFFER_LEN: usize = 4096;
/// Input kept beyond the console's own queue: 2 KiB, so eight 256-byte paste chunks on
/// top of the console's two can arrive back to back before the guest reads any.
pub const PENDING_INPUT_LEN: usize = 2048;
/// Typed bytes remembered for echo suppression.
pub const ECHO_WINDOW: usize = 256;
/// The default for [`Options::max_latency_ms`].
pub const DEFAULT_MAX_LATENCY_MS: u64 = 20;

// The RAM figure in the module doc, checked on every target (the device's included).
const _: () = assert!(core::mem::size_of::<Session>() <= 7_500);

/// MQTT delivery guarantee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum QoS {
    /// QoS 0: at most once.
    AtMostOnce,
    /// QoS 1: at least once (the client keeps the message until the broker's PUBACK).
    AtLeastOnce,
}

/// How the session treats the guest's echo of typed text (see the module doc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EchoSuppression {
    /// Publish every output byte: for terminals that do not echo locally.
    #[default]
    Off,
    /// The original's rule: after an N-byte `dev` message, skip the next N output bytes.
    Count,
    /// Skip output bytes only while they match the typed bytes in order.
    Matching,
}

/// Construction options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Options {
    /// Echo suppression for terminals that echo locally; [`EchoSuppression::Off`] by
    /// default.
    pub echo: EchoSuppression,
    /// QoS of `web` messages. QoS 1 (the default) lets the client resend a message the
    /// link dropped; QoS 0 is the original's choice.
    pub output_qos: QoS,
    /// The longest a byte of output waits for more to join it in a message while the
    /// guest keeps running. [`DEFAULT_MAX_LATENCY_MS`] by default.
    pub max_latency_ms: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            echo: EchoSuppression::Off,
            output_qos: QoS::AtLeastOnce,
            max_latency_ms: DEFAULT_MAX_LATENCY_MS,
        }
    }
}

impl Options {
    /// What the original browser terminal expects: it echoes locally, so the device
    /// skips the echo ([`EchoSuppression::Count`]).
    pub fn original_terminal() -> Self {
        Options {
            echo: EchoSuppression::Count,
            ..Options::default()
        }
    }
}

/// Why a session could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SessionError {
    /// The channel is not 1 to 64 characters from `A-Z a-z 0-9 _ -`.
    BadChannel,
}

impl Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::BadChannel => f.write_str(
                "bad channel name: use 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-'",
            ),
        }
    }
}

impl core::error::Error for SessionError {}

/// One topic to subscribe to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subscription<'a> {
    /// The topic filter (no wildcards).
    pub topic: &'a str,
    /// The maximum QoS to ask for.
    pub qos: QoS,
}

/// One message to publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Publish<'a> {
    /// Where.
    pub topic: &'a str,
    /// What: for `web`, 1 to [`MAX_MESSAGE_LEN`] bytes of 7-bit terminal output.
    pub payload: &'a [u8],
    /// The delivery guarantee.
    pub qos: QoS,
    /// Whether the broker keeps it for later subscribers.
    pub retain: bool,
}

/// The most topic filters in one [`Transmit::Subscribe`]: the terminal's three inbound
/// topics (the virtual disk asks for two).
pub const MAX_FILTERS: usize = 3;

/// The topic filters of one SUBSCRIBE packet.
pub type Subscriptions<'a> = Vec<Subscription<'a>, MAX_FILTERS>;

/// What the session (or the virtual disk, `crate::vdisk`) wants the client to send next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transmit<'a> {
    /// Subscribe to these topics (one SUBSCRIBE packet).
    Subscribe(Subscriptions<'a>),
    /// Publish this message.
    Publish(Publish<'a>),
}

/// Counters for logs, status pages and tests. All saturate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// Inbound messages on any topic.
    pub messages_in: u64,
    /// Inbound messages ignored: unknown topic, empty, or a bad `dev/ctrl` payload.
    pub ignored: u64,
    /// Input bytes dropped because they are not 7-bit ASCII.
    pub non_ascii: u64,
    /// Input bytes refused because the pending-input queue was full.
    pub input_refused: u64,
    /// Output bytes dropped from a full outbox (each gap is marked in the stream).
    pub output_lost: u64,
    /// Output bytes not published because they were the echo of typed text.
    pub echo_suppressed: u64,
    /// `web` messages the client accepted.
    pub published: u64,
    /// Output bytes in those messages (gap markers and notices included).
    pub published_bytes: u64,
}

/// Where an inbound message came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Typed,
    Pasted,
    Control,
}

impl Source {
    fn what(self) -> &'static str {
        match self {
            Source::Typed => "typed text",
            Source::Pasted => "pasted text",
            Source::Control => "control key",
        }
    }
}

/// What the last [`Session::poll_transmit`] handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Polled {
    Subscribe,
    Status,
    Output,
}

/// Something that hands its MQTT packets to the platform's client one at a time: the
/// terminal [`Session`] and the virtual disk (`crate::vdisk::VirtualDisk`). What
/// [`Outgoing::poll_transmit`] hands out stays due until [`Outgoing::transmitted`], so a
/// packet the client refuses is offered again, unchanged.
pub trait Outgoing {
    /// What to send now, if anything; the same thing again until `transmitted`.
    fn poll_transmit(&mut self, now_ms: u64) -> Option<Transmit<'_>>;

    /// The client took what [`Outgoing::poll_transmit`] last returned. Without a
    /// preceding `poll_transmit` this does nothing.
    fn transmitted(&mut self);

    /// Hands everything due to `send`, marking each item transmitted when `send` returns
    /// `Ok`. Stops at the first error, which is returned; the refused item stays and is
    /// offered again next time. Returns how many items were sent.
    fn flush<E>(
        &mut self,
        now_ms: u64,
        mut send: impl FnMut(Transmit<'_>) -> Result<(), E>,
    ) -> Result<usize, E> {
        let mut sent = 0;
        // `let else` rather than `while let`: the item (which owns its filter list) is
        // moved into `send` before `transmitted` borrows `self` again.
        loop {
            let Some(item) = self.poll_transmit(now_ms) else {
                break;
            };
            send(item)?;
            self.transmitted();
            sent += 1;
        }
        Ok(sent)
    }
}

impl Outgoing for Session {
    /// What to send now, if anything: the subscriptions and the `online` status after
    /// connecting, then output. The same thing is offered again until
    /// [`Session::transmitted`] says the client took it.
    fn poll_transmit(&mut self, now_ms: u64) -> Option<Transmit<'_>> {
        if !self.online {
            return None;
        }
        if self.need_subscribe {
            self.polled = Some(Polled::Subscribe);
            return Some(Transmit::Subscribe(self.topics.subscriptions()));
        }
        if self.need_status {
            self.polled = Some(Polled::Status);
            return Some(Transmit::Publish(Publish {
                topic: self.topics.status(),
                payload: STATUS_ONLINE,
                qos: QoS::AtLeastOnce,
                retain: true,
            }));
        }
        let payload = self.outbox.staged(now_ms, self.options.max_latency_ms);
        if payload.is_empty() {
            self.polled = None;
            return None;
        }
        self.polled = Some(Polled::Output);
        Some(Transmit::Publish(Publish {
            topic: self.topics.web(),
            payload,
            qos: self.options.output_qos,
            retain: false,
        }))
    }

    /// The client accepted what [`Session::poll_transmit`] last returned: it can go.
    /// Without a preceding `poll_transmit` this does nothing.
    fn transmitted(&mut self) {
        match self.polled.take() {
            Some(Polled::Subscribe) => self.need_subscribe = false,
            Some(Polled::Status) => self.need_status = false,
            Some(Polled::Output) => {
                let n = self.outbox.ack() as u64;
                self.stats.published = self.stats.published.saturating_add(1);
                self.stats.published_bytes = self.stats.published_bytes.saturating_add(n);
            }
            None => {}
        }
    }
}

/// The terminal session of one channel. See the module doc.
pub struct Session {
    topics: Topics,
    options: Options,
    online: bool,
    need_subscribe: bool,
    need_status: bool,
    polled: Option<Polled>,
    outbox: Outbox,
    /// Keys waiting for room in the console's receive queue.
    pending: Deque<u8, PENDING_INPUT_LEN>,
    /// Typed bytes whose echo is expected.
    echo: Deque<u8, ECHO_WINDOW>,
    monitor: Monitor,
    in_monitor: bool,
    line: Vec<u8, MAX_LINE_LEN>,
    /// The line being typed in the monitor outgrew `line`; refuse it at its end.
    line_overflow: bool,
    /// The last monitor byte was `\r`, so a `\n` right after it is part of the same end.
    after_cr: bool,
    stats: Stats,
}

impl Session {
    /// A disconnected session for `channel` (see [`topics::check_channel`]).
    pub fn new(channel: &str, options: Options) -> Result<Self, SessionError> {
        Ok(Session {
            topics: Topics::new(channel)?,
            options,
            online: false,
            need_subscribe: false,
            need_status: false,
            polled: None,
            outbox: Outbox::new(),
            pending: Deque::new(),
            echo: Deque::new(),
            monitor: Monitor::new(),
            in_monitor: false,
            line: Vec::new(),
            line_overflow: false,
            after_cr: false,
            stats: Stats::default(),
        })
    }

    /// The channel's topics.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// The options the session was made with.
    pub fn options(&self) -> Options {
        self.options
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        Stats {
            output_lost: self.outbox.lost_total(),
            ..self.stats
        }
    }

    /// The last will for the platform's CONNECT: a retained `offline` on `status`, QoS 1.
    pub fn will(&self) -> Publish<'_> {
        Publish {
            topic: self.topics.status(),
            payload: STATUS_OFFLINE,
            qos: QoS::AtLeastOnce,
            retain: true,
        }
    }

    /// Whether the CPU is stopped for the monitor: the run loop MUST NOT run the machine
    /// while this is `true`.
    pub fn in_monitor(&self) -> bool {
        self.in_monitor
    }

    /// Whether the session holds a connection.
    pub fn is_online(&self) -> bool {
        self.online
    }

    /// Output bytes waiting to be published (staged or not; gap markers not counted).
    pub fn output_pending(&self) -> usize {
        self.outbox.len()
    }

    /// Input bytes waiting for room in the console.
    pub fn input_pending(&self) -> usize {
        self.pending.len()
    }

    /// The client is connected (CONNACK received): subscribe, announce `online`, then
    /// deliver what was buffered.
    pub fn connected(&mut self) {
        info!("session: connected");
        self.online = true;
        self.need_subscribe = true;
        self.need_status = true;
        self.polled = None;
        self.outbox.flush();
    }

    /// The connection is gone: output is buffered until [`Session::connected`].
    pub fn disconnected(&mut self) {
        info!("session: disconnected; buffering output");
        self.online = false;
        self.polled = None;
    }

    /// Handles one inbound message. Any topic and payload is accepted: what is not
    /// understood is logged, counted and ignored.
    pub fn on_message<S: BlockStorage>(
        &mut self,
        topic: &str,
        payload: &[u8],
        altair: &mut Altair<S>,
        now_ms: u64,
    ) {
        self.stats.messages_in = self.stats.messages_in.saturating_add(1);
        let Some(inbound) = self.topics.inbound(topic) else {
            warn!(
                "session: ignored a message on unexpected topic {} ({} bytes)",
                topic,
                payload.len()
            );
            self.ignore();
            return;
        };
        if payload.is_empty() {
            debug!("session: ignored an empty message on {}", topic);
            self.ignore();
            return;
        }
        self.feed(altair);
        match inbound {
            topics::Inbound::Dev => self.on_text(payload, Source::Typed, altair, now_ms),
            topics::Inbound::Paste => self.on_text(payload, Source::Pasted, altair, now_ms),
            topics::Inbound::Ctrl => self.on_ctrl(payload, altair, now_ms),
        }
        self.feed(altair);
    }

    /// After each [`Altair::run`]: feeds pending input to the console, drains the
    /// guest's output and decides, from `stop`, whether it should be published now.
    pub fn after_run<S: BlockStorage>(&mut self, stop: Stop, altair: &mut Altair<S>, now_ms: u64) {
        self.feed(altair);
        self.drain(altair, now_ms);
        match stop {
            Stop::Idle => self.outbox.flush(),
            Stop::Halted if !altair.cpu.inte && !self.in_monitor => {
                let pc = altair.cpu.pc.wrapping_sub(1);
                warn!("session: the CPU halted at {:04X} with interrupts off", pc);
                let mut text = self.text(now_ms);
                let _ = write!(
                    text,
                    "\r\n[altair: the CPU halted at {pc:04X}H with interrupts disabled]"
                );
                self.enter_monitor(altair, now_ms);
            }
            // Halted with interrupts on waits for a key: the guest is idle.
            Stop::Halted => self.outbox.flush(),
            Stop::Budget | Stop::OutputFull | Stop::Storage => {}
        }
    }

    /// Stops the CPU and enters monitor mode, as `M` on `dev/ctrl` does (for a platform
    /// that starts in the monitor). The guest's pending output is published first.
    pub fn enter_monitor<S: BlockStorage>(&mut self, altair: &mut Altair<S>, now_ms: u64) {
        if self.in_monitor {
            return;
        }
        self.drain(altair, now_ms);
        self.in_monitor = true;
        self.line.clear();
        self.line_overflow = false;
        self.after_cr = false;
        let mut text = OutboxText {
            outbox: &mut self.outbox,
            now_ms,
            online: self.online,
        };
        text.bytes(b"\r\n");
        self.monitor.enter(altair, &mut text);
        text.bytes(PROMPT.as_bytes());
    }

    /// When the session next wants [`Session::poll_transmit`] called: `Some(t)` with
    /// `t` at or before now means at once; `None` means only after the next message,
    /// run or connection event. After the client refused an item it stays due: the
    /// platform retries when its client can take more (after its next poll), not in a
    /// tight loop.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        if !self.online {
            None
        } else if self.need_subscribe || self.need_status {
            Some(0)
        } else {
            self.outbox.deadline(self.options.max_latency_ms)
        }
    }

    fn ignore(&mut self) {
        self.stats.ignored = self.stats.ignored.saturating_add(1);
    }

    fn text(&mut self, now_ms: u64) -> OutboxText<'_> {
        OutboxText {
            outbox: &mut self.outbox,
            now_ms,
            online: self.online,
        }
    }

    /// `dev` or `dev/paste` text: monitor lines while in the monitor, keys otherwise.
    fn on_text<S: BlockStorage>(
        &mut self,
        payload: &[u8],
        source: Source,
        altair: &mut Altair<S>,
        now_ms: u64,
    ) {
        let mut rest = payload;
        while self.in_monitor {
            let Some((&byte, tail)) = rest.split_first() else {
                return;
            };
            rest = tail;
            self.monitor_byte(byte, altair, now_ms);
        }
        if !rest.is_empty() {
            self.guest_input(rest, source, altair, now_ms);
        }
    }

    /// `dev/ctrl`: one ASCII letter.
    fn on_ctrl<S: BlockStorage>(&mut self, payload: &[u8], altair: &mut Altair<S>, now_ms: u64) {
        match *payload {
            [b'M' | b'm'] if self.in_monitor => self.leave_monitor(altair, now_ms),
            [b'M' | b'm'] => self.enter_monitor(altair, now_ms),
            [letter] if letter.is_ascii_alphabetic() => {
                self.guest_input(&[letter & 0x1F], Source::Control, altair, now_ms);
            }
            _ => {
                warn!(
                    "session: ignored a dev/ctrl message of {} bytes (want one letter)",
                    payload.len()
                );
                self.ignore();
            }
        }
    }

    /// Queues keys for the guest: all of `bytes`' ASCII, or nothing if it does not fit.
    fn guest_input<S: BlockStorage>(
        &mut self,
        bytes: &[u8],
        source: Source,
        altair: &mut Altair<S>,
        now_ms: u64,
    ) {
        let keys = bytes.iter().filter(|b| b.is_ascii()).count();
        let dropped = bytes.len() - keys;
        if dropped > 0 {
            warn!(
                "session: dropped {} bytes of {} that are not 7-bit ASCII",
                dropped,
                source.what()
            );
            self.stats.non_ascii = self.stats.non_ascii.saturating_add(dropped as u64);
        }
        if keys == 0 {
            return;
        }
        let room = (PENDING_INPUT_LEN - self.pending.len()) + altair.devices.console.rx_space();
        if keys > room {
            warn!(
                "session: refused {} bytes of {}: {} bytes of room",
                keys,
                source.what(),
                room
            );
            self.stats.input_refused = self.stats.input_refused.saturating_add(keys as u64);
            let mut text = self.text(now_ms);
            let _ = write!(
                text,
                "\r\n[altair: {keys} bytes of {} refused: the input buffer is full]\r\n",
                source.what()
            );
            return;
        }
        let suppress = source == Source::Typed && self.options.echo != EchoSuppression::Off;
        for &key in bytes.iter().filter(|b| b.is_ascii()) {
            // Room checked above: the console takes what the queue cannot.
            let delivered = self.pending.is_empty() && altair.devices.console.push_key(key);
            if !delivered && self.pending.push_back(key).is_err() {
                // Unreachable given the room check; counted rather than assumed.
                self.stats.input_refused = self.stats.input_refused.saturating_add(1);
                continue;
            }
            if suppress {
                // A full window publishes the echo: shown twice rather than lost.
                let _ = self.echo.push_back(key);
            }
        }
    }

    /// Moves pending keys into the console as far as it has room.
    fn feed<S: BlockStorage>(&mut self, altair: &mut Altair<S>) {
        let console = &mut altair.devices.console;
        while console.rx_space() > 0 {
            let Some(key) = self.pending.pop_front() else {
                break;
            };
            // Cannot fail: there is room.
            let _ = console.push_key(key);
        }
    }

    /// Moves guest output into the outbox: 7-bit, echo removed. While online a full
    /// outbox holds the guest back; offline the oldest output makes room.
    fn drain<S: BlockStorage>(&mut self, altair: &mut Altair<S>, now_ms: u64) {
        let console = &mut altair.devices.console;
        while !(self.online && self.outbox.free() == 0) {
            let Some(byte) = console.pop_output() else {
                break;
            };
            let byte = byte & 0x7F;
            if self.is_echo(byte) {
                self.stats.echo_suppressed = self.stats.echo_suppressed.saturating_add(1);
                continue;
            }
            self.outbox.push(byte, now_ms, self.online);
        }
    }

    /// Whether `byte` is the expected echo of a typed byte (and consumes the expectation).
    fn is_echo(&mut self, byte: u8) -> bool {
        match self.options.echo {
            EchoSuppression::Off => false,
            EchoSuppression::Count => self.echo.pop_front().is_some(),
            EchoSuppression::Matching => match self.echo.front() {
                Some(&expected) if expected == byte => {
                    let _ = self.echo.pop_front();
                    true
                }
                Some(_) => {
                    self.echo.clear();
                    false
                }
                None => false,
            },
        }
    }

    /// Whether the session echoes monitor typing itself (the terminal does not).
    fn echoes_monitor_input(&self) -> bool {
        self.options.echo == EchoSuppression::Off
    }

    /// One byte of `dev`/`dev/paste` text in monitor mode: the line editor.
    fn monitor_byte<S: BlockStorage>(&mut self, byte: u8, altair: &mut Altair<S>, now_ms: u64) {
        let echo = self.echoes_monitor_input();
        let after_cr = core::mem::take(&mut self.after_cr);
        match byte {
            b'\n' if after_cr => {}
            b'\r' | b'\n' => {
                self.after_cr = byte == b'\r';
                self.end_monitor_line(altair, now_ms);
            }
            0x08 | 0x7F => {
                if self.line.pop().is_some() && echo {
                    self.text(now_ms).bytes(b"\x08 \x08");
                }
            }
            _ => {
                if self.line.push(byte).is_err() {
                    self.line_overflow = true;
                } else if echo && (byte == b' ' || byte.is_ascii_graphic()) {
                    self.text(now_ms).bytes(&[byte]);
                }
            }
        }
    }

    /// A monitor line is complete: carry it out and publish the reply.
    fn end_monitor_line<S: BlockStorage>(&mut self, altair: &mut Altair<S>, now_ms: u64) {
        let echo = self.echoes_monitor_input();
        let mut text = OutboxText {
            outbox: &mut self.outbox,
            now_ms,
            online: self.online,
        };
        if echo {
            text.bytes(b"\r\n");
        }
        let blank = self.line.iter().all(|b| b.is_ascii_whitespace());
        let reply = if self.line_overflow {
            let _ = write!(
                text,
                "error: the line is longer than {MAX_LINE_LEN} characters; \
                 type ? for the list of commands\r\n"
            );
            Reply::Stay
        } else if blank {
            Reply::Stay
        } else {
            self.monitor.command_bytes(altair, &self.line, &mut text)
        };
        self.line.clear();
        self.line_overflow = false;
        match reply {
            Reply::Stay => text.bytes(PROMPT.as_bytes()),
            Reply::Run => {
                info!("session: leaving the monitor");
                self.in_monitor = false;
            }
        }
    }

    /// `M` in monitor mode: run on from PC, as `G` does.
    fn leave_monitor<S: BlockStorage>(&mut self, altair: &mut Altair<S>, now_ms: u64) {
        let mut text = OutboxText {
            outbox: &mut self.outbox,
            now_ms,
            online: self.online,
        };
        text.bytes(b"\r\n");
        // `G` without an address always answers Run.
        let _ = self.monitor.command(altair, "G", &mut text);
        self.in_monitor = false;
        self.line.clear();
        self.line_overflow = false;
    }
}
