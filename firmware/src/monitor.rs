//! The front-panel monitor: the Altair's switches and EXAMINE / DEPOSIT / SINGLE STEP
//! keys, driven by typed command lines while the CPU is stopped.
//!
//! One [`Monitor`] holds the panel's address register. [`Monitor::command`] takes one
//! line, carries it out on an [`Altair`] and writes the reply into any
//! [`core::fmt::Write`]; the same code serves host-sim's terminal and the MQTT `dev`
//! topic in monitor mode (reference.md section 3). It never panics, whatever the line
//! holds: a bad line changes nothing and is answered with one `error: ...` line that
//! says what is wrong and how to write it instead.
//!
//! # Commands
//!
//! Case does not matter; words are separated by spaces or tabs, and whitespace (including
//! a trailing `\r` or `\n`) around the line is ignored. Every number is hexadecimal, with
//! an optional `0x` prefix or `H` suffix (`0100`, `0x100`, `0C300H`).
//!
//! The original's commands (reference.md section 3):
//! - `0`/`1` string, 1 to 16 characters: sets the 16 address/data switches. The string is
//!   right-aligned, as the original does: the last character is switch 0, and a short
//!   string sets the low switches and clears the others (`101` is 0x0005).
//! - `E`: EXAMINE. The address register takes the switches' value; the reply shows that
//!   location.
//! - `EN`: EXAMINE NEXT. The address register steps by one (0xFFFF wraps to 0x0000).
//! - `D`: DEPOSIT. The low 8 switches are written at the address register.
//! - `DN`: DEPOSIT NEXT. The address register steps by one, then deposits.
//! - `S`: SINGLE STEP. Executes one instruction at PC ([`Altair::step`]); the address
//!   register follows PC.
//!
//! Conveniences beyond the original panel:
//! - `E addr` examines `addr` directly. The switches are left alone, so the sense
//!   switches a program reads (IN 0FFH) stay as they were set.
//! - `EN n` and `S n` repeat `n` times (1 to [`MAX_REPEAT`]), one reply line each.
//!   Stepping stops early when the CPU halts.
//! - `D byte` deposits `byte` instead of the switches; `D addr byte...` moves the
//!   address register to `addr` and deposits up to [`MAX_REPEAT`] bytes there and at the
//!   following addresses, leaving the register on the last. `DN byte...` deposits each
//!   byte at the next address. With one argument `D` takes a byte, never an address.
//!   All bytes are written before the reply lists them, one panel line per address, so
//!   each line's instruction shows the operands deposited with it.
//! - `R` or `REG`: registers, flags spelled out, INTE, HALT and the counters.
//! - `G` or `G addr`: leave the monitor and run from PC (after setting PC to `addr`,
//!   which also wakes a halted CPU). The reply is [`Reply::Run`].
//! - `RESET`: the front panel's RESET ([`Altair::reset`]): PC = 0, devices to power-on
//!   state, memory kept. The monitor stays.
//! - `SW` shows the switches; `SW hex` sets them from a hex value.
//! - `?` or `HELP` lists the commands.
//!
//! Unlike the real panel, where EXAMINE loads the program counter, the monitor's address
//! register is separate from PC: looking at memory never moves where the program
//! resumes. `G addr`, or `G` after `RESET`, chooses where to run. [`Monitor::enter`] puts
//! the address register on PC, as stopping the real machine shows PC on the lights.
//!
//! # Replies
//!
//! Every reply line ends with [`EOL`], `"\r\n"`: terminals in raw mode and the web
//! terminal both need the carriage return. A reply is at most [`MAX_REPLY_LEN`] bytes of
//! printable ASCII. E, EN, D, DN and S answer with one panel line per location:
//!
//! ```text
//! 0100 00000001 00000000  3E 00111110  MVI  A,07H
//! ```
//!
//! that is the address bus in hex (4 digits) then binary (high byte, space, low byte),
//! two spaces, the data bus (the byte at that address) in hex then binary, two spaces,
//! and the instruction that starts there, disassembled from it and the two bytes after
//! it (see [`crate::disasm`]). Deposits into ROM are ignored by the memory, so the line
//! shows the unchanged byte, and a `note:` line says so.
//!
//! Switch commands answer `switches 003E  00000000 00111110  low byte: MVI (2 bytes)`:
//! the switches in hex and binary, and what the low eight would be as an opcode.

use core::fmt::{self, Display, Write};
use core::iter::Peekable;
use core::str::SplitAsciiWhitespace;

use crate::cpu::{Cpu, flags};
use crate::disasm::{self, Instruction};
use crate::machine::Altair;
use crate::machine::memory::Memory;
use crate::panel;
use crate::platform::BlockStorage;

/// What ends every reply line: carriage return, line feed.
pub const EOL: &str = "\r\n";
/// The longest command line accepted, in bytes, not counting whitespace around it.
pub const MAX_LINE_LEN: usize = 80;
/// The most repeats (`EN n`, `S n`) or bytes (`D addr byte...`, `DN byte...`) in one
/// command: 16, written `10` in hex.
pub const MAX_REPEAT: usize = 16;
/// An upper bound on the bytes one reply writes (the longest is `HELP`). A buffer this
/// big never cuts a reply short.
pub const MAX_REPLY_LEN: usize = 1024;
/// A prompt for platforms that show one before each command line (the replies never
/// include it).
pub const PROMPT: &str = "MONITOR> ";

/// What the caller should do after a command.
#[must_use = "`Run` means the caller must leave monitor mode and run the CPU"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Reply {
    /// Stay in monitor mode with the CPU stopped.
    Stay,
    /// Leave monitor mode and run the CPU from its PC (the `G` command).
    Run,
}

/// The front-panel monitor: the panel's address register and the command interpreter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Monitor {
    /// The address the panel's lights show and EN / D / DN work on.
    address: u16,
}

impl Monitor {
    /// A monitor whose address register is 0.
    pub const fn new() -> Self {
        Monitor { address: 0 }
    }

    /// The panel's address register.
    pub fn address(&self) -> u16 {
        self.address
    }

    /// Call when entering monitor mode: puts the address register on PC, as stopping the
    /// real machine does, and writes a banner line and the panel line for PC.
    pub fn enter<S: BlockStorage, W: Write + ?Sized>(&mut self, altair: &Altair<S>, out: &mut W) {
        let mut sink = Sink::new(out);
        let cpu = &altair.cpu;
        self.address = cpu.pc;
        let halted = if cpu.halted { " (halted)" } else { "" };
        sink.line(format_args!(
            "MONITOR: CPU stopped at PC={:04X}{halted}; ? lists the commands, G runs",
            cpu.pc
        ));
        self.show(altair, &mut sink);
    }

    /// Carries out one command line and writes the reply to `out`, each line ending in
    /// [`EOL`]. Returns [`Reply::Run`] when the caller should leave monitor mode.
    ///
    /// A line that cannot be understood changes nothing and gets a one-line error. If
    /// `out` refuses text (a full buffer), the reply is cut short but the command still
    /// takes effect in full.
    pub fn command<S: BlockStorage, W: Write + ?Sized>(
        &mut self,
        altair: &mut Altair<S>,
        line: &str,
        out: &mut W,
    ) -> Reply {
        let mut sink = Sink::new(out);
        match parse(line) {
            Ok(command) => self.execute(altair, command, &mut sink),
            Err(error) => {
                sink.line(format_args!("{error}"));
                Reply::Stay
            }
        }
    }

    /// [`Monitor::command`] for a line of raw bytes (an MQTT payload): anything that is
    /// not UTF-8 is answered with an error.
    pub fn command_bytes<S: BlockStorage, W: Write + ?Sized>(
        &mut self,
        altair: &mut Altair<S>,
        line: &[u8],
        out: &mut W,
    ) -> Reply {
        match core::str::from_utf8(line) {
            Ok(text) => self.command(altair, text, out),
            Err(_) => {
                Sink::new(out).line(format_args!("{}", Error::NotText));
                Reply::Stay
            }
        }
    }

    /// Carries out one front-panel command switch ([`panel::Command`]) exactly as the
    /// typed command of the same name (`E`, `EN`, `D`, `DN`, `S`, `RESET`, `G`), with
    /// the same reply, so physical panels and typed lines share one implementation.
    /// STOP does nothing: the monitor only runs with the CPU stopped. [`panel::apply`]
    /// is the caller that knows whether the CPU runs.
    pub fn switch<S: BlockStorage, W: Write + ?Sized>(
        &mut self,
        altair: &mut Altair<S>,
        command: panel::Command,
        out: &mut W,
    ) -> Reply {
        let command = match command {
            panel::Command::Stop => return Reply::Stay,
            panel::Command::Reset => Command::Reset,
            panel::Command::Run => Command::Go(None),
            panel::Command::SingleStep => Command::Step(1),
            panel::Command::Examine => Command::Examine(None),
            panel::Command::ExamineNext => Command::ExamineNext(1),
            panel::Command::Deposit => Command::Deposit {
                at: None,
                bytes: Bytes::new(),
            },
            panel::Command::DepositNext => Command::DepositNext(Bytes::new()),
        };
        self.execute(altair, command, &mut Sink::new(out))
    }

    fn execute<S: BlockStorage, W: Write + ?Sized>(
        &mut self,
        altair: &mut Altair<S>,
        command: Command,
        sink: &mut Sink<'_, W>,
    ) -> Reply {
        match command {
            Command::SetSwitches(value) => {
                altair.devices.switches = value;
                show_switches(value, sink);
            }
            Command::ShowSwitches => show_switches(altair.devices.switches, sink),
            Command::Examine(at) => {
                self.address = at.unwrap_or(altair.devices.switches);
                self.show(altair, sink);
            }
            Command::ExamineNext(count) => {
                for _ in 0..count {
                    self.address = self.address.wrapping_add(1);
                    self.show(altair, sink);
                }
            }
            Command::Deposit { at, bytes } => {
                let start = at.unwrap_or(self.address);
                self.deposit(altair, start, &bytes, sink);
            }
            Command::DepositNext(bytes) => {
                let start = self.address.wrapping_add(1);
                self.deposit(altair, start, &bytes, sink);
            }
            Command::Step(count) => {
                for _ in 0..count {
                    let states = altair.step();
                    self.address = altair.cpu.pc;
                    if states == 0 {
                        sink.line(format_args!(
                            "note: the CPU is halted at PC={:04X} and nothing ran; \
                             G addr or RESET restarts it",
                            altair.cpu.pc
                        ));
                        break;
                    }
                    self.show(altair, sink);
                    if altair.cpu.halted {
                        sink.line(format_args!(
                            "note: the CPU halted; G addr or RESET restarts it"
                        ));
                        break;
                    }
                }
            }
            Command::Registers => sink.line(format_args!("{}", Registers(&altair.cpu))),
            Command::Go(at) => {
                if let Some(at) = at {
                    altair.cpu.pc = at;
                    altair.cpu.halted = false;
                }
                self.address = altair.cpu.pc;
                let halted = if altair.cpu.halted {
                    " (halted: it waits for an interrupt)"
                } else {
                    ""
                };
                sink.line(format_args!("RUN from PC={:04X}{halted}", altair.cpu.pc));
                return Reply::Run;
            }
            Command::Reset => {
                altair.reset();
                self.address = altair.cpu.pc;
                sink.line(format_args!(
                    "RESET: PC={:04X}, interrupts off, devices cleared; memory kept",
                    altair.cpu.pc
                ));
                self.show(altair, sink);
            }
            Command::Help => {
                for line in HELP {
                    sink.line(format_args!("{line}"));
                }
            }
        }
        Reply::Stay
    }

    /// Writes `bytes` (the low 8 switches if empty) from `start` on, leaves the address
    /// register on the last, and shows each location once all are written, so every
    /// line's instruction sees its operands.
    fn deposit<S: BlockStorage, W: Write + ?Sized>(
        &mut self,
        altair: &mut Altair<S>,
        start: u16,
        bytes: &[u8],
        sink: &mut Sink<'_, W>,
    ) {
        let [_, low] = altair.devices.switches.to_be_bytes();
        let switches = [low];
        let bytes = if bytes.is_empty() {
            &switches[..]
        } else {
            bytes
        };
        let memory = &mut altair.devices.memory;
        let mut address = start;
        let mut rom = 0;
        for (i, &byte) in bytes.iter().enumerate() {
            if i > 0 {
                address = address.wrapping_add(1);
            }
            memory.write(address, byte);
            rom += usize::from(memory.is_rom(address));
        }
        self.address = start;
        for i in 0..bytes.len() {
            if i > 0 {
                self.address = self.address.wrapping_add(1);
            }
            self.show(altair, sink);
        }
        match rom {
            0 => {}
            1 => sink.line(format_args!(
                "note: that address is ROM; the byte was not written"
            )),
            n => sink.line(format_args!(
                "note: {n} of those addresses are ROM; their bytes were not written"
            )),
        }
    }

    /// Writes the panel line for the address register.
    fn show<S: BlockStorage, W: Write + ?Sized>(&self, altair: &Altair<S>, sink: &mut Sink<'_, W>) {
        let panel = Panel::at(&altair.devices.memory, self.address);
        sink.line(format_args!("{panel}"));
    }
}

/// The `HELP` text, one entry per line.
const HELP: [&str; 14] = [
    "Altair front panel monitor. Numbers are hex; case does not matter.",
    "  0101...     1 to 16 of 0/1 set the switches (a short string sets the low ones)",
    "  E [addr]    examine: address := switches (or addr), show it",
    "  EN [n]      examine next (n times; n is hex, at most 10)",
    "  D [byte]    deposit the low 8 switches (or byte) at the address",
    "  D addr b..  deposit bytes from addr on (at most 16 bytes)",
    "  DN [b..]    deposit next: address+1, then deposit (each byte in turn)",
    "  S [n]       single step n instructions (n is hex, at most 10), show PC",
    "  R, REG      registers, flags, INTE, HALT and counters",
    "  G [addr]    leave the monitor and run from PC (or from addr)",
    "  RESET       reset: PC=0, devices cleared, memory kept",
    "  SW [hex]    show the switches (or set them from hex)",
    "  ?, HELP     this list",
    "Replies: address hex + binary, data hex + binary, the instruction there.",
];

/// Writes the switches line.
fn show_switches<W: Write + ?Sized>(value: u16, sink: &mut Sink<'_, W>) {
    let [high, low] = value.to_be_bytes();
    let opcode = Instruction::decode([low, 0, 0]);
    let mut text: heapless::String<{ disasm::MAX_TEXT_LEN }> = heapless::String::new();
    let mnemonic = match write!(text, "{opcode}") {
        Ok(()) => text.split(' ').next().unwrap_or_default(),
        Err(_) => "?",
    };
    let plural = if opcode.len() == 1 { "" } else { "s" };
    sink.line(format_args!(
        "switches {value:04X}  {high:08b} {low:08b}  low byte: {mnemonic} ({} byte{plural})",
        opcode.len()
    ));
}

/// One panel line: address bus, data bus and the instruction there.
struct Panel {
    address: u16,
    bytes: [u8; 3],
}

impl Panel {
    fn at(memory: &Memory, address: u16) -> Self {
        Panel {
            address,
            bytes: [
                memory.read(address),
                memory.read(address.wrapping_add(1)),
                memory.read(address.wrapping_add(2)),
            ],
        }
    }
}

impl Display for Panel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [high, low] = self.address.to_be_bytes();
        let data = self.bytes[0];
        write!(
            f,
            "{:04X} {high:08b} {low:08b}  {data:02X} {data:08b}  {}",
            self.address,
            Instruction::decode(self.bytes)
        )
    }
}

/// The `R` reply: two lines, the second without its [`EOL`] (the sink adds it).
struct Registers<'a>(&'a Cpu);

impl Display for Registers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cpu = self.0;
        let [_, psw_flags] = cpu.psw().to_be_bytes();
        write!(
            f,
            "A={:02X} F={psw_flags:02X} B={:02X} C={:02X} D={:02X} E={:02X} H={:02X} L={:02X} \
             SP={:04X} PC={:04X}{EOL}",
            cpu.a, cpu.b, cpu.c, cpu.d, cpu.e, cpu.h, cpu.l, cpu.sp, cpu.pc
        )?;
        let bit = |mask: u8| u8::from(cpu.f & mask != 0);
        write!(
            f,
            "flags S={} Z={} AC={} P={} CY={}  INTE={} HALT={}  cycles={} instructions={}",
            bit(flags::S),
            bit(flags::Z),
            bit(flags::AC),
            bit(flags::P),
            bit(flags::CY),
            u8::from(cpu.inte),
            u8::from(cpu.halted),
            cpu.cycles,
            cpu.instructions
        )
    }
}

/// A writer that never fails: once `out` refuses text, the rest of the reply is dropped,
/// so a full buffer cuts the reply short without stopping the command half way.
struct Sink<'w, W: ?Sized> {
    out: &'w mut W,
    full: bool,
}

impl<'w, W: Write + ?Sized> Sink<'w, W> {
    fn new(out: &'w mut W) -> Self {
        Sink { out, full: false }
    }

    /// Writes `args` and [`EOL`].
    fn line(&mut self, args: fmt::Arguments<'_>) {
        self.put(args);
        self.put(format_args!("{EOL}"));
    }

    fn put(&mut self, args: fmt::Arguments<'_>) {
        if !self.full && self.out.write_fmt(args).is_err() {
            self.full = true;
        }
    }
}

/// Bytes given to `D` or `DN`; empty means "the low 8 switches".
type Bytes = heapless::Vec<u8, MAX_REPEAT>;

/// One parsed command line.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    SetSwitches(u16),
    ShowSwitches,
    Examine(Option<u16>),
    ExamineNext(u8),
    Deposit { at: Option<u16>, bytes: Bytes },
    DepositNext(Bytes),
    Step(u8),
    Registers,
    Go(Option<u16>),
    Reset,
    Help,
}

/// Why a line was refused. Tokens are only echoed once the line is known to be short
/// printable ASCII, so an error never sends control sequences to the terminal.
#[derive(Debug, PartialEq, Eq)]
enum Error<'a> {
    Empty,
    TooLong(usize),
    NotText,
    Unknown(&'a str),
    NotSwitches(&'a str),
    TooManySwitches(usize),
    NotHex(&'a str, &'static str),
    TooBig(&'a str, u16, &'static str),
    BadCount(&'a str, &'static str),
    TooManyArgs(&'static str),
}

impl Display for Error<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HINT: &str = "type ? for the list of commands";
        f.write_str("error: ")?;
        match *self {
            Error::Empty => write!(f, "empty line; {HINT}"),
            Error::TooLong(len) => write!(
                f,
                "the line is {len} characters long, at most {MAX_LINE_LEN} fit; {HINT}"
            ),
            Error::NotText => write!(f, "only printable ASCII is understood here; {HINT}"),
            Error::Unknown(token) => write!(f, "unknown command '{}'; {HINT}", Shown(token)),
            Error::NotSwitches(token) => write!(
                f,
                "'{}' is not a switch setting; give 1 to 16 of 0 and 1, e.g. 00111110",
                Shown(token)
            ),
            Error::TooManySwitches(count) => write!(
                f,
                "{count} switches given but the panel has 16; give 1 to 16 of 0 and 1"
            ),
            Error::NotHex(token, usage) => {
                write!(f, "'{}' is not a hex number; usage: {usage}", Shown(token))
            }
            Error::TooBig(token, max, usage) => {
                write!(f, "'{}' is more than {max:X}; usage: {usage}", Shown(token))
            }
            Error::BadCount(token, usage) => write!(
                f,
                "count '{}' must be hex 1 to {MAX_REPEAT:X} (16 at most); usage: {usage}",
                Shown(token)
            ),
            Error::TooManyArgs(usage) => write!(f, "too many arguments; usage: {usage}"),
        }
    }
}

/// A token as echoed in an error: at most 16 characters, then `...`.
struct Shown<'a>(&'a str);

impl Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 16;
        match self.0.get(..MAX) {
            Some(head) if self.0.len() > MAX => write!(f, "{head}..."),
            _ => f.write_str(self.0),
        }
    }
}

/// Usage strings, quoted in errors.
mod usage {
    pub const E: &str = "E [addr], e.g. E 0100";
    pub const EN: &str = "EN [count], e.g. EN 8";
    pub const D: &str = "D [byte] or D addr byte... (at most 16 bytes), e.g. D 0100 3E 07";
    pub const DN: &str = "DN [byte...] (at most 16 bytes), e.g. DN 3E";
    pub const S: &str = "S [count], e.g. S 4";
    pub const R: &str = "R";
    pub const G: &str = "G [addr], e.g. G 0100";
    pub const RESET: &str = "RESET";
    pub const SW: &str = "SW [hex], e.g. SW 0F00";
    pub const HELP: &str = "? or HELP";
}

/// Parses one line without touching the machine.
fn parse(line: &str) -> Result<Command, Error<'_>> {
    let line = line.trim_matches(|c: char| c.is_ascii_whitespace());
    if line.is_empty() {
        return Err(Error::Empty);
    }
    if line.len() > MAX_LINE_LEN {
        return Err(Error::TooLong(line.len()));
    }
    if !line
        .bytes()
        .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
    {
        return Err(Error::NotText);
    }
    let mut words = line.split_ascii_whitespace().peekable();
    let Some(name) = words.next() else {
        return Err(Error::Empty);
    };

    if name.bytes().all(|b| b == b'0' || b == b'1') {
        if name.len() > 16 {
            return Err(Error::TooManySwitches(name.len()));
        }
        let value = name
            .bytes()
            .fold(0u16, |acc, b| (acc << 1) | u16::from(b == b'1'));
        Args::new(words, "a string of 1 to 16 of 0 and 1, e.g. 00111110").end()?;
        return Ok(Command::SetSwitches(value));
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(Error::NotSwitches(name));
    }

    let is = |word: &str| name.eq_ignore_ascii_case(word);
    let command = if is("E") {
        let mut args = Args::new(words, usage::E);
        let at = args.address()?;
        args.end()?;
        Command::Examine(at)
    } else if is("EN") {
        let mut args = Args::new(words, usage::EN);
        let count = args.count()?;
        args.end()?;
        Command::ExamineNext(count)
    } else if is("D") {
        let mut args = Args::new(words, usage::D);
        match args.next() {
            None => Command::Deposit {
                at: None,
                bytes: Bytes::new(),
            },
            Some(first) if args.is_empty() => {
                let mut bytes = Bytes::new();
                bytes
                    .push(args.byte(first)?)
                    .map_err(|_| Error::TooManyArgs(usage::D))?;
                Command::Deposit { at: None, bytes }
            }
            Some(first) => Command::Deposit {
                at: Some(args.hex(first, 0xFFFF)?),
                bytes: args.bytes()?,
            },
        }
    } else if is("DN") {
        let mut args = Args::new(words, usage::DN);
        Command::DepositNext(args.bytes()?)
    } else if is("S") {
        let mut args = Args::new(words, usage::S);
        let count = args.count()?;
        args.end()?;
        Command::Step(count)
    } else if is("R") || is("REG") {
        Args::new(words, usage::R).end()?;
        Command::Registers
    } else if is("G") {
        let mut args = Args::new(words, usage::G);
        let at = args.address()?;
        args.end()?;
        Command::Go(at)
    } else if is("RESET") {
        Args::new(words, usage::RESET).end()?;
        Command::Reset
    } else if is("SW") {
        let mut args = Args::new(words, usage::SW);
        let value = args.address()?;
        args.end()?;
        value.map_or(Command::ShowSwitches, Command::SetSwitches)
    } else if is("?") || is("HELP") {
        Args::new(words, usage::HELP).end()?;
        Command::Help
    } else {
        return Err(Error::Unknown(name));
    };
    Ok(command)
}

/// The arguments after a command name, with the usage to quote when they are wrong.
struct Args<'a> {
    words: Peekable<SplitAsciiWhitespace<'a>>,
    usage: &'static str,
}

impl<'a> Args<'a> {
    fn new(words: Peekable<SplitAsciiWhitespace<'a>>, usage: &'static str) -> Self {
        Args { words, usage }
    }

    fn next(&mut self) -> Option<&'a str> {
        self.words.next()
    }

    fn is_empty(&mut self) -> bool {
        self.words.peek().is_none()
    }

    /// Fails if any argument is left.
    fn end(mut self) -> Result<(), Error<'a>> {
        match self.next() {
            None => Ok(()),
            Some(_) => Err(Error::TooManyArgs(self.usage)),
        }
    }

    /// An optional address.
    fn address(&mut self) -> Result<Option<u16>, Error<'a>> {
        self.next().map(|word| self.hex(word, 0xFFFF)).transpose()
    }

    /// An optional repeat count, 1 when absent.
    fn count(&mut self) -> Result<u8, Error<'a>> {
        let Some(word) = self.next() else {
            return Ok(1);
        };
        match parse_hex(word, 0xFF) {
            Some(Ok(n)) if (1..=MAX_REPEAT).contains(&usize::from(n)) => {
                u8::try_from(n).map_err(|_| Error::BadCount(word, self.usage))
            }
            _ => Err(Error::BadCount(word, self.usage)),
        }
    }

    /// Every remaining argument as a byte, at most [`MAX_REPEAT`] of them.
    fn bytes(&mut self) -> Result<Bytes, Error<'a>> {
        let mut bytes = Bytes::new();
        while let Some(word) = self.next() {
            let byte = self.byte(word)?;
            bytes
                .push(byte)
                .map_err(|_| Error::TooManyArgs(self.usage))?;
        }
        Ok(bytes)
    }

    fn byte(&self, word: &'a str) -> Result<u8, Error<'a>> {
        let value = self.hex(word, 0xFF)?;
        u8::try_from(value).map_err(|_| Error::TooBig(word, 0xFF, self.usage))
    }

    fn hex(&self, word: &'a str, max: u16) -> Result<u16, Error<'a>> {
        match parse_hex(word, max) {
            Some(Ok(value)) => Ok(value),
            Some(Err(())) => Err(Error::TooBig(word, max, self.usage)),
            None => Err(Error::NotHex(word, self.usage)),
        }
    }
}

/// Parses hex digits with an optional `0x` prefix or `H` suffix: `None` if it is not hex,
/// `Some(Err(()))` if it is more than `max`.
fn parse_hex(word: &str, max: u16) -> Option<Result<u16, ()>> {
    let digits = word
        .strip_prefix("0x")
        .or_else(|| word.strip_prefix("0X"))
        .or_else(|| word.strip_suffix(['h', 'H']))
        .unwrap_or(word);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut value: u32 = 0;
    for c in digits.chars() {
        value = value * 16 + c.to_digit(16)?;
        if value > u32::from(max) {
            return Some(Err(()));
        }
    }
    Some(u16::try_from(value).map_err(|_| ()))
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::platform::NoStorage;
    use std::boxed::Box;
    use std::string::String;
    use std::vec::Vec;

    type Machine = Altair<NoStorage>;

    fn machine() -> Box<Machine> {
        Box::new(Altair::new())
    }

    /// Runs one line; returns the reply and what the monitor said to do.
    fn run(monitor: &mut Monitor, altair: &mut Machine, line: &str) -> (String, Reply) {
        let mut out = String::new();
        let reply = monitor.command(altair, line, &mut out);
        assert_well_formed(line, &out);
        (out, reply)
    }

    /// Runs one line that must stay in the monitor and returns the reply.
    fn say(monitor: &mut Monitor, altair: &mut Machine, line: &str) -> String {
        let (out, reply) = run(monitor, altair, line);
        assert_eq!(reply, Reply::Stay, "{line:?}");
        out
    }

    /// Every reply is non-empty printable ASCII in CR LF-terminated lines and fits in
    /// MAX_REPLY_LEN.
    fn assert_well_formed(line: &str, out: &str) {
        assert!(out.ends_with(EOL), "{line:?} -> {out:?}");
        assert!(
            out.len() <= MAX_REPLY_LEN,
            "{line:?} -> {} bytes",
            out.len()
        );
        for text in out.split_terminator(EOL) {
            assert!(
                text.bytes().all(|b| b == b' ' || b.is_ascii_graphic()),
                "{line:?} -> {out:?}"
            );
        }
    }

    fn lines(out: &str) -> Vec<&str> {
        out.split_terminator(EOL).collect()
    }

    /// Everything a command could change.
    fn snapshot(monitor: &Monitor, altair: &Machine) -> (Monitor, Cpu, u16, Vec<u8>) {
        (
            *monitor,
            altair.cpu,
            altair.devices.switches,
            altair.devices.memory.bytes().to_vec(),
        )
    }

    #[test]
    fn switch_strings_set_the_switches_right_aligned() {
        let (mut m, mut a) = (Monitor::new(), machine());
        let out = say(&mut m, &mut a, "0000000100111110");
        assert_eq!(a.devices.switches, 0x013E);
        assert_eq!(
            out,
            "switches 013E  00000001 00111110  low byte: MVI (2 bytes)\r\n"
        );
        say(&mut m, &mut a, "1111111111111111");
        assert_eq!(a.devices.switches, 0xFFFF);
        // A short string sets the low switches and clears the rest.
        say(&mut m, &mut a, "101");
        assert_eq!(a.devices.switches, 0x0005);
        say(&mut m, &mut a, "1");
        assert_eq!(a.devices.switches, 0x0001);
        say(&mut m, &mut a, "  0  ");
        assert_eq!(a.devices.switches, 0);
        // The sense switches reach the guest through IN 0FFH.
        say(&mut m, &mut a, "SW A500");
        assert_eq!(a.devices.switches, 0xA500);
        let out = say(&mut m, &mut a, "sw");
        assert_eq!(
            out,
            "switches A500  10100101 00000000  low byte: NOP (1 byte)\r\n"
        );
        // Setting switches never touches memory or the address register.
        assert_eq!(m.address(), 0);
        assert!(a.devices.memory.bytes().iter().all(|&b| b == 0));
    }

    #[test]
    fn toggling_a_program_in_works_like_the_panel() {
        let (mut m, mut a) = (Monitor::new(), machine());
        // Address 0: switches to 0, EXAMINE.
        say(&mut m, &mut a, "0000000000000000");
        let out = say(&mut m, &mut a, "E");
        assert_eq!(out, "0000 00000000 00000000  00 00000000  NOP\r\n");
        // MVI A,07H: DEPOSIT 3E, DEPOSIT NEXT 07.
        say(&mut m, &mut a, "00111110");
        let out = say(&mut m, &mut a, "D");
        assert_eq!(out, "0000 00000000 00000000  3E 00111110  MVI  A,00H\r\n");
        say(&mut m, &mut a, "00000111");
        let out = say(&mut m, &mut a, "DN");
        assert_eq!(out, "0001 00000000 00000001  07 00000111  RLC\r\n");
        assert_eq!(m.address(), 1);
        assert_eq!(&a.devices.memory.bytes()[..3], &[0x3E, 0x07, 0x00]);
        // Back to 0: EXAMINE shows the deposit, EXAMINE NEXT the byte after it.
        say(&mut m, &mut a, "0");
        let out = say(&mut m, &mut a, "E");
        assert_eq!(out, "0000 00000000 00000000  3E 00111110  MVI  A,07H\r\n");
        let out = say(&mut m, &mut a, "EN");
        assert_eq!(out, "0001 00000000 00000001  07 00000111  RLC\r\n");
        let out = say(&mut m, &mut a, "en");
        assert_eq!(out, "0002 00000000 00000010  00 00000000  NOP\r\n");
        // EXAMINE takes all 16 switches as the address.
        say(&mut m, &mut a, "1000000000000001");
        let out = say(&mut m, &mut a, "E");
        assert!(out.starts_with("8001 10000000 00000001  00 "), "{out}");
        // EXAMINE NEXT wraps at the top of memory.
        say(&mut m, &mut a, "E FFFF");
        let out = say(&mut m, &mut a, "EN");
        assert!(out.starts_with("0000 00000000 00000000  3E "), "{out}");
        assert_eq!(m.address(), 0);
    }

    #[test]
    fn single_step_executes_one_instruction_and_shows_the_new_pc() {
        let (mut m, mut a) = (Monitor::new(), machine());
        say(&mut m, &mut a, "D 0000 3E 07 3C");
        assert_eq!(a.cpu.pc, 0);
        let out = say(&mut m, &mut a, "S");
        assert_eq!(a.cpu.a, 7);
        assert_eq!(a.cpu.pc, 2);
        assert_eq!(a.cpu.instructions, 1);
        assert_eq!(m.address(), 2);
        assert_eq!(out, "0002 00000000 00000010  3C 00111100  INR  A\r\n");
        let out = say(&mut m, &mut a, "s 2");
        assert_eq!(a.cpu.a, 8);
        assert_eq!(lines(&out).len(), 2);
        assert!(lines(&out)[1].starts_with("0004 "), "{out}");
        assert_eq!(m.address(), 4);
    }

    #[test]
    fn stepping_a_halted_cpu_says_so() {
        let (mut m, mut a) = (Monitor::new(), machine());
        say(&mut m, &mut a, "D 0 00 76");
        // Stepping stops at the HLT and says why.
        let out = say(&mut m, &mut a, "S 4");
        assert!(a.cpu.halted);
        assert_eq!(a.cpu.instructions, 2);
        assert_eq!(
            lines(&out),
            [
                "0001 00000000 00000001  76 01110110  HLT",
                "0002 00000000 00000010  00 00000000  NOP",
                "note: the CPU halted; G addr or RESET restarts it",
            ]
        );
        // Stepping again runs nothing.
        let out = say(&mut m, &mut a, "S");
        assert_eq!(
            out,
            "note: the CPU is halted at PC=0002 and nothing ran; G addr or RESET restarts it\r\n"
        );
        assert_eq!(a.cpu.instructions, 2);
        // G without an address resumes a halted CPU, which waits for an interrupt.
        let (out, reply) = run(&mut m, &mut a, "G");
        assert_eq!(reply, Reply::Run);
        assert_eq!(
            out,
            "RUN from PC=0002 (halted: it waits for an interrupt)\r\n"
        );
        // G with an address wakes it.
        let (out, reply) = run(&mut m, &mut a, "G 0");
        assert_eq!(reply, Reply::Run);
        assert!(!a.cpu.halted);
        assert_eq!(out, "RUN from PC=0000\r\n");
    }

    #[test]
    fn hex_conveniences() {
        let (mut m, mut a) = (Monitor::new(), machine());
        say(&mut m, &mut a, "SW 1234");
        // E addr leaves the switches alone.
        let out = say(&mut m, &mut a, "E 0100");
        assert_eq!(m.address(), 0x0100);
        assert_eq!(a.devices.switches, 0x1234);
        assert!(out.starts_with("0100 00000001 00000000  00 "), "{out}");
        // D addr bytes...: one panel line per byte, the register ends on the last.
        let out = say(&mut m, &mut a, "D 0200 21 34 12");
        assert_eq!(&a.devices.memory.bytes()[0x200..0x203], &[0x21, 0x34, 0x12]);
        assert_eq!(m.address(), 0x0202);
        assert_eq!(
            lines(&out),
            [
                "0200 00000010 00000000  21 00100001  LXI  H,1234H",
                "0201 00000010 00000001  34 00110100  INR  M",
                "0202 00000010 00000010  12 00010010  STAX D",
            ]
        );
        // D byte: at the address register, which stays.
        say(&mut m, &mut a, "D 55");
        assert_eq!(a.devices.memory.read(0x0202), 0x55);
        assert_eq!(m.address(), 0x0202);
        // DN bytes...: each at the next address.
        let out = say(&mut m, &mut a, "DN 01 02");
        assert_eq!(&a.devices.memory.bytes()[0x203..0x205], &[0x01, 0x02]);
        assert_eq!(m.address(), 0x0204);
        assert_eq!(lines(&out).len(), 2);
        // EN count.
        let out = say(&mut m, &mut a, "E 0200");
        assert!(out.starts_with("0200 "));
        let out = say(&mut m, &mut a, "EN 3");
        assert_eq!(lines(&out).len(), 3);
        assert_eq!(m.address(), 0x0203);
        // Case, tabs, extra spaces, CR LF, 0x prefixes and H suffixes.
        say(&mut m, &mut a, " \td\t0x300   3e  0C9H \r\n");
        assert_eq!(&a.devices.memory.bytes()[0x300..0x302], &[0x3E, 0xC9]);
        say(&mut m, &mut a, "e 0C300H");
        assert_eq!(m.address(), 0xC300);
        // The most bytes one D takes.
        let out = say(&mut m, &mut a, "D 1000 1 2 3 4 5 6 7 8 9 A B C D E F 10");
        assert_eq!(lines(&out).len(), MAX_REPEAT);
        assert_eq!(a.devices.memory.read(0x100F), 0x10);
        // Deposits wrap at the top of memory.
        say(&mut m, &mut a, "D FFFF AA BB");
        assert_eq!(a.devices.memory.read(0xFFFF), 0xAA);
        assert_eq!(a.devices.memory.read(0x0000), 0xBB);
        assert_eq!(m.address(), 0);
    }

    #[test]
    fn deposits_into_rom_are_ignored_and_reported() {
        let (mut m, mut a) = (Monitor::new(), machine());
        a.load_rom(0xFF00, &[0xAB; 0x100]).unwrap();
        let out = say(&mut m, &mut a, "D FF00 00");
        assert_eq!(a.devices.memory.read(0xFF00), 0xAB);
        assert_eq!(
            lines(&out),
            [
                "FF00 11111111 00000000  AB 10101011  XRA  E",
                "note: that address is ROM; the byte was not written",
            ]
        );
        let out = say(&mut m, &mut a, "D FEFF 11 22 33");
        assert_eq!(a.devices.memory.read(0xFEFF), 0x11);
        assert!(
            out.ends_with("note: 2 of those addresses are ROM; their bytes were not written\r\n")
        );
    }

    #[test]
    fn registers_show_every_register_and_flag() {
        let (mut m, mut a) = (Monitor::new(), machine());
        say(&mut m, &mut a, "D 0 3E 07");
        say(&mut m, &mut a, "S");
        a.cpu.b = 0x12;
        a.cpu.sp = 0xF000;
        a.cpu.f = flags::Z | flags::CY;
        let out = say(&mut m, &mut a, "R");
        assert_eq!(
            lines(&out),
            [
                "A=07 F=43 B=12 C=00 D=00 E=00 H=00 L=00 SP=F000 PC=0002",
                "flags S=0 Z=1 AC=0 P=0 CY=1  INTE=0 HALT=0  cycles=7 instructions=1",
            ]
        );
        assert_eq!(say(&mut m, &mut a, "reg"), out);
        // Showing registers changes nothing.
        assert_eq!(m.address(), 2);
    }

    #[test]
    fn go_returns_run_and_sets_pc() {
        let (mut m, mut a) = (Monitor::new(), machine());
        let (out, reply) = run(&mut m, &mut a, "G 0100");
        assert_eq!(reply, Reply::Run);
        assert_eq!(a.cpu.pc, 0x0100);
        assert_eq!(out, "RUN from PC=0100\r\n");
        // Without an address it resumes where PC is; examining memory does not move it.
        say(&mut m, &mut a, "E 2000");
        let (out, reply) = run(&mut m, &mut a, "g");
        assert_eq!(reply, Reply::Run);
        assert_eq!(a.cpu.pc, 0x0100);
        assert_eq!(out, "RUN from PC=0100\r\n");
        // A bad G stays.
        let (out, reply) = run(&mut m, &mut a, "G 12345");
        assert_eq!(reply, Reply::Stay);
        assert!(out.starts_with("error: "));
        assert_eq!(a.cpu.pc, 0x0100);
    }

    #[test]
    fn reset_restarts_at_zero_and_keeps_memory() {
        let (mut m, mut a) = (Monitor::new(), machine());
        say(&mut m, &mut a, "D 0 3E 07");
        say(&mut m, &mut a, "S");
        a.cpu.inte = true;
        let out = say(&mut m, &mut a, "RESET");
        assert_eq!(a.cpu.pc, 0);
        assert!(!a.cpu.inte);
        assert_eq!(m.address(), 0);
        assert_eq!(a.devices.memory.read(0), 0x3E);
        assert_eq!(
            lines(&out),
            [
                "RESET: PC=0000, interrupts off, devices cleared; memory kept",
                "0000 00000000 00000000  3E 00111110  MVI  A,07H",
            ]
        );
    }

    #[test]
    fn enter_shows_pc_and_moves_the_address_register_there() {
        let (mut m, mut a) = (Monitor::new(), machine());
        a.cpu.pc = 0x0100;
        let mut out = String::new();
        m.enter(&a, &mut out);
        assert_eq!(m.address(), 0x0100);
        assert_eq!(
            lines(&out),
            [
                "MONITOR: CPU stopped at PC=0100; ? lists the commands, G runs",
                "0100 00000001 00000000  00 00000000  NOP",
            ]
        );
    }

    #[test]
    fn help_lists_every_command() {
        let (mut m, mut a) = (Monitor::new(), machine());
        let out = say(&mut m, &mut a, "?");
        assert_eq!(say(&mut m, &mut a, "help"), out);
        for command in [
            "E [addr]", "EN", "D [byte]", "DN", "S [n]", "REG", "G", "RESET", "SW",
        ] {
            assert!(out.contains(command), "{command}");
        }
        assert!(lines(&out).iter().all(|line| line.len() <= 80));
    }

    #[test]
    fn bad_input_gets_one_error_line_and_changes_nothing() {
        let (mut m, mut a) = (Monitor::new(), machine());
        say(&mut m, &mut a, "D 0 3E 07");
        say(&mut m, &mut a, "S");
        say(&mut m, &mut a, "0101");
        let long = "E".repeat(10 * 1024);
        let seventeen = "1".repeat(17);
        let bad: &[(&str, &str)] = &[
            ("E ZZZZ", "'ZZZZ' is not a hex number; usage: E [addr]"),
            ("10201", "'10201' is not a switch setting"),
            (&seventeen, "17 switches given but the panel has 16"),
            ("", "empty line"),
            (" \t\r\n", "empty line"),
            (&long, "the line is 10240 characters long, at most 80 fit"),
            ("E é", "only printable ASCII"),
            ("Ë", "only printable ASCII"),
            ("\u{1b}[2J", "only printable ASCII"),
            ("E\0", "only printable ASCII"),
            ("E 01\r00", "only printable ASCII"),
            ("FOO", "unknown command 'FOO'"),
            (
                "EXAMINEEXAMINEEXAMINE",
                "unknown command 'EXAMINEEXAMINEEX...'",
            ),
            ("E 10000", "'10000' is more than FFFF"),
            ("E 0100 0200", "too many arguments; usage: E [addr]"),
            ("E 0x", "'0x' is not a hex number"),
            ("E H", "'H' is not a hex number"),
            (
                "D 0100",
                "'0100' is more than FF; usage: D [byte] or D addr byte...",
            ),
            ("D 1FF", "'1FF' is more than FF"),
            ("D 0100 3E ZZ", "'ZZ' is not a hex number"),
            ("D 0100 3E 100", "'100' is more than FF"),
            (
                "D 0 1 2 3 4 5 6 7 8 9 A B C D E F 10 11",
                "too many arguments",
            ),
            (
                "DN 1 2 3 4 5 6 7 8 9 A B C D E F 10 11",
                "too many arguments",
            ),
            ("DN G", "'G' is not a hex number"),
            ("EN 0", "count '0' must be hex 1 to 10"),
            ("EN 11", "count '11' must be hex 1 to 10"),
            ("EN -1", "count '-1' must be hex 1 to 10"),
            ("S 0", "count '0' must be hex 1 to 10"),
            ("S 1 2", "too many arguments; usage: S [count]"),
            ("R 1", "too many arguments; usage: R"),
            ("RESET NOW", "too many arguments; usage: RESET"),
            ("G 0 1", "too many arguments"),
            ("SW 10000", "'10000' is more than FFFF"),
            (
                "0101 0101",
                "too many arguments; usage: a string of 1 to 16",
            ),
            ("3E", "'3E' is not a switch setting"),
            ("? me", "too many arguments"),
        ];
        for &(line, expected) in bad {
            let before = snapshot(&m, &a);
            let (out, reply) = run(&mut m, &mut a, line);
            assert_eq!(reply, Reply::Stay, "{line:?}");
            assert!(out.starts_with("error: "), "{line:?} -> {out:?}");
            assert!(out.contains(expected), "{line:?} -> {out:?}");
            assert_eq!(lines(&out).len(), 1, "{line:?} -> {out:?}");
            assert!(out.len() <= 2 + MAX_LINE_LEN + 60, "{line:?} -> {out:?}");
            assert!(snapshot(&m, &a) == before, "{line:?} changed the machine");
        }
    }

    #[test]
    fn raw_bytes_are_checked() {
        let (mut m, mut a) = (Monitor::new(), machine());
        let mut out = String::new();
        let reply = m.command_bytes(&mut a, b"E \xFF\xFE", &mut out);
        assert_eq!(reply, Reply::Stay);
        assert!(out.starts_with("error: only printable ASCII"), "{out}");
        assert!(out.ends_with(EOL));
        let mut out = String::new();
        let _ = m.command_bytes(&mut a, b"E 0100\r", &mut out);
        assert_eq!(m.address(), 0x0100);
    }

    #[test]
    fn replies_fit_the_documented_bound() {
        let (mut m, mut a) = (Monitor::new(), machine());
        a.load_rom(0xFF00, &[0xFF; 0x100]).unwrap();
        for line in [
            "HELP",
            "EN 10",
            "S 10",
            "R",
            "D FF00 1 2 3 4 5 6 7 8 9 A B C D E F 10",
            "DN 1 2 3 4 5 6 7 8 9 A B C D E F 10",
            "D 0 21 FF FF 21 FF FF 21 FF FF 21 FF FF 21 FF FF 21",
        ] {
            let mut out: heapless::String<MAX_REPLY_LEN> = heapless::String::new();
            let _ = m.command(&mut a, line, &mut out);
            assert_well_formed(line, &out);
        }
        // The longest panel line: 3-byte instruction with the widest operand.
        say(&mut m, &mut a, "D 0 31 FF FF");
        let out = say(&mut m, &mut a, "E 0");
        assert_eq!(
            out,
            "0000 00000000 00000000  31 00110001  LXI  SP,0FFFFH\r\n"
        );
    }

    #[test]
    fn a_full_output_buffer_cuts_the_reply_not_the_command() {
        let (mut m, mut a) = (Monitor::new(), machine());
        let mut out: heapless::String<8> = heapless::String::new();
        let _ = m.command(&mut a, "D 0100 3E 07 3C", &mut out);
        assert_eq!(&a.devices.memory.bytes()[0x100..0x103], &[0x3E, 0x07, 0x3C]);
        assert_eq!(m.address(), 0x0102);
        let mut out: heapless::String<0> = heapless::String::new();
        let reply = m.command(&mut a, "G 0100", &mut out);
        assert_eq!(reply, Reply::Run);
        assert_eq!(a.cpu.pc, 0x0100);
    }

    #[test]
    fn arbitrary_lines_never_panic() {
        // A fixed xorshift generator: random bytes, and random mixes of command words.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let words = [
            "E", "EN", "D", "DN", "S", "R", "REG", "G", "RESET", "SW", "?", "HELP", "0", "1",
            "0101", "FFFF", "10000", "0x", "H", "0C9H", "10", "11", "ZZ", "\t", "  ", "é", "\r",
        ];
        let (mut m, mut a) = (Monitor::new(), machine());
        for round in 0..20_000 {
            let len = (next() % 40) as usize;
            let mut out = String::new();
            if round % 2 == 0 {
                let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                let _ = m.command_bytes(&mut a, &bytes, &mut out);
            } else {
                let mut line = String::new();
                for _ in 0..len % 8 {
                    line.push_str(words[(next() % words.len() as u64) as usize]);
                    line.push(' ');
                }
                let _ = m.command(&mut a, &line, &mut out);
            }
            assert!(out.ends_with(EOL), "{out:?}");
            assert!(out.len() <= MAX_REPLY_LEN);
        }
    }
}
