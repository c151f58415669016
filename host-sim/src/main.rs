//! `host-sim`: the Altair 8800 firmware core on a laptop.
//!
//! - `host-sim com FILE.COM [--stats]`: run a CP/M test program on the bare 8080.
//! - `host-sim run [--disk A=PATH]... [--rom ADDR=PATH]... [--basic PATH] [--mhz F]`:
//!   the Altair on your terminal.

use std::path::PathBuf;
use std::process::ExitCode;

use altair_firmware::cpm_com::Status;
use altair_firmware::machine::{Altair, DISK_BOOT_ROM};
use clap::{Parser, Subcommand};
use host_sim::file_disk::FileDisk;
use host_sim::machine_loop::{Ending, Session};
use host_sim::{com, media};

#[derive(Parser)]
#[command(
    name = "host-sim",
    version,
    about = "The Altair 8800 firmware core on a laptop"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a CP/M .COM test program (BDOS print calls only) and print its console output.
    Com {
        /// The program, loaded at 0x0100.
        file: PathBuf,
        /// Print `instructions=N cycles=M` on stderr at the end.
        #[arg(long)]
        stats: bool,
    },
    /// Run the Altair with its console on this terminal (Ctrl-] opens the monitor).
    Run {
        /// Attach a disk image: A=PATH (drives A to D).
        #[arg(long = "disk", value_name = "DRIVE=PATH", value_parser = parse_disk)]
        disks: Vec<(usize, PathBuf)>,
        /// Load a ROM image at an address: ADDR=PATH (hex, e.g. 0xFF00=88dskrom.bin).
        #[arg(long = "rom", value_name = "ADDR=PATH", value_parser = parse_rom)]
        roms: Vec<(u16, PathBuf)>,
        /// Load 8K BASIC at 0x0000 and start there.
        #[arg(long, value_name = "PATH")]
        basic: Option<PathBuf>,
        /// Run at this clock rate in MHz (2 is the original Altair); default: flat out.
        #[arg(long, value_name = "F")]
        mhz: Option<f64>,
        /// At exit, print instructions, states, wall time and effective MHz on stderr.
        #[arg(long)]
        stats: bool,
    },
}

fn parse_disk(s: &str) -> Result<(usize, PathBuf), String> {
    let (drive, path) = s
        .split_once('=')
        .ok_or("expected DRIVE=PATH, e.g. A=cpm63k.dsk")?;
    let drive = match drive.to_ascii_uppercase().as_str() {
        "A" | "0" => 0,
        "B" | "1" => 1,
        "C" | "2" => 2,
        "D" | "3" => 3,
        other => return Err(format!("drive {other:?}: expected A, B, C or D")),
    };
    Ok((drive, PathBuf::from(path)))
}

fn parse_rom(s: &str) -> Result<(u16, PathBuf), String> {
    let (addr, path) = s
        .split_once('=')
        .ok_or("expected ADDR=PATH, e.g. 0xFF00=88dskrom.bin")?;
    let digits = addr
        .trim_start_matches("0x")
        .trim_start_matches("0X")
        .trim_end_matches(['h', 'H']);
    let addr = u16::from_str_radix(digits, 16)
        .map_err(|_| format!("address {addr:?}: expected hex 0000-FFFF"))?;
    Ok((addr, PathBuf::from(path)))
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .target(env_logger::Target::Stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Com { file, stats } => run_com(&file, stats),
        Command::Run {
            disks,
            roms,
            basic,
            mhz,
            stats,
        } => run_machine(disks, roms, basic, mhz, stats),
    };
    result.unwrap_or_else(|message| {
        eprintln!("host-sim: {message}");
        ExitCode::from(2)
    })
}

fn run_com(file: &std::path::Path, stats: bool) -> Result<ExitCode, String> {
    let result = com::run_file(file, &mut std::io::stdout())?;
    if stats {
        eprintln!(
            "instructions={} cycles={}",
            result.instructions, result.cycles
        );
    }
    match result.status {
        Status::Finished => Ok(ExitCode::SUCCESS),
        Status::Stuck { pc } => {
            eprintln!("host-sim: the program halted at {pc:04X}H with interrupts disabled");
            Ok(ExitCode::from(1))
        }
        Status::Running => unreachable!("run_file returns only once the program has ended"),
    }
}

fn run_machine(
    disks: Vec<(usize, PathBuf)>,
    mut roms: Vec<(u16, PathBuf)>,
    basic: Option<PathBuf>,
    mhz: Option<f64>,
    stats: bool,
) -> Result<ExitCode, String> {
    if let Some(m) = mhz
        && !(m.is_finite() && m > 0.0)
    {
        return Err(format!("--mhz {m}: expected a clock rate above 0"));
    }
    let mut altair: Box<Altair<FileDisk>> = Box::default();
    let mut disks = disks;
    if disks.is_empty() && roms.is_empty() && basic.is_none() {
        if let Some((rom, disk)) = media::find_cpm() {
            eprintln!(
                "host-sim: booting {} with {}",
                disk.display(),
                rom.display()
            );
            roms.push((DISK_BOOT_ROM, rom));
            disks.push((0, disk));
        }
    } else if !disks.is_empty() && roms.is_empty() && basic.is_none() {
        let rom = media::find(media::BOOT_ROM).ok_or_else(|| {
            format!(
                "a disk needs the boot ROM: pass --rom 0xFF00=PATH/{} or put it in ./disks",
                media::BOOT_ROM
            )
        })?;
        roms.push((DISK_BOOT_ROM, rom));
    }
    for (drive, path) in &disks {
        let disk = FileDisk::open(path).map_err(|e| e.to_string())?;
        if !disk.is_writable() {
            eprintln!(
                "host-sim: {} is read-only; drive {}'s writes last until host-sim exits",
                path.display(),
                (b'A' + *drive as u8) as char
            );
        }
        altair.devices.disks.attach(*drive, disk);
    }
    let mut start = None;
    for (addr, path) in &roms {
        let image =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        altair
            .load_rom(*addr, &image)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        start.get_or_insert(*addr);
    }
    if let Some(path) = &basic {
        let image =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        // 8K BASIC rewrites itself as it starts (it trims the functions you decline), so
        // it goes in RAM, as when loaded from tape.
        altair
            .load(0, &image)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        start = Some(0);
    }
    let start_in_monitor = start.is_none();
    if start_in_monitor {
        eprintln!("host-sim: {}", media::HOW_TO_ATTACH);
    }
    altair.cpu.pc = start.unwrap_or(0);
    let session = Session::new(altair, mhz, start_in_monitor);
    let (ending, counters) = session.run().map_err(|e| format!("terminal: {e}"))?;
    if stats {
        eprintln!("{counters}");
    }
    match ending {
        Ending::Quit | Ending::InputDone => Ok(ExitCode::SUCCESS),
        Ending::Halted => Ok(ExitCode::from(3)),
    }
}
