//! `altair-cloud term`: a terminal at a shell for a device on the broker.
//!
//! Keys go to `altair/<ch>/dev` (Ctrl-letters to `dev/ctrl`, pastes to `dev/paste`, see
//! [`keys`]); the device's output from `web` goes to the screen; the device's retained
//! `status` and the connection's state are shown as notes on their own line and in the
//! window title. It logs in with a device-style client certificate (`mqtts://`, the
//! device listener) or a user name and password (`wss://`, the browser listener).
//!
//! Two connections, each a [`ChannelLink`] with its own persistent session: one
//! receives (`web`, `status`), one publishes keys. Each blocks only on its own socket, so a
//! key goes out the moment it is read and output is shown the moment it arrives, with no
//! polling interval in between. Both reconnect by themselves: keys typed while the broker
//! is away wait and are sent, in order, once it is back; output the device published
//! meanwhile is queued by the broker for the receiving session.
//!
//! On a tty the terminal is in raw mode with bracketed paste on; from a pipe, the input is
//! pasted (line ends become Enter), and the terminal leaves once the input has ended and
//! the device has been quiet for the `linger` time, so it can be scripted.

pub mod keys;
mod screen;

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use altair_console::{Input, RawMode, read_input, stdin_is_tty};

use crate::channel::{ChannelLink, connect_failure, is_permanent};
use crate::mqtt::Endpoint;
use keys::{Action, Command, Keys, Mode, Outgoing};
use screen::Screen;

/// How long the first connection may take before the terminal gives up.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the receiving thread looks up from its socket to see whether to stop.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// How long one publish may try (connecting again included) before the terminal says
/// the key is held and tries again.
const SEND_PATIENCE: Duration = Duration::from_secs(5);

/// What the terminal connects to and how it behaves.
#[derive(Debug, Clone)]
pub struct TermOptions {
    /// The broker and login.
    pub endpoint: Endpoint,
    /// The device's channel.
    pub channel: String,
    /// The client id prefix: the two connections are `<id>-out` and `<id>-in`.
    pub client_id: String,
    /// The typing mode at start (Ctrl-] l switches).
    pub mode: Mode,
    /// Line mode leaves its local copy of a sent line on the screen (for a device that
    /// suppresses its echo, as the original does).
    pub keep_local_echo: bool,
    /// From a pipe: how long the device must be quiet after the input ends before the
    /// terminal leaves.
    pub linger: Duration,
}

/// What the two threads share: the screen, the connection's state for the notes and the
/// title, when output last came, and a fatal fault.
struct Shared {
    screen: Screen,
    channel: String,
    state: Mutex<State>,
    stop: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    connected: bool,
    device: Option<String>,
    last_output: Option<Instant>,
    fatal: Option<String>,
}

impl State {
    /// The broker connection and the device's status, in words: `broker connected,
    /// device online`.
    fn describe(&self) -> String {
        format!(
            "broker {}, device {}",
            if self.connected {
                "connected"
            } else {
                "reconnecting"
            },
            self.device.as_deref().unwrap_or("status unknown")
        )
    }
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panicking thread cannot leave the state half-written: it holds plain values.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records whether the broker connection is up, and shows it in the title.
    fn set_connected(&self, connected: bool) {
        let described = {
            let mut state = self.state();
            state.connected = connected;
            state.describe()
        };
        self.show_title(&described);
    }

    /// The title: channel, connection and device status.
    fn show_title(&self, described: &str) {
        self.screen
            .title(&format!("altair {}: {described}", self.channel));
    }

    /// Records a refused login and stops both threads.
    fn fail(&self, failure: String) {
        self.state().fatal = Some(failure);
        self.stop.store(true, Ordering::SeqCst);
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Runs the terminal until the user quits (Ctrl-] q), the piped input ends and the device
/// falls quiet, or the broker refuses the login. Returns the reason for a failure.
pub fn run(options: TermOptions) -> Result<(), String> {
    let url = options.endpoint.url.clone();
    let mut receiver = ChannelLink::new(
        options.endpoint.clone(),
        &options.channel,
        &format!("{}-out", options.client_id),
        &["web", "status"],
    );
    let mut sender = ChannelLink::new(
        options.endpoint.clone(),
        &options.channel,
        &format!("{}-in", options.client_id),
        &[],
    );
    let deadline = Instant::now() + START_TIMEOUT;
    receiver
        .connect(deadline)
        .map_err(|f| connect_failure(&url, &f))?;
    if let Err(fault) = sender.connect(deadline) {
        receiver.close();
        return Err(connect_failure(&url, &fault));
    }

    let tty = stdin_is_tty();
    let shared = Arc::new(Shared {
        screen: Screen::new(tty),
        channel: options.channel.clone(),
        state: Mutex::new(State {
            connected: true,
            ..State::default()
        }),
        stop: AtomicBool::new(false),
    });
    let _raw = match tty {
        true => Some(
            RawMode::enter().map_err(|e| format!("cannot put the terminal in raw mode: {e}"))?,
        ),
        false => None,
    };
    shared.screen.bracketed_paste(true);
    shared.screen.note(&format!(
        "connected to {url}, channel {}{}",
        options.channel,
        if tty { " (Ctrl-] ? for help)" } else { "" }
    ));
    shared.set_connected(true);

    let output = {
        let shared = Arc::clone(&shared);
        thread::spawn(move || receive_loop(receiver, &shared))
    };
    let result = type_loop(&mut sender, &options, &shared, tty);
    shared.stop.store(true, Ordering::SeqCst);
    sender.close();
    let _ = output.join();
    shared.screen.bracketed_paste(false);
    shared.screen.title("");
    let fatal = shared.state().fatal.take();
    match (result, fatal) {
        (Err(e), _) | (Ok(()), Some(e)) => Err(e),
        (Ok(()), None) => Ok(()),
    }
}

/// The receiving thread: shows output and status until told to stop, reconnecting when
/// the connection goes. A refused login ends the terminal.
fn receive_loop(mut link: ChannelLink, shared: &Shared) {
    let web = link.topic("web");
    let status = link.topic("status");
    while !shared.stopping() {
        match link.receive(Instant::now() + STOP_CHECK) {
            Ok(Some(message)) if message.topic == web => {
                shared.screen.output(&message.payload);
                shared.state().last_output = Some(Instant::now());
            }
            Ok(Some(message)) if message.topic == status => {
                let said = String::from_utf8_lossy(&message.payload).into_owned();
                let described = {
                    let mut state = shared.state();
                    let changed = state.device.as_deref() != Some(said.as_str());
                    state.device = Some(said.clone());
                    changed.then(|| state.describe())
                };
                if let Some(described) = described {
                    shared.screen.note(&format!("device {said}"));
                    shared.show_title(&described);
                }
            }
            Ok(_) => {}
            Err(fault) => {
                shared.set_connected(false);
                shared
                    .screen
                    .note(&format!("connection lost ({fault}); reconnecting"));
                if !reconnect(&mut link, shared) {
                    break;
                }
                shared.set_connected(true);
            }
        }
    }
    link.close();
}

/// Connects `link` again, trying until it works or the terminal stops. Returns whether
/// it is connected; a refused login stops the terminal.
fn reconnect(link: &mut ChannelLink, shared: &Shared) -> bool {
    while !shared.stopping() {
        match link.connect(Instant::now() + STOP_CHECK) {
            Ok(resumed) => {
                shared.screen.note(if resumed {
                    "reconnected"
                } else {
                    "reconnected, but the broker had lost this terminal's session: output \
                     from while it was away is missing"
                });
                return true;
            }
            Err(fault) if is_permanent(&fault) => {
                shared.fail(connect_failure(&link.endpoint().url, &fault));
                return false;
            }
            Err(_) => {}
        }
    }
    false
}

/// The typing side, on the calling thread: reads the keyboard (or the pipe) and sends,
/// keeping the sending link alive while nobody types.
fn type_loop(
    link: &mut ChannelLink,
    options: &TermOptions,
    shared: &Shared,
    tty: bool,
) -> Result<(), String> {
    let mut keys = Keys::new(options.mode, options.keep_local_echo);
    let mut actions = Vec::new();
    let mut buf = [0u8; 4096];
    let mut input_ended: Option<Instant> = None;
    let mut after_cr = false;
    while !shared.stopping() {
        if let Some(ended) = input_ended {
            let last = shared.state().last_output.map_or(ended, |t| t.max(ended));
            if last.elapsed() >= options.linger {
                return Ok(());
            }
            thread::sleep(STOP_CHECK.min(options.linger));
            // A failed ping only drops the connection: the next send connects again.
            let _ = link.keep_alive();
            continue;
        }
        let wait = link
            .ping_due()
            .map_or(STOP_CHECK, |due| {
                due.saturating_duration_since(Instant::now())
            })
            .min(STOP_CHECK);
        match read_input(&mut buf, Some(wait)) {
            Ok(Input::Bytes(n)) if tty => keys.feed(&buf[..n], &mut actions),
            Ok(Input::Bytes(n)) => {
                keys.paste(&line_ends_to_enter(&buf[..n], &mut after_cr), &mut actions);
            }
            Ok(Input::Nothing) => {
                let _ = link.keep_alive();
            }
            Ok(Input::Eof) => input_ended = Some(Instant::now()),
            Err(e) => return Err(format!("cannot read the keyboard: {e}")),
        }
        for action in actions.drain(..) {
            match action {
                Action::Send(outgoing) => {
                    if !send(link, &outgoing, shared) {
                        return Ok(());
                    }
                }
                Action::Show(bytes) => shared.screen.output(&bytes),
                Action::Run(Command::Quit) => return Ok(()),
                Action::Run(Command::SwitchMode) => shared.screen.note(match keys.mode() {
                    Mode::Line => "line mode: lines are edited here and sent with Enter",
                    Mode::Character => "character mode: each key goes at once",
                }),
                Action::Run(Command::ShowStatus) => {
                    let described = shared.state().describe();
                    shared.screen.note(&format!(
                        "{} channel {}: {described}, {} mode",
                        options.endpoint.url,
                        options.channel,
                        keys.mode().name()
                    ));
                }
                Action::Run(Command::Help) => shared.screen.note(HELP),
            }
        }
    }
    Ok(())
}

/// The terminal's own commands, shown by Ctrl-] ?.
const HELP: &str = "Ctrl-] then: q quit, m monitor on/off (M on dev/ctrl), l line/character \
                    mode, s status, Ctrl-] the key itself";

/// Sends one message, holding it (and the keys after it) while the broker is away.
/// Returns false if the terminal must stop: the login was refused, or it was told to.
fn send(link: &mut ChannelLink, outgoing: &Outgoing, shared: &Shared) -> bool {
    let (leaf, payload): (&str, &[u8]) = match outgoing {
        Outgoing::Dev(text) => ("dev", text),
        Outgoing::Ctrl(letter) => ("dev/ctrl", std::slice::from_ref(letter)),
        Outgoing::Paste(text) => ("dev/paste", text),
    };
    let mut said = false;
    while !shared.stopping() {
        match link.publish(leaf, payload, Instant::now() + SEND_PATIENCE) {
            Ok(()) => {
                if said {
                    shared.screen.note("sent the keys held meanwhile");
                }
                return true;
            }
            Err(fault) if is_permanent(&fault) => {
                shared.fail(connect_failure(&link.endpoint().url, &fault));
                return false;
            }
            Err(fault) if !said => {
                shared.screen.note(&format!(
                    "cannot send ({fault}); holding the keys until the broker is back"
                ));
                said = true;
            }
            Err(_) => {}
        }
    }
    false
}

/// Asks for `user`'s password on the terminal, without echo. Fails on a pipe (give
/// `--password-file`) or when the user presses Ctrl-C.
pub fn ask_password(user: &str) -> Result<String, String> {
    if !stdin_is_tty() {
        return Err(format!(
            "no password for {user}: give --password-file (standard input is not a terminal)"
        ));
    }
    let _raw = RawMode::enter().map_err(|e| format!("cannot turn off echo: {e}"))?;
    let _ = write!(std::io::stderr(), "password for {user}: ");
    let _ = std::io::stderr().flush();
    let mut password = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match read_input(&mut byte, None) {
            Ok(Input::Bytes(_)) => match byte[0] {
                b'\r' | b'\n' => break,
                0x03 => return Err("cancelled".into()),
                0x08 | 0x7f => {
                    password.pop();
                }
                b => password.push(b),
            },
            Ok(Input::Nothing) => {}
            Ok(Input::Eof) => break,
            Err(e) => return Err(format!("cannot read the password: {e}")),
        }
    }
    let _ = write!(std::io::stderr(), "\r\n");
    String::from_utf8(password).map_err(|_| "the password is not UTF-8".to_owned())
}

/// A pipe's line ends as Enter: `\r\n` and `\n` become `\r`, as a person presses it.
/// `after_cr` carries whether the previous read ended in `\r`, so a `\r\n` split
/// between two reads is still one Enter.
fn line_ends_to_enter(bytes: &[u8], after_cr: &mut bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\n' if *after_cr => {}
            b'\n' => out.push(b'\r'),
            _ => out.push(b),
        }
        *after_cr = b == b'\r';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::line_ends_to_enter;

    #[test]
    fn pipe_line_ends_become_enter() {
        let mut cr = false;
        assert_eq!(line_ends_to_enter(b"DIR\n", &mut cr), b"DIR\r");
        assert_eq!(
            line_ends_to_enter(b"DIR\r\nSTAT\r", &mut cr),
            b"DIR\rSTAT\r"
        );
        // The \r ended the last read: this \n belongs to it.
        assert_eq!(line_ends_to_enter(b"\nB\n\n", &mut cr), b"B\r\r");
    }
}
