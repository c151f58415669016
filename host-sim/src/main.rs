//! `host-sim`: the Altair 8800 firmware core on a laptop.
//!
//! - `host-sim com FILE.COM [--stats]`: run a CP/M test program on the bare 8080.
//! - `host-sim run [--disk A=PATH]... [--rom ADDR=PATH]... [--basic PATH] [--mhz F]`:
//!   the Altair on your terminal.
//! - `host-sim mqtt [--broker HOST[:PORT]] [--channel CH] [--ca F --cert F --key F] [--disk A=mqtt] ...`:
//!   the Altair with its terminal on an MQTT broker over mutual TLS, as the device.

use std::path::PathBuf;
use std::process::ExitCode;

use altair_firmware::cpm_com::{Status, bdos_function_name};
use altair_firmware::session::{EchoSuppression, Options};
use altair_firmware::vdisk::{self, VirtualDisk};
use altair_sphere::config::{CHANNEL, MQTT_HOST, MQTT_PORT};
use clap::{Args, Parser, Subcommand, ValueEnum};
use host_sim::com;
use host_sim::machine_loop::{Ending, Session};
use host_sim::mqtt_mode::{self, MqttConfig, Pki};
use host_sim::setup::{self, Media};

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
    /// Run a CP/M .COM test program (BDOS console output only) and print its console output.
    Com {
        /// The program, loaded at 0x0100.
        file: PathBuf,
        /// Print `instructions=N cycles=M` on stderr at the end.
        #[arg(long)]
        stats: bool,
    },
    /// Run the Altair with its console on this terminal (Ctrl-] opens the monitor).
    Run {
        #[command(flatten)]
        machine: MachineArgs,
        /// At exit, print instructions, states, wall time and effective MHz on stderr.
        #[arg(long)]
        stats: bool,
    },
    /// Run the Altair with its terminal on an MQTT broker over mutual TLS, as the device
    /// does: output on altair/CH/web, input from altair/CH/dev, dev/ctrl and dev/paste.
    Mqtt {
        /// The broker: HOST[:PORT], a DNS name its certificate carries. Default: the
        /// build's configuration.
        #[arg(long, value_name = "HOST[:PORT]", value_parser = parse_broker)]
        broker: Option<(String, u16)>,
        /// The channel (topics altair/CH/...). Default: the build's configuration.
        #[arg(long, value_name = "CH")]
        channel: Option<String>,
        /// The CA certificate (PEM) the broker's certificate must chain to, instead of
        /// the one baked in at build time.
        #[arg(long, value_name = "FILE", requires_all = ["cert", "key"])]
        ca: Option<PathBuf>,
        /// The device certificate (PEM), instead of the baked one.
        #[arg(long, value_name = "FILE", requires_all = ["ca", "key"])]
        cert: Option<PathBuf>,
        /// The device's private key (PEM), instead of the baked one.
        #[arg(long, value_name = "FILE", requires_all = ["ca", "cert"])]
        key: Option<PathBuf>,
        /// Skip the guest's echo of typed text, for terminals that echo locally (the
        /// original browser terminal): `count` (the original's rule, the default) or
        /// `matching`.
        #[arg(long, value_name = "RULE", num_args = 0..=1, default_missing_value = "count")]
        echo_suppression: Option<EchoRule>,
        /// For a virtual disk (`--disk A=mqtt`) on a disk server that never acknowledges
        /// writes (the original's): a write completes once it is sent at QoS 1.
        #[arg(long)]
        vdisk_no_acks: bool,
        /// For a virtual disk: ask for one sector at a time, as the original device did,
        /// instead of the rest of the track with each miss.
        #[arg(long)]
        vdisk_no_read_ahead: bool,
        #[command(flatten)]
        machine: MachineArgs,
    },
}

/// What the machine runs: media and speed.
#[derive(Args)]
struct MachineArgs {
    /// Attach a disk image: A=PATH (drives A to D). In `mqtt`, A=mqtt makes the drive
    /// the channel's virtual disk on the disk server (`altair-cloud vdisk serve`).
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
}

impl MachineArgs {
    fn media(self) -> Result<(Media, Option<f64>), String> {
        if let Some(m) = self.mhz
            && !(m.is_finite() && m > 0.0)
        {
            return Err(format!(
                "--mhz {m}: expected a finite clock rate above 0 (2 is the original Altair)"
            ));
        }
        let media = Media {
            disks: self.disks,
            roms: self.roms,
            basic: self.basic,
        };
        Ok((media, self.mhz))
    }
}

/// `--echo-suppression`'s rules.
#[derive(Clone, Copy, ValueEnum)]
enum EchoRule {
    /// After an N-byte `dev` message, skip the next N output bytes (the original).
    Count,
    /// Skip output bytes only while they match the typed bytes.
    Matching,
}

fn parse_broker(s: &str) -> Result<(String, u16), String> {
    mqtt_mode::parse_broker(s, MQTT_PORT)
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
    // host-sim's own notes (connection state in `mqtt`) show by default.
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("warn,host_sim=info,embedded_tls=off"),
    )
    .target(env_logger::Target::Stderr)
    .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Com { file, stats } => run_com(&file, stats),
        Command::Run { machine, stats } => run_machine(machine, stats),
        Command::Mqtt {
            broker,
            channel,
            ca,
            cert,
            key,
            echo_suppression,
            vdisk_no_acks,
            vdisk_no_read_ahead,
            machine,
        } => {
            let disk_options = vdisk::Options {
                read_ahead: !vdisk_no_read_ahead,
                acknowledged_writes: !vdisk_no_acks,
            };
            let pki = match (ca, cert, key) {
                (Some(ca), Some(cert), Some(key)) => Pki::from_pem_files(&ca, &cert, &key),
                _ => Ok(Pki::baked()),
            };
            let echo = match echo_suppression {
                None => EchoSuppression::Off,
                Some(EchoRule::Count) => EchoSuppression::Count,
                Some(EchoRule::Matching) => EchoSuppression::Matching,
            };
            let (host, port) = broker.unwrap_or_else(|| (MQTT_HOST.to_owned(), MQTT_PORT));
            pki.and_then(|pki| {
                let config = MqttConfig {
                    host,
                    port,
                    channel: channel.unwrap_or_else(|| CHANNEL.to_owned()),
                    pki,
                    options: Options {
                        echo,
                        ..Options::default()
                    },
                    mhz: None,
                };
                run_mqtt(config, machine, disk_options)
            })
        }
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
            eprintln!(
                "host-sim: the program halted at {pc:04X}H (HLT), and the .COM harness \
                 raises no interrupt to wake it"
            );
            Ok(ExitCode::from(1))
        }
        Status::Unsupported { function, pc } => {
            eprintln!(
                "host-sim: the program called BDOS function {function} ({}) at {pc:04X}H; \
                 the .COM harness serves console output only (functions 0, 2, 6, 9, 11 \
                 and 12): run the program under CP/M (host-sim run) instead",
                bdos_function_name(function)
            );
            Ok(ExitCode::from(1))
        }
        Status::Running => unreachable!("run_file returns only once the program has ended"),
    }
}

fn run_machine(machine: MachineArgs, stats: bool) -> Result<ExitCode, String> {
    let (media, mhz) = machine.media()?;
    let prepared = setup::prepare(media, None)?;
    let session = Session::new(prepared.altair, mhz, prepared.start_in_monitor);
    let (ending, counters) = session.run().map_err(|e| format!("terminal: {e}"))?;
    if stats {
        eprintln!("{counters}");
    }
    match ending {
        Ending::Quit | Ending::InputDone => Ok(ExitCode::SUCCESS),
        Ending::Halted => Ok(ExitCode::from(3)),
    }
}

fn run_mqtt(
    mut config: MqttConfig,
    machine: MachineArgs,
    disk_options: vdisk::Options,
) -> Result<ExitCode, String> {
    let (media, mhz) = machine.media()?;
    config.mhz = mhz;
    let wants_vdisk = media
        .disks
        .iter()
        .any(|(_, path)| path.as_os_str() == host_sim::drive::VIRTUAL);
    let vdisk = wants_vdisk
        .then(|| VirtualDisk::new(&config.channel, disk_options))
        .transpose()
        .map_err(|e| e.to_string())?;
    let prepared = setup::prepare(media, vdisk)?;
    match mqtt_mode::run(&config, prepared)? {}
}
