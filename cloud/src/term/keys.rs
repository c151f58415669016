//! [`Keys`]: what the terminal does with the bytes a person types, as a pure function of
//! the input (no I/O), so every rule is tested here.
//!
//! Where each key goes (reference.md section 3):
//! - printable text, Enter (`\r`), Tab, Backspace, Delete, Escape, Ctrl-@ and the other
//!   non-letter controls: `dev`, as the bytes they are;
//! - Ctrl-A to Ctrl-Z except Tab, Enter, Line Feed and Backspace: `dev/ctrl`, as the
//!   letter (the original device turns letter L into Ctrl-L; `M` alone would toggle the
//!   monitor, which is why Enter must not go this way);
//! - a paste (between the terminal's bracketed-paste markers `ESC [200~` and
//!   `ESC [201~`): `dev/paste`, in chunks of at most [`PASTE_CHUNK`] bytes;
//! - Ctrl-] (the escape key) then a letter: the terminal's own commands ([`Command`]).
//!
//! In line mode printable keys build a line locally, shown as typed and edited with
//! Backspace/Delete and Ctrl-U; Enter sends the line and `\r` as one `dev` message, as the
//! original browser terminal's line mode does. The local copy is then wiped, since the
//! device's echo prints it again, unless `keep_local_echo` (a device that suppresses its
//! echo, as the original does after a `dev` message).

/// The most bytes of one `dev/paste` message: the original terminal's chunk size and the
/// most the device takes at once.
pub const PASTE_CHUNK: usize = 256;

/// The escape key: Ctrl-], as in telnet and `host-sim run`.
pub const ESCAPE_KEY: u8 = 0x1D;

/// Bracketed paste: the terminal wraps pasted text in these (xterm's mode 2004).
const PASTE_START: &[u8] = b"\x1b[200~";
const PASTE_END: &[u8] = b"\x1b[201~";

/// The escape sequences that turn bracketed paste on and off in the user's terminal.
pub const BRACKETED_PASTE_ON: &[u8] = b"\x1b[?2004h";
/// See [`BRACKETED_PASTE_ON`].
pub const BRACKETED_PASTE_OFF: &[u8] = b"\x1b[?2004l";

/// A message for the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// Typed text for `altair/<ch>/dev`.
    Dev(Vec<u8>),
    /// A Ctrl-letter for `altair/<ch>/dev/ctrl` (the upper-case letter).
    Ctrl(u8),
    /// Pasted text for `altair/<ch>/dev/paste`, at most [`PASTE_CHUNK`] bytes.
    Paste(Vec<u8>),
}

/// One of the terminal's own commands, typed as the escape key and then a letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `q`: leave the terminal.
    Quit,
    /// `l`: line mode and character mode were switched (by [`Keys`], before the keys
    /// after it); the terminal says so.
    SwitchMode,
    /// `s`: show the connection's state.
    ShowStatus,
    /// `?` (or anything unknown): show the commands.
    Help,
}

/// What one batch of input asks for, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this to the device.
    Send(Outgoing),
    /// Show these bytes on the user's screen (line mode's local copy, its erasing).
    Show(Vec<u8>),
    /// Carry out a terminal command.
    Run(Command),
}

/// How typed keys travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Each key goes at once (the device echoes).
    Character,
    /// Lines are edited locally and sent on Enter.
    Line,
}

impl Mode {
    /// The mode's name, for the terminal's notes.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Character => "character",
            Mode::Line => "line",
        }
    }
}

/// The typing state: mode, a half-typed escape command, the line being edited, a paste
/// in progress.
#[derive(Debug)]
pub struct Keys {
    mode: Mode,
    keep_local_echo: bool,
    /// The escape key was the last key: the next one is a [`Command`].
    escaped: bool,
    /// Line mode: the line typed so far.
    line: Vec<u8>,
    /// Inside a bracketed paste: the pasted bytes not yet sent.
    paste: Option<Vec<u8>>,
    /// Bytes held back at the end of a read that may be the start of a paste marker.
    held: Vec<u8>,
}

impl Keys {
    /// Starts in `mode`; `keep_local_echo` leaves line mode's local copy on the screen.
    pub fn new(mode: Mode, keep_local_echo: bool) -> Self {
        Keys {
            mode,
            keep_local_echo,
            escaped: false,
            line: Vec::new(),
            paste: None,
            held: Vec::new(),
        }
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Switches between line and character mode. A half-typed line is sent as it is (no
    /// Enter), so nothing typed is lost.
    pub fn switch_mode(&mut self, actions: &mut Vec<Action>) {
        self.flush_line(actions);
        self.mode = match self.mode {
            Mode::Character => Mode::Line,
            Mode::Line => Mode::Character,
        };
    }

    /// Turns one read of the keyboard into actions, appended to `actions` in order.
    pub fn feed(&mut self, input: &[u8], actions: &mut Vec<Action>) {
        let mut bytes = std::mem::take(&mut self.held);
        bytes.extend_from_slice(input);
        let mut plain = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let rest = &bytes[i..];
            if let Some(paste) = self.paste.as_mut() {
                match find(rest, PASTE_END) {
                    Some(end) => {
                        paste.extend_from_slice(&rest[..end]);
                        let text = self.paste.take().unwrap_or_default();
                        self.send_paste(text, actions);
                        i += end + PASTE_END.len();
                    }
                    None => {
                        // Keep what may be the start of the end marker for the next read.
                        let keep = partial_suffix(rest, PASTE_END);
                        paste.extend_from_slice(&rest[..rest.len() - keep]);
                        self.held = rest[rest.len() - keep..].to_vec();
                        i = bytes.len();
                    }
                }
                continue;
            }
            if rest.starts_with(PASTE_START) {
                self.typed(&mut plain, actions);
                self.paste = Some(Vec::new());
                i += PASTE_START.len();
                continue;
            }
            if rest.len() > 1 && rest.len() < PASTE_START.len() && PASTE_START.starts_with(rest) {
                // "ESC [", "ESC [2" ... at the very end of a read: wait for the rest. A lone
                // ESC is a key, and goes at once.
                self.held = rest.to_vec();
                break;
            }
            plain.push(rest[0]);
            i += 1;
        }
        self.typed(&mut plain, actions);
    }

    /// Handles typed (not pasted) keys, draining `keys`.
    fn typed(&mut self, keys: &mut Vec<u8>, actions: &mut Vec<Action>) {
        let mut dev = Vec::new();
        for key in keys.drain(..) {
            if self.escaped {
                self.escaped = false;
                match key {
                    ESCAPE_KEY => dev.push(ESCAPE_KEY),
                    _ => {
                        flush_dev(&mut dev, actions);
                        let action = match key.to_ascii_lowercase() {
                            b'q' => Action::Run(Command::Quit),
                            b'l' => {
                                // At once, so the keys after it in this read are typed in
                                // the new mode.
                                self.switch_mode(actions);
                                Action::Run(Command::SwitchMode)
                            }
                            b's' => Action::Run(Command::ShowStatus),
                            b'm' => Action::Send(Outgoing::Ctrl(b'M')),
                            _ => Action::Run(Command::Help),
                        };
                        actions.push(action);
                    }
                }
                continue;
            }
            if key == ESCAPE_KEY {
                self.escaped = true;
                continue;
            }
            if self.mode == Mode::Line && key == 0x15 {
                self.edit_line(key, actions);
                continue;
            }
            if let Some(letter) = ctrl_letter(key) {
                flush_dev(&mut dev, actions);
                actions.push(Action::Send(Outgoing::Ctrl(letter)));
                continue;
            }
            match self.mode {
                Mode::Character => dev.push(key),
                Mode::Line => self.edit_line(key, actions),
            }
        }
        flush_dev(&mut dev, actions);
    }

    /// Line mode: one key into the line editor.
    fn edit_line(&mut self, key: u8, actions: &mut Vec<Action>) {
        match key {
            b'\r' | b'\n' => {
                if !self.keep_local_echo {
                    actions.push(Action::Show(erase(self.line.len())));
                }
                let mut line = std::mem::take(&mut self.line);
                line.push(b'\r');
                actions.push(Action::Send(Outgoing::Dev(line)));
            }
            0x08 | 0x7f => {
                if self.line.pop().is_some() {
                    actions.push(Action::Show(b"\x08 \x08".to_vec()));
                }
            }
            0x15 => {
                // Ctrl-U: erase the whole line.
                actions.push(Action::Show(erase(self.line.len())));
                self.line.clear();
            }
            _ => {
                self.line.push(key);
                actions.push(Action::Show(vec![key]));
            }
        }
    }

    /// Sends a half-typed line as it is, wiping its local copy.
    fn flush_line(&mut self, actions: &mut Vec<Action>) {
        if self.line.is_empty() {
            return;
        }
        if !self.keep_local_echo {
            actions.push(Action::Show(erase(self.line.len())));
        }
        actions.push(Action::Send(Outgoing::Dev(std::mem::take(&mut self.line))));
    }

    /// Sends pasted text on `dev/paste` in chunks; in line mode the half-typed line goes
    /// first, so the order is kept.
    fn send_paste(&mut self, text: Vec<u8>, actions: &mut Vec<Action>) {
        self.flush_line(actions);
        for chunk in text.chunks(PASTE_CHUNK) {
            actions.push(Action::Send(Outgoing::Paste(chunk.to_vec())));
        }
    }

    /// Sends `text` as a paste: what a pipe's input is (a script types no keys).
    pub fn paste(&mut self, text: &[u8], actions: &mut Vec<Action>) {
        self.send_paste(text.to_vec(), actions);
    }
}

/// The letter a control key goes as on `dev/ctrl`, or `None` for keys that go on `dev`
/// as they are: Backspace (Ctrl-H), Tab (Ctrl-I), Line Feed (Ctrl-J) and Enter (Ctrl-M)
/// have keys of their own. (In line mode Ctrl-U erases the line instead.)
fn ctrl_letter(key: u8) -> Option<u8> {
    match key {
        0x08 | 0x09 | 0x0a | 0x0d => None,
        0x01..=0x1a => Some(b'A' + key - 1),
        _ => None,
    }
}

/// Moves a pending `dev` batch into `actions`.
fn flush_dev(dev: &mut Vec<u8>, actions: &mut Vec<Action>) {
    if !dev.is_empty() {
        actions.push(Action::Send(Outgoing::Dev(std::mem::take(dev))));
    }
}

/// The bytes that wipe the last `n` characters shown: back over them, then clear to the
/// end of the line.
fn erase(n: usize) -> Vec<u8> {
    let mut bytes = vec![0x08; n];
    bytes.extend_from_slice(b"\x1b[K");
    bytes
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The length of the longest end of `bytes` that is a proper start of `marker`.
fn partial_suffix(bytes: &[u8], marker: &[u8]) -> usize {
    (1..marker.len().min(bytes.len() + 1))
        .rev()
        .find(|&n| bytes.ends_with(&marker[..n]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
