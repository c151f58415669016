//! `host-sim run`: the Altair wired to the user's terminal.
//!
//! One loop interleaves the guest, the keyboard and the screen:
//! - the machine runs in batches (about a millisecond of host time, or at `--mhz`, the
//!   states real time allows) and stops early when the guest waits for a key;
//! - when the guest is idle the loop sleeps in `poll` on stdin until a key arrives or
//!   [`IDLE_WAIT`] passes, so CP/M at its prompt costs almost no CPU;
//! - guest output goes to stdout after every batch, unbuffered.
//!
//! On a tty, keys go to the guest as they are typed. From a pipe, input is typed the way
//! a person would: one line at a time, each when the guest next waits for input, and
//! when input ends and the guest waits for more, host-sim exits 0. That makes
//! `printf 'DIR\r' | host-sim run` a complete script.
//!
//! [`ESCAPE_KEY`] (Ctrl-]) stops the CPU and opens the front-panel monitor; `G` there
//! resumes, `Q` quits host-sim. When a person is at a terminal (stdin and stdout both
//! ttys), the monitor draws the panel's lights ([`crate::lights`]) before each prompt;
//! scripted or piped runs never see them.

use std::collections::VecDeque;
use std::io::{self, IsTerminal};
use std::time::{Duration, Instant};

use altair_firmware::machine::{Altair, Stop};
use altair_firmware::monitor::{Monitor, PROMPT, Reply};
use altair_firmware::pace::Pacer;
use altair_firmware::panel::{Lights, Mode};

use crate::drive::Drive;
use altair_console::{self as terminal, ESCAPE_KEY, Input, RawMode};

/// Longest sleep while the guest is idle: a guest that polls the console while it
/// waits on something else (a timer loop) still moves 100 times a second.
pub const IDLE_WAIT: Duration = Duration::from_millis(10);
/// States per batch when running flat out: about a millisecond of host time, so keys
/// are seen promptly and the poll for them costs nothing measurable.
const FREE_RUN_BATCH: u64 = 4_000_000;
/// Longest batch at real speed: 1 ms of guest time at 2 MHz keeps pacing smooth.
const PACED_BATCH_US: u64 = 1_000;

/// The most states one batch runs: about a millisecond of host time flat out, or of
/// guest time at the paced rate.
pub fn max_batch(pacer: Option<&Pacer>) -> u64 {
    pacer.map_or(FREE_RUN_BATCH, |p| p.hz() * PACED_BATCH_US / 1_000_000)
}

/// The states the next batch may run at `now_us` with `cycles` done: [`max_batch`], or
/// less when real time allows less at the paced rate.
pub fn batch_budget(pacer: Option<&mut Pacer>, now_us: u64, cycles: u64) -> u64 {
    match pacer {
        None => FREE_RUN_BATCH,
        Some(p) => max_batch(Some(p)).min(p.allowance(now_us, cycles)),
    }
}

/// How long until a paced guest is due to run again (zero flat out), at most
/// [`IDLE_WAIT`].
pub fn pacing_wait(pacer: Option<&Pacer>, now_us: u64, cycles: u64) -> Duration {
    pacer.map_or(Duration::ZERO, |p| {
        Duration::from_micros(p.wait_us(now_us, cycles)).min(IDLE_WAIT)
    })
}

/// How the session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The user quit from the monitor.
    Quit,
    /// Input ended and the guest was waiting for more.
    InputDone,
    /// The CPU halted with interrupts disabled and input ended.
    Halted,
}

/// Counters for `--stats`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunStats {
    /// 8080 instructions executed.
    pub instructions: u64,
    /// 8080 states executed.
    pub cycles: u64,
    /// Wall time of the session, in seconds.
    pub seconds: f64,
}

impl std::fmt::Display for RunStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mhz = self.cycles as f64 / self.seconds.max(1e-9) / 1e6;
        write!(
            f,
            "instructions={} cycles={} seconds={:.3} effective_mhz={mhz:.3}",
            self.instructions, self.cycles, self.seconds
        )
    }
}

/// How keys reach the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Typing {
    /// A person at a tty: every key at once.
    Live,
    /// A script: a line at a time, when the guest waits for input.
    ByLine,
}

/// The running session.
pub struct Session {
    altair: Box<Altair<Drive>>,
    monitor: Monitor,
    in_monitor: bool,
    monitor_line: Vec<u8>,
    typing: Typing,
    /// Draw the panel's lights in the monitor: only for a person at a terminal.
    show_lights: bool,
    /// Keys read from stdin and not yet handed to the guest.
    keys: VecDeque<u8>,
    input_closed: bool,
    pacer: Option<Pacer>,
    started: Instant,
}

impl Session {
    /// A session on a prepared machine. `mhz` paces the guest; `None` runs flat out.
    /// `start_in_monitor` opens the front panel first (nothing to boot).
    pub fn new(altair: Box<Altair<Drive>>, mhz: Option<f64>, start_in_monitor: bool) -> Self {
        let started = Instant::now();
        let pacer = mhz.map(|m| Pacer::new((m * 1_000_000.0).round() as u64, 0, altair.cpu.cycles));
        let live = terminal::stdin_is_tty();
        Session {
            altair,
            monitor: Monitor::new(),
            in_monitor: start_in_monitor,
            monitor_line: Vec::new(),
            typing: if live { Typing::Live } else { Typing::ByLine },
            show_lights: live && io::stdout().is_terminal(),
            keys: VecDeque::new(),
            input_closed: false,
            pacer,
            started,
        }
    }

    fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    /// Runs until the user quits or scripted input is used up.
    pub fn run(mut self) -> io::Result<(Ending, RunStats)> {
        let ending = self.run_loop()?;
        let stats = RunStats {
            instructions: self.altair.cpu.instructions,
            cycles: self.altair.cpu.cycles,
            seconds: self.started.elapsed().as_secs_f64(),
        };
        Ok((ending, stats))
    }

    fn run_loop(&mut self) -> io::Result<Ending> {
        let _raw = match self.typing {
            Typing::Live => Some(RawMode::enter()?),
            Typing::ByLine => None,
        };
        if self.in_monitor {
            self.show_monitor_banner()?;
        }
        let mut guest_idle = false;
        loop {
            let wait = if self.in_monitor || guest_idle {
                Some(IDLE_WAIT)
            } else {
                self.pacing_wait()
            };
            if self.input_closed {
                // Nothing more can arrive: wait the same time without the poll.
                std::thread::sleep(wait.unwrap_or(IDLE_WAIT));
            } else {
                self.read_keys(wait)?;
            }
            if self.in_monitor {
                if let Some(ending) = self.monitor_input()? {
                    return Ok(ending);
                }
                if self.in_monitor {
                    if self.input_closed && self.keys.is_empty() {
                        return Ok(Ending::InputDone);
                    }
                    continue;
                }
            }
            if self.take_escape()? {
                continue;
            }
            self.feed_guest();
            let budget = self.batch();
            let stop = self.altair.run(budget);
            self.flush_output()?;
            guest_idle = false;
            match stop {
                Stop::Idle => {
                    guest_idle = true;
                    if let Some(p) = self.pacer.as_mut() {
                        let now = self.started.elapsed().as_micros() as u64;
                        p.rebase(now, self.altair.cpu.cycles);
                    }
                    if self.typing == Typing::ByLine && !self.keys.is_empty() {
                        self.feed_line();
                        guest_idle = false;
                    } else if self.input_closed
                        && self.keys.is_empty()
                        && !self.altair.devices.console.has_input()
                    {
                        return Ok(Ending::InputDone);
                    }
                }
                Stop::Halted if !self.altair.cpu.inte => {
                    let msg = format!(
                        "\r\n[host-sim] CPU halted at {:04X}H with interrupts disabled\r\n",
                        self.altair.cpu.pc.wrapping_sub(1)
                    );
                    terminal::write_output(msg.as_bytes())?;
                    if self.input_closed && self.keys.is_empty() {
                        return Ok(Ending::Halted);
                    }
                    self.enter_monitor()?;
                }
                Stop::Halted => guest_idle = true,
                Stop::Budget | Stop::OutputFull | Stop::Storage => {}
            }
        }
    }

    /// With --mhz, how long until the guest is due to run again.
    fn pacing_wait(&mut self) -> Option<Duration> {
        let now = self.now_us();
        Some(pacing_wait(
            self.pacer.as_ref(),
            now,
            self.altair.cpu.cycles,
        ))
    }

    fn batch(&mut self) -> u64 {
        let cycles = self.altair.cpu.cycles;
        let now = self.now_us();
        batch_budget(self.pacer.as_mut(), now, cycles)
    }

    fn read_keys(&mut self, wait: Option<Duration>) -> io::Result<()> {
        if self.input_closed {
            return Ok(());
        }
        let mut buf = [0u8; 4096];
        match terminal::read_input(&mut buf, wait)? {
            Input::Bytes(n) => self.keys.extend(&buf[..n]),
            Input::Eof => self.input_closed = true,
            Input::Nothing => {}
        }
        Ok(())
    }

    /// Enters the monitor if the escape key is next in line.
    fn take_escape(&mut self) -> io::Result<bool> {
        let Some(pos) = self.keys.iter().position(|&k| k == ESCAPE_KEY) else {
            return Ok(false);
        };
        // Keys typed before the escape still go to the guest first.
        if pos > 0 {
            return Ok(false);
        }
        self.keys.pop_front();
        self.enter_monitor()?;
        Ok(true)
    }

    fn enter_monitor(&mut self) -> io::Result<()> {
        self.in_monitor = true;
        self.monitor_line.clear();
        // The guest's cursor is wherever it left it (often after a prompt).
        terminal::write_output(b"\r\n")?;
        self.show_monitor_banner()
    }

    fn show_monitor_banner(&mut self) -> io::Result<()> {
        let mut text = String::new();
        self.monitor.enter(&self.altair, &mut text);
        self.push_prompt(&mut text);
        terminal::write_output(text.as_bytes())
    }

    /// Appends the prompt, after the lights when they are shown.
    fn push_prompt(&self, text: &mut String) {
        if self.show_lights {
            let lights = Lights::new(&self.altair, &self.monitor, Mode::Stopped);
            text.push_str(&crate::lights::render(&lights));
        }
        text.push_str(PROMPT);
    }

    /// Handles keys typed at the monitor; returns an ending if the user quit.
    fn monitor_input(&mut self) -> io::Result<Option<Ending>> {
        while let Some(key) = self.keys.pop_front() {
            match key {
                b'\r' | b'\n' => {
                    if self.typing == Typing::Live {
                        terminal::write_output(b"\r\n")?;
                    }
                    let line = String::from_utf8_lossy(&self.monitor_line).into_owned();
                    self.monitor_line.clear();
                    let command = line.trim();
                    if command.eq_ignore_ascii_case("q") || command.eq_ignore_ascii_case("quit") {
                        return Ok(Some(Ending::Quit));
                    }
                    if command.is_empty() && key == b'\n' && self.typing == Typing::ByLine {
                        // The LF of a script's CR LF: not a second command.
                        continue;
                    }
                    let mut reply = String::new();
                    let outcome = self.monitor.command(&mut self.altair, command, &mut reply);
                    if outcome == Reply::Run {
                        terminal::write_output(reply.as_bytes())?;
                        self.in_monitor = false;
                        let now = self.now_us();
                        if let Some(p) = self.pacer.as_mut() {
                            p.rebase(now, self.altair.cpu.cycles);
                        }
                        return Ok(None);
                    }
                    self.push_prompt(&mut reply);
                    terminal::write_output(reply.as_bytes())?;
                }
                ESCAPE_KEY => {
                    self.in_monitor = false;
                    terminal::write_output(b"\r\n")?;
                    return Ok(None);
                }
                0x08 | 0x7F => {
                    if self.monitor_line.pop().is_some() && self.typing == Typing::Live {
                        terminal::write_output(b"\x08 \x08")?;
                    }
                }
                _ => {
                    self.monitor_line.push(key);
                    if self.typing == Typing::Live {
                        terminal::write_output(&[key])?;
                    }
                }
            }
        }
        Ok(None)
    }

    /// Hands keys to the guest: all that fit when live; scripted lines go in
    /// [`Session::feed_line`] when the guest waits.
    fn feed_guest(&mut self) {
        if self.typing != Typing::Live {
            return;
        }
        let console = &mut self.altair.devices.console;
        while let Some(&key) = self.keys.front() {
            if key == ESCAPE_KEY || !console.push_key(key) {
                break;
            }
            self.keys.pop_front();
        }
    }

    /// Types the next scripted line (through its CR or LF, or up to an escape key).
    fn feed_line(&mut self) {
        let console = &mut self.altair.devices.console;
        while let Some(&key) = self.keys.front() {
            if key == ESCAPE_KEY || !console.push_key(key) {
                break;
            }
            self.keys.pop_front();
            if key == b'\r' || key == b'\n' {
                break;
            }
        }
    }

    fn flush_output(&mut self) -> io::Result<()> {
        let mut buf = [0u8; altair_firmware::machine::console::TX_CAPACITY];
        loop {
            let n = self.altair.devices.console.drain_output(&mut buf);
            if n == 0 {
                return Ok(());
            }
            terminal::write_output(&buf[..n])?;
        }
    }
}
