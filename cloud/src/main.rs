//! `altair-cloud`: provisions and checks the altair-sphere broker. See the library docs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use altair_cloud::broker::{self, InitOptions, WebUserOption};
use altair_cloud::mqtt::{BrokerUrl, Endpoint, Scheme};
use altair_cloud::term::{self, TermOptions, keys::Mode};
use altair_cloud::vdisk;
use altair_cloud::web::{self, ServeOptions, serve};
use clap::{Args, Parser, Subcommand};
use signal_hook::consts::{SIGINT, SIGTERM};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Server side of altair-sphere: provision and check the Mosquitto broker, and attach
/// a terminal to a device through it.
#[derive(Parser)]
#[command(name = "altair-cloud", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Provision a Mosquitto broker.
    Broker {
        #[command(subcommand)]
        command: BrokerCommand,
    },
    /// Check a broker directory: certificates, names, dates, and live connections.
    Doctor {
        /// The broker directory `broker init` wrote.
        dir: PathBuf,
        /// A file holding a web user's password, to check the WebSockets login.
        #[arg(long, value_name = "FILE")]
        web_password_file: Option<PathBuf>,
    },
    /// A terminal for a device: keys to it, its output to the screen, through the broker.
    ///
    /// On a tty: raw mode; Ctrl-letters go to dev/ctrl, pastes to dev/paste; Ctrl-] then
    /// ? lists the terminal's own commands (q quits, m toggles the device's monitor).
    /// From a pipe: the input is pasted (line ends become Enter) and the terminal leaves
    /// once the device has been quiet for --linger after the input ends.
    Term(TermArgs),
    /// The virtual-disk server.
    Vdisk {
        #[command(subcommand)]
        command: VdiskCommand,
    },
    /// The browser terminal: a web page for a device, over the broker's WebSockets listener.
    Web {
        #[command(subcommand)]
        command: WebCommand,
    },
}

#[derive(Subcommand)]
enum VdiskCommand {
    /// Serve the devices' disks: one image per channel, DIR/<channel>.dsk, every write
    /// durable before it is acknowledged. Stops cleanly on SIGTERM or Ctrl-C.
    Serve(VdiskServeArgs),
}

#[derive(Subcommand)]
enum WebCommand {
    /// Serve the page on 127.0.0.1 for this machine's browser (the page built into this
    /// binary, or --dir).
    Serve(ServeArgs),
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("scope").required(true).args(["channel", "all"]))]
struct VdiskServeArgs {
    /// The broker: normally the local listener, mqtt://127.0.0.1:PORT (also mqtts://
    /// with --cert/--key, or wss:// with --user).
    #[arg(long, value_name = "URL")]
    broker: String,
    /// The directory of the images.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Serve one channel.
    #[arg(long, value_name = "CHANNEL")]
    channel: Option<String>,
    /// Serve every channel.
    #[arg(long)]
    all: bool,
    /// The image copied to DIR/<channel>.dsk for a channel that has none [default:
    /// DIR/Empty.dsk if there is one, as the original server did].
    #[arg(long, value_name = "FILE")]
    template: Option<PathBuf>,
    /// The shared-subscription group: servers in one group split the requests.
    #[arg(long, value_name = "GROUP", default_value = vdisk::DEFAULT_GROUP)]
    share: String,
    /// Subscribe without sharing (every server in reach answers every request).
    #[arg(long)]
    no_share: bool,
    /// The MQTT client id [default: altair-vdisk-<process id>].
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// The CA for mqtts:// or wss://.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// A client certificate (PEM) for mqtts://.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// A user for wss://.
    #[arg(long, value_name = "NAME", requires = "password_file")]
    user: Option<String>,
    /// A file holding the user's password (one line).
    #[arg(long, value_name = "FILE", requires = "user")]
    password_file: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    /// The port on 127.0.0.1 (0: any free port; the URL is printed).
    #[arg(long, value_name = "PORT", default_value_t = serve::DEFAULT_PORT)]
    port: u16,
    /// Serve this directory (such as web/dist while working on the page) instead of the
    /// page built into this binary.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// A broker directory (from `broker init`): the login form starts with its browser
    /// listener, web user and device, and the way to make Chromium accept its
    /// certificate is printed.
    #[arg(long, value_name = "DIR")]
    broker_dir: Option<PathBuf>,
    /// The broker URL the login form starts with (wss://HOST:PORT).
    #[arg(long, value_name = "URL")]
    broker: Option<String>,
    /// The user name the login form starts with.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// The channel the login form starts with.
    #[arg(long, value_name = "CHANNEL")]
    channel: Option<String>,
}

#[derive(Args)]
struct TermArgs {
    /// The broker: mqtts://HOST[:PORT] (device listener, with --cert and --key) or
    /// wss://HOST[:PORT] (browser listener, with --user) [default port: 8884 or 8091].
    #[arg(long, value_name = "URL")]
    broker: String,
    /// The device's channel (its id: topics altair/<CHANNEL>/...).
    #[arg(long, value_name = "CHANNEL")]
    channel: String,
    /// The CA the broker's certificate must chain to (the broker directory's ca.crt);
    /// without it, the system's roots (a browser listener with Let's Encrypt).
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// A client certificate (PEM) for mqtts://, such as the device's own.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// A web user for wss:// (its password from --password-file, or asked for).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// A file holding the user's password (one line).
    #[arg(long, value_name = "FILE", requires = "user")]
    password_file: Option<PathBuf>,
    /// Start in line mode: lines are edited here and sent with Enter (Ctrl-] l switches).
    #[arg(long)]
    line: bool,
    /// In line mode, leave the local copy of a sent line on the screen (for a device
    /// that suppresses its echo, like the original firmware).
    #[arg(long)]
    keep_local_echo: bool,
    /// The MQTT client id prefix (two connections: ID-out and ID-in)
    /// [default: term-<channel>-<process id>].
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// From a pipe: seconds the device must stay quiet after the input ends.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    linger: f64,
}

impl From<ServeArgs> for ServeOptions {
    fn from(a: ServeArgs) -> Self {
        ServeOptions {
            port: a.port,
            dir: a.dir,
            broker_dir: a.broker_dir,
            broker: a.broker,
            user: a.user,
            channel: a.channel,
        }
    }
}

#[derive(Subcommand)]
enum BrokerCommand {
    /// Write (or update) a broker directory: CA, server and device certificates,
    /// mosquitto.conf, password file, ACLs, systemd units and a README.
    ///
    /// Run again on the same directory to add devices or web users: the CA and existing
    /// certificates are kept. Options not given keep their recorded values.
    Init(InitArgs),
}

#[derive(Args)]
struct InitArgs {
    /// The broker directory (created if missing).
    dir: PathBuf,
    /// The broker's DNS name (the server certificate's name; devices connect to it).
    #[arg(long, value_name = "NAME")]
    host: String,
    /// A device id (1-64 of A-Z a-z 0-9 _ -); repeat for several. New ones get a
    /// certificate, existing ones are kept.
    #[arg(long = "device", value_name = "ID", required = true)]
    devices: Vec<String>,
    /// A web user for the browser terminal, granted this run's --devices.
    #[arg(long, value_name = "NAME", requires = "web_password_file")]
    web_user: Option<String>,
    /// A file holding the web user's password (one line).
    #[arg(long, value_name = "FILE", requires = "web_user")]
    web_password_file: Option<PathBuf>,
    /// The device listener's port (MQTT over TLS with client certificates) [default: 8884].
    #[arg(long, value_name = "PORT")]
    tls_port: Option<u16>,
    /// The browser listener's port (MQTT over WebSockets over TLS) [default: 8091].
    #[arg(long, value_name = "PORT")]
    ws_port: Option<u16>,
    /// The local listener's port, on 127.0.0.1, for the disk server [default: 1883].
    #[arg(long, value_name = "PORT")]
    local_port: Option<u16>,
    /// A Let's Encrypt directory (with fullchain.pem and privkey.pem) for the browser
    /// listener's certificate.
    #[arg(long, value_name = "DIR")]
    letsencrypt_dir: Option<PathBuf>,
}

impl From<InitArgs> for InitOptions {
    fn from(a: InitArgs) -> Self {
        InitOptions {
            dir: a.dir,
            host: a.host,
            devices: a.devices,
            web_user: a
                .web_user
                .zip(a.web_password_file)
                .map(|(name, password_file)| WebUserOption {
                    name,
                    password_file,
                }),
            tls_port: a.tls_port,
            ws_port: a.ws_port,
            local_port: a.local_port,
            letsencrypt_dir: a.letsencrypt_dir,
        }
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Broker {
            command: BrokerCommand::Init(args),
        } => match broker::init(&args.into()) {
            Ok(report) => {
                for line in &report.done {
                    println!("{line}");
                }
                for warning in &report.warnings {
                    eprintln!("warning: {warning}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("altair-cloud broker init: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Doctor {
            dir,
            web_password_file,
        } => altair_cloud::doctor::run(&dir, web_password_file.as_deref()),
        Command::Vdisk {
            command: VdiskCommand::Serve(args),
        } => match serve_options(args).and_then(|options| {
            let stop = Arc::new(AtomicBool::new(false));
            for signal in [SIGTERM, SIGINT] {
                signal_hook::flag::register(signal, Arc::clone(&stop))
                    .map_err(|e| format!("cannot handle signal {signal}: {e}"))?;
            }
            vdisk::serve(&options, &stop)
        }) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("altair-cloud vdisk serve: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Term(args) => match term_options(args).and_then(term::run) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("altair-cloud term: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Web {
            command: WebCommand::Serve(args),
        } => match web::serve_page(args.into()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("altair-cloud web serve: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// The password in `file`, without its trailing line end.
fn read_password(file: &std::path::Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("--password-file {}: {e}", file.display()))?;
    Ok(text.trim_end_matches(['\r', '\n']).as_bytes().to_vec())
}

/// Checks the `vdisk serve` arguments and reads the password.
fn serve_options(a: VdiskServeArgs) -> Result<vdisk::ServeOptions, String> {
    let url = BrokerUrl::parse(&a.broker)?;
    if let Some(channel) = &a.channel {
        altair_pki::check_device_id(channel).map_err(|e| format!("--channel: {e}"))?;
    }
    let credentials = match (a.user, &a.password_file) {
        (Some(user), Some(file)) => Some((user, read_password(file)?)),
        _ => None,
    };
    Ok(vdisk::ServeOptions {
        endpoint: Endpoint {
            url,
            ca: a.ca,
            identity: a.cert.zip(a.key),
            credentials,
        },
        template: a.template.or_else(|| {
            let empty = a.dir.join(vdisk::ORIGINAL_TEMPLATE);
            empty.is_file().then_some(empty)
        }),
        dir: a.dir,
        channel: a.channel,
        share: (!a.no_share).then_some(a.share),
        client_id: a
            .client_id
            .unwrap_or_else(|| format!("altair-vdisk-{}", std::process::id())),
    })
}

/// Checks the term arguments and reads the password.
fn term_options(a: TermArgs) -> Result<TermOptions, String> {
    let url = BrokerUrl::parse(&a.broker)?;
    altair_pki::check_device_id(&a.channel).map_err(|e| format!("--channel: {e}"))?;
    let credentials = match a.user {
        Some(user) => {
            let password = match &a.password_file {
                Some(file) => read_password(file)?,
                None => term::ask_password(&user)?.into_bytes(),
            };
            Some((user, password))
        }
        None => None,
    };
    let identity = a.cert.zip(a.key);
    match (url.scheme, &identity, &credentials) {
        (Scheme::Mqtts, None, _) => {
            return Err(format!(
                "{url} is a device listener: give a client certificate with --cert and --key"
            ));
        }
        (Scheme::Wss, _, None) => {
            return Err(format!(
                "{url} is a browser listener: give a user with --user (and --password-file)"
            ));
        }
        _ => {}
    }
    if !(a.linger >= 0.0 && a.linger < 86_400.0) {
        return Err(format!("--linger {}: give seconds, 0 to 86400", a.linger));
    }
    Ok(TermOptions {
        client_id: a
            .client_id
            .unwrap_or_else(|| format!("term-{}-{}", a.channel, std::process::id())),
        endpoint: Endpoint {
            url,
            ca: a.ca,
            identity,
            credentials,
        },
        channel: a.channel,
        mode: if a.line { Mode::Line } else { Mode::Character },
        keep_local_echo: a.keep_local_echo,
        linger: Duration::from_secs_f64(a.linger),
    })
}
