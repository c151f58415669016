//! [`Screen`]: where the terminal's output goes. The device's bytes go to stdout as they
//! are; the terminal's own notes go to stderr on a line of their own, so a script reading
//! stdout gets exactly the device's output.

use std::io::{self, Write};

use altair_console::write_output;

use super::keys::{BRACKETED_PASTE_OFF, BRACKETED_PASTE_ON};

/// The user's screen.
#[derive(Debug)]
pub struct Screen {
    tty: bool,
}

impl Screen {
    /// A screen for a terminal (`tty`: raw mode, titles, bracketed paste) or a pipe.
    pub fn new(tty: bool) -> Self {
        Screen { tty }
    }

    /// Shows the device's output (or line mode's local echo).
    pub fn output(&self, bytes: &[u8]) {
        // Nowhere to report a closed stdout; the terminal carries on until told to stop.
        let _ = write_output(bytes);
    }

    /// Shows one of the terminal's notes (connection state, device status, help).
    pub fn note(&self, text: &str) {
        let mut err = io::stderr().lock();
        let _ = if self.tty {
            // Raw mode: \r\n, and start on a fresh line whatever the device left.
            write!(err, "\r\n[term] {text}\r\n")
        } else {
            writeln!(err, "[term] {text}")
        };
        let _ = err.flush();
    }

    /// Sets the window title (a terminal only): the status that stays visible.
    pub fn title(&self, text: &str) {
        if self.tty {
            let _ = write_output(format!("\x1b]0;{text}\x07").as_bytes());
        }
    }

    /// Turns the terminal's bracketed paste on or off (a terminal only), so pastes can be
    /// told from typing.
    pub fn bracketed_paste(&self, on: bool) {
        if self.tty {
            let _ = write_output(if on {
                BRACKETED_PASTE_ON
            } else {
                BRACKETED_PASTE_OFF
            });
        }
    }
}
