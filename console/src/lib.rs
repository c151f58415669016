//! The user's terminal for the host tools (`host-sim run`, `altair-cloud term`): raw
//! mode when stdin is a tty, plain pipes otherwise.
//!
//! Raw mode turns off line editing, echo and signal keys, so every key (Ctrl-C
//! included, which CP/M uses) goes to the guest. The original settings come back when
//! the [`RawMode`] guard drops, on every exit path that unwinds or returns.

use std::io::{self, Write};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::termios::{OptionalActions, Termios, isatty, tcgetattr, tcsetattr};

/// The key that leaves the guest for the host tool's own commands (host-sim's
/// front-panel monitor, the terminal client's menu): Ctrl-] (as in telnet), which no
/// CP/M program of note uses.
pub const ESCAPE_KEY: u8 = 0x1D;

/// Whether standard input is a terminal.
pub fn stdin_is_tty() -> bool {
    isatty(rustix::stdio::stdin())
}

/// Puts the terminal in raw mode until dropped.
pub struct RawMode {
    original: Termios,
}

impl RawMode {
    /// Enters raw mode on stdin. Only call when [`stdin_is_tty`].
    pub fn enter() -> io::Result<Self> {
        let stdin = rustix::stdio::stdin();
        let original = tcgetattr(stdin)?;
        let mut raw = original.clone();
        raw.make_raw();
        tcsetattr(stdin, OptionalActions::Now, &raw)?;
        Ok(RawMode { original })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // Nothing useful can be done if restoring fails; the shell's `reset` fixes it.
        let _ = tcsetattr(rustix::stdio::stdin(), OptionalActions::Now, &self.original);
    }
}

/// What a read of standard input found.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    /// This many bytes were read.
    Bytes(usize),
    /// Nothing arrived within the timeout.
    Nothing,
    /// Standard input is closed.
    Eof,
}

/// Waits up to `timeout` (`None`: forever, zero: just look) for input and reads what
/// is there into `buf`.
pub fn read_input(buf: &mut [u8], timeout: Option<Duration>) -> io::Result<Input> {
    let stdin = rustix::stdio::stdin();
    let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
    let timespec = timeout.map(|t| Timespec {
        tv_sec: t.as_secs() as _,
        tv_nsec: t.subsec_nanos() as _,
    });
    match rustix::event::poll(&mut fds, timespec.as_ref()) {
        Ok(0) => return Ok(Input::Nothing),
        Ok(_) => {}
        Err(rustix::io::Errno::INTR) => return Ok(Input::Nothing),
        Err(e) => return Err(e.into()),
    }
    match rustix::io::read(stdin, buf) {
        Ok(0) => Ok(Input::Eof),
        Ok(n) => Ok(Input::Bytes(n)),
        Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => Ok(Input::Nothing),
        Err(e) => Err(e.into()),
    }
}

/// Writes `bytes` to stdout and flushes, so a script reading the pipe sees guest output
/// as soon as the guest produces it.
pub fn write_output(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}
