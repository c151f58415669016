//! `altair-cloud`: provisions and checks the altair-sphere broker. See the library docs.

use std::path::PathBuf;
use std::process::ExitCode;

use altair_cloud::broker::{self, InitOptions, WebUserOption};
use clap::{Args, Parser, Subcommand};

/// Server side of altair-sphere: provision and check the Mosquitto broker.
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
    }
}
