//! `altair-cloud broker init DIR`: one command from nothing to a hardened Mosquitto.
//!
//! Init merges its options into `DIR/broker.toml` (see [`record`]) and then makes sure
//! every file of [`layout::Layout`] matches it: the PKI ([`pki_files`]), the configuration
//! ([`mosquitto_conf`]), the password file ([`passwd`]), the ACLs ([`acl`]), the systemd
//! units ([`systemd`]), a README ([`readme`]) and the browser terminal's page
//! ([`crate::web::write_page`]). Run again, it keeps the CA and existing
//! certificates and adds what is new; the record is written last, so an interrupted run
//! is completed by running it again.

pub mod acl;
pub mod error;
pub mod layout;
pub mod mosquitto_conf;
pub mod owner;
pub mod passwd;
pub mod pki_files;
pub mod readme;
pub mod record;
pub mod systemd;

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

use altair_pki::{create_private_dir, write_private, write_public};

pub use error::InitError;
use layout::Layout;
use owner::Ownership;
use passwd::PasswordFile;
use record::{BrokerRecord, WebUser};

use crate::web::PageConfig;

/// The device listener's port when neither the options nor the record give one.
pub const DEFAULT_TLS_PORT: u16 = 8884;
/// The browser listener's port when neither the options nor the record give one.
pub const DEFAULT_WS_PORT: u16 = 8091;
/// The local listener's port when neither the options nor the record give one.
pub const DEFAULT_LOCAL_PORT: u16 = 1883;

/// A web user to add or update, with the file holding its password.
#[derive(Clone, Debug)]
pub struct WebUserOption {
    /// The user name.
    pub name: String,
    /// The file holding the password (one line).
    pub password_file: PathBuf,
}

/// What `broker init` was asked to do. Options left `None` keep the recorded value (or
/// take the default on a first run).
#[derive(Clone, Debug)]
pub struct InitOptions {
    /// The broker directory (created if missing).
    pub dir: PathBuf,
    /// The broker's DNS name.
    pub host: String,
    /// Devices to have certificates for (added to those recorded).
    pub devices: Vec<String>,
    /// A web user to add (or give a new password), granted `devices`.
    pub web_user: Option<WebUserOption>,
    /// The device listener's port.
    pub tls_port: Option<u16>,
    /// The browser listener's port.
    pub ws_port: Option<u16>,
    /// The local listener's port.
    pub local_port: Option<u16>,
    /// A Let's Encrypt directory for the browser listener.
    pub letsencrypt_dir: Option<PathBuf>,
}

/// What init did, line by line, and what needs the user's attention.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// What was made, kept or changed.
    pub done: Vec<String>,
    /// Problems init could not fix itself, each with what to do.
    pub warnings: Vec<String>,
}

impl Report {
    fn done(&mut self, line: String) {
        self.done.push(line);
    }

    fn warn(&mut self, line: String) {
        self.warnings.push(line);
    }
}

/// Runs `broker init`, giving the broker's files to user `mosquitto` when running as root.
pub fn init(opts: &InitOptions) -> Result<Report, InitError> {
    init_with(opts, &Ownership::detect())
}

/// Runs `broker init` with the given ownership policy.
pub fn init_with(opts: &InitOptions, owner: &Ownership) -> Result<Report, InitError> {
    let mut report = Report::default();
    // Everything that can be refused is checked before anything is written.
    check_options(opts)?;
    let password = match &opts.web_user {
        Some(user) => Some(passwd::read_password_file(&user.password_file)?),
        None => None,
    };
    let letsencrypt_dir = match &opts.letsencrypt_dir {
        Some(dir) => Some(absolute(dir)?),
        None => None,
    };

    let dir = make_dir(&opts.dir)?;
    let layout = Layout::new(dir);
    let previous = BrokerRecord::load_if_exists(layout.dir())?;
    let record = merge(previous.as_ref(), opts, letsencrypt_dir, &mut report);
    record
        .check()
        .map_err(|reason| InitError::Option(format!("the options give {reason}")))?;
    if let Some(le) = &record.letsencrypt_dir {
        check_path_chars(le)?;
    }

    let ca = pki_files::ensure_ca(&layout, &mut report)?;
    pki_files::ensure_server(&layout, &ca, &record.host, owner, &mut report)?;
    pki_files::ensure_devices(&layout, &ca, &record.devices, &mut report)?;

    let mut passwords = PasswordFile::load(&layout.passwd())?;
    if let (Some(user), Some(password)) = (&opts.web_user, &password) {
        passwords.set(&user.name, passwd::hash_password(password)?);
        report.done(format!(
            "set the password of web user {} in {}",
            user.name,
            layout.passwd().display()
        ));
        if let Some(entry) = record.web_users.iter().find(|u| u.name == user.name) {
            report.done(format!(
                "web user {} may use devices {}",
                entry.name,
                entry.devices.join(", ")
            ));
        }
    }
    passwords.retain(|name| record.web_users.iter().any(|u| u.name == name));
    if let Some(user) = record
        .web_users
        .iter()
        .find(|u| passwords.get(&u.name).is_none())
    {
        return Err(InitError::NoPassword {
            user: user.name.clone(),
            path: layout.passwd(),
        });
    }

    let broker_user = owner.broker_user().map(|u| u.name.as_str());
    let give = |path: &Path| {
        owner.give(path).map_err(|source| InitError::Io {
            path: path.to_path_buf(),
            action: "give the broker user",
            source,
        })
    };
    for (path, text) in [
        (layout.passwd(), passwords.render()),
        (layout.acl(), acl::render_devices()),
        (layout.acl_web(), acl::render_web(&record)),
        (layout.acl_local(), acl::render_local()),
    ] {
        write_private(&path, &text)?;
        give(&path)?;
    }
    create_private_dir(&layout.data_dir())?;
    give(&layout.data_dir())?;
    create_private_dir(&layout.disks_dir())?;
    write_public(
        &layout.mosquitto_conf(),
        &mosquitto_conf::render(&layout, &record, broker_user),
    )?;
    make_public_dir(&layout.systemd_dir())?;
    write_public(&layout.broker_unit(), &systemd::render_broker(&layout))?;
    write_public(
        &layout.vdisk_unit(),
        &systemd::render_vdisk(&layout, &record),
    )?;
    write_public(
        &layout.readme(),
        &readme::render(&layout, &record, broker_user),
    )?;
    crate::web::write_page(&layout.web_dir(), &PageConfig::from_record(&record))?;
    record.save(layout.dir())?;
    report.done(format!(
        "wrote {}, the ACLs, the password file, the systemd units and {}",
        layout.mosquitto_conf().display(),
        layout.readme().display()
    ));
    report.done(format!(
        "wrote the browser terminal's page to {} (see \"Browser terminal\" in the README)",
        layout.web_dir().display()
    ));
    report.done(format!(
        "recorded the setup in {}",
        layout.record().display()
    ));

    warn_about_access(&layout, &record, owner, &mut report);
    Ok(report)
}

fn check_options(opts: &InitOptions) -> Result<(), InitError> {
    altair_pki::check_host_name(&opts.host)?;
    if opts.devices.is_empty() {
        return Err(InitError::Option(
            "give at least one --device (an existing one to change nothing)".into(),
        ));
    }
    for id in &opts.devices {
        altair_pki::check_device_id(id)?;
    }
    if let Some(user) = &opts.web_user {
        record::check_web_user_name(&user.name).map_err(InitError::Option)?;
    }
    for (name, port) in [
        ("--tls-port", opts.tls_port),
        ("--ws-port", opts.ws_port),
        ("--local-port", opts.local_port),
    ] {
        if port == Some(0) {
            return Err(InitError::Option(format!("{name} must not be 0")));
        }
    }
    Ok(())
}

/// The record after this run: the previous one (if any) with the options applied.
fn merge(
    previous: Option<&BrokerRecord>,
    opts: &InitOptions,
    letsencrypt_dir: Option<PathBuf>,
    report: &mut Report,
) -> BrokerRecord {
    let mut devices = previous.map(|r| r.devices.clone()).unwrap_or_default();
    for id in &opts.devices {
        if !devices.contains(id) {
            devices.push(id.clone());
        }
    }
    let mut web_users = previous.map(|r| r.web_users.clone()).unwrap_or_default();
    if let Some(user) = &opts.web_user {
        let entry = match web_users.iter().position(|u| u.name == user.name) {
            Some(i) => &mut web_users[i],
            None => {
                web_users.push(WebUser {
                    name: user.name.clone(),
                    devices: Vec::new(),
                });
                let last = web_users.len() - 1;
                &mut web_users[last]
            }
        };
        for id in &opts.devices {
            if !entry.devices.contains(id) {
                entry.devices.push(id.clone());
            }
        }
    }
    if let Some(prev) = previous
        && prev.host != opts.host
    {
        report.done(format!(
            "the host changes from {} to {}: devices must be rebuilt for the new name",
            prev.host, opts.host
        ));
    }
    let port =
        |given: Option<u16>, recorded: Option<u16>, default| given.or(recorded).unwrap_or(default);
    BrokerRecord {
        host: opts.host.clone(),
        tls_port: port(
            opts.tls_port,
            previous.map(|r| r.tls_port),
            DEFAULT_TLS_PORT,
        ),
        ws_port: port(opts.ws_port, previous.map(|r| r.ws_port), DEFAULT_WS_PORT),
        local_port: port(
            opts.local_port,
            previous.map(|r| r.local_port),
            DEFAULT_LOCAL_PORT,
        ),
        devices,
        web_users,
        letsencrypt_dir: letsencrypt_dir
            .or_else(|| previous.and_then(|r| r.letsencrypt_dir.clone())),
    }
}

fn absolute(path: &Path) -> Result<PathBuf, InitError> {
    std::path::absolute(path).map_err(|source| InitError::Io {
        path: path.to_path_buf(),
        action: "find the absolute path of",
        source,
    })
}

/// Paths go into `mosquitto.conf` and systemd units, whose syntax gives meaning to
/// spaces, quotes, `%`, `$` and `\`: refuse those rather than quote them.
fn check_path_chars(path: &Path) -> Result<(), InitError> {
    let text = path
        .to_str()
        .ok_or_else(|| InitError::Option(format!("{} is not a UTF-8 path", path.display())))?;
    if let Some(c) = text
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "%$\"'\\;#".contains(*c))
    {
        return Err(InitError::Option(format!(
            "{text:?}: the path may not contain {c:?} (it goes into mosquitto.conf and \
             systemd units); choose another directory"
        )));
    }
    Ok(())
}

/// Creates the broker directory (mode 0755: the broker user must be able to enter it)
/// if missing, and returns its absolute, canonical path.
fn make_dir(dir: &Path) -> Result<PathBuf, InitError> {
    let dir = absolute(dir)?;
    check_path_chars(&dir)?;
    make_public_dir(&dir)?;
    let canonical = dir.canonicalize().map_err(|source| InitError::Io {
        path: dir.clone(),
        action: "resolve",
        source,
    })?;
    check_path_chars(&canonical)?;
    Ok(canonical)
}

fn make_public_dir(dir: &Path) -> Result<(), InitError> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|source| InitError::Io {
            path: dir.to_path_buf(),
            action: "create directory",
            source,
        })
}

/// Warnings about what would stop Mosquitto from starting as generated.
fn warn_about_access(layout: &Layout, record: &BrokerRecord, owner: &Ownership, r: &mut Report) {
    match owner {
        Ownership::GiveTo(user) => {
            if let Some(blocked) = owner::blocked_ancestor(layout.dir(), user) {
                r.warn(format!(
                    "user {} cannot enter {}, so Mosquitto cannot read its files: \
                     `chmod o+x {}` or choose another directory",
                    user.name,
                    blocked.display(),
                    blocked.display()
                ));
            }
            if let Some(le) = &record.letsencrypt_dir {
                let (cert, key) = Layout::letsencrypt_files(le);
                for file in [cert, key] {
                    if !owner::can_read(&file, user) {
                        r.warn(format!(
                            "user {} cannot read {} (missing, or not readable by it): \
                             see \"Let's Encrypt\" in {}",
                            user.name,
                            file.display(),
                            layout.readme().display()
                        ));
                    }
                }
            }
        }
        Ownership::RootWithoutBrokerUser => r.warn(format!(
            "there is no user {}: Mosquitto started as root will refuse to run \
             (install Debian's mosquitto package, which creates the user, and run init again)",
            owner::BROKER_USER
        )),
        Ownership::CurrentUser => {
            if let Some(le) = &record.letsencrypt_dir {
                let (cert, key) = Layout::letsencrypt_files(le);
                for file in [cert, key] {
                    if std::fs::File::open(&file).is_err() {
                        r.warn(format!(
                            "cannot read {}: see \"Let's Encrypt\" in {}",
                            file.display(),
                            layout.readme().display()
                        ));
                    }
                }
            }
        }
    }
}
