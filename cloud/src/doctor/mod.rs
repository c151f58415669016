//! `altair-cloud doctor DIR`: checks a broker directory made by `broker init` and the
//! running broker, and prints one line per check with the fix for each failure.
//!
//! The checks, in order:
//! 1. files: everything `broker init` writes is present and readable; private keys and the
//!    password file are not readable by group or others; the user Mosquitto switches to
//!    (its `user` line) can reach and read the files it loads.
//! 2. certificate chain: the server and device certificates are signed by `ca.crt`.
//! 3. validity dates of the CA, server and device certificates (expired or not yet valid
//!    fail; expiring within 30 days warns).
//! 4. the server certificate's DNS names include the host in `broker.toml`.
//! 5. each device certificate's common name is its device id; every key fits its
//!    certificate.
//!    Web users: each has an entry in `passwd`; with `--web-password-file`, the password
//!    matches its hash there (checked offline, before the broker is asked).
//! 6. the device listener: TCP, a TLS 1.3 handshake with each device's certificate (mutual
//!    TLS, the broker verified against `ca.crt` and the host name), MQTT CONNECT, then a
//!    QoS 1 message published to and received from `altair/<id>/doctor`.
//! 7. the browser listener: MQTT over WebSockets and TLS, logging in as the first web user
//!    with the password from `--web-password-file` (skipped without one).
//! 8. the local listener: a plain MQTT connection to `127.0.0.1:<local_port>`.
//!
//! Every network step has a time limit ([`Options::timeout`], 5 s by default) and every
//! failure is sorted into a fault with its own fix: connection refused, timeout, a broker
//! certificate for another name or from another CA, a TLS alert about the device
//! certificate (unknown CA, expired), CONNACK refusals, an ACL that swallows the message.
//!
//! [`check`] returns a [`Report`]; its `Display` is what the command prints (one line per
//! check, then a summary), and [`Report::ok`] tells whether the command succeeds. [`run`]
//! is the command itself: it prints the report and returns the exit code.

mod certs;
mod explain;
mod files;
mod passwords;
mod probe;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use crate::broker::record::BrokerRecord;

/// Default TLS port of the device listener (`broker init --tls-port`).
const DEFAULT_TLS_PORT: u16 = 8884;
/// Default port of the browser listener (`broker init --ws-port`).
const DEFAULT_WS_PORT: u16 = 8091;
/// Default port of the local listener (`broker init --local-port`).
const DEFAULT_LOCAL_PORT: u16 = 1883;

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The check passed.
    Pass,
    /// The check passed but something needs attention soon (e.g. a certificate expiring).
    Warn,
    /// The check failed: the line says why and how to fix it.
    Fail,
    /// The check was not run (the line says why and how to enable it).
    Skip,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pass => "PASS",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
            Self::Skip => "SKIP",
        })
    }
}

/// One printed line: a check, its outcome, what was found and, if needed, the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// The outcome.
    pub status: Status,
    /// What was checked, e.g. `server certificate name`.
    pub name: String,
    /// What was found.
    pub detail: String,
    /// What to do about it (for failures, warnings and skipped checks).
    pub fix: Option<String>,
}

impl Check {
    /// A passed check.
    pub(crate) fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(Status::Pass, name, detail, None)
    }

    /// A failed check with its fix.
    pub(crate) fn fail(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::new(Status::Fail, name, detail, Some(fix.into()))
    }

    /// A warning with what to do.
    pub(crate) fn warn(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::new(Status::Warn, name, detail, Some(fix.into()))
    }

    /// A skipped check with how to enable it.
    pub(crate) fn skip(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::new(Status::Skip, name, detail, Some(fix.into()))
    }

    fn new(
        status: Status,
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: Option<String>,
    ) -> Self {
        Self {
            status,
            name: name.into(),
            detail: detail.into(),
            fix,
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.name, self.detail)?;
        match &self.fix {
            Some(fix) => write!(f, " — {fix}"),
            None => Ok(()),
        }
    }
}

/// Everything the doctor found, one [`Check`] per printed line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The checks, in the order they ran.
    pub checks: Vec<Check>,
}

impl Report {
    /// True if no check failed (warnings and skipped checks do not count as failures).
    pub fn ok(&self) -> bool {
        self.failures().next().is_none()
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Fail)
    }

    /// The first check whose name starts with `prefix`, e.g. `"server certificate name"`.
    pub fn find(&self, prefix: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name.starts_with(prefix))
    }

    /// How many checks ended with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
}

impl fmt::Display for Report {
    /// One line per check, then a summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for check in &self.checks {
            writeln!(f, "{check}")?;
        }
        let verdict = if self.ok() { "healthy" } else { "broken" };
        writeln!(
            f,
            "doctor: {verdict} ({} PASS, {} WARN, {} FAIL, {} SKIP)",
            self.count(Status::Pass),
            self.count(Status::Warn),
            self.count(Status::Fail),
            self.count(Status::Skip)
        )
    }
}

/// Why the doctor could not examine a directory at all.
#[derive(Debug)]
#[non_exhaustive]
pub enum DoctorError {
    /// The directory does not exist or is not a directory.
    NoDirectory(PathBuf),
    /// `broker.toml` is missing or invalid, so the doctor does not know what to check.
    Record {
        /// The broker directory.
        dir: PathBuf,
        /// Why the record could not be loaded.
        reason: String,
    },
}

impl fmt::Display for DoctorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoDirectory(dir) => write!(
                f,
                "{} is not a directory — make it with: altair-cloud broker init {} --host NAME \
                 --device ID",
                dir.display(),
                dir.display()
            ),
            Self::Record { dir, reason } => write!(
                f,
                "cannot read the broker record in {}: {reason} — it is written by: \
                 altair-cloud broker init {} --host NAME --device ID",
                dir.display(),
                dir.display()
            ),
        }
    }
}

impl std::error::Error for DoctorError {}

/// How to run the doctor.
#[derive(Clone, Debug)]
pub struct Options {
    /// A file holding the first web user's password, to test the WebSockets login.
    pub web_password_file: Option<PathBuf>,
    /// The time limit of each network step (connect, handshake, each MQTT exchange).
    pub timeout: Duration,
    /// Certificates expiring within this many days are reported as warnings.
    pub warn_days: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            web_password_file: None,
            timeout: Duration::from_secs(5),
            warn_days: 30,
        }
    }
}

/// The command `altair-cloud doctor DIR [--web-password-file FILE]`: runs every check,
/// prints one line per check and a summary to stdout (or, if nothing could be checked,
/// why to stderr), and returns failure if any check failed.
pub fn run(dir: &Path, web_password_file: Option<&Path>) -> ExitCode {
    match check(dir, web_password_file) {
        Ok(report) => {
            print!("{report}");
            if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("altair-cloud doctor: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Checks the broker directory `dir` and the broker it describes, with default options.
///
/// `web_password_file` enables the WebSockets login check. Fails only if `dir` or its
/// `broker.toml` cannot be read; every other problem is a failed [`Check`] in the report.
pub fn check(dir: &Path, web_password_file: Option<&Path>) -> Result<Report, DoctorError> {
    let options = Options {
        web_password_file: web_password_file.map(Path::to_path_buf),
        ..Options::default()
    };
    check_with(dir, &options)
}

/// Checks the broker directory `dir` and the broker it describes (see [`check`]).
pub fn check_with(dir: &Path, options: &Options) -> Result<Report, DoctorError> {
    if !dir.is_dir() {
        return Err(DoctorError::NoDirectory(dir.to_path_buf()));
    }
    let record = BrokerRecord::load(dir).map_err(|e| DoctorError::Record {
        dir: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    let setup = Setup::from_record(&record);
    let ctx = Ctx {
        dir,
        setup: &setup,
        options,
        now: SystemTime::now(),
    };
    let mut checks = files::check(&ctx);
    checks.extend(certs::check(&ctx));
    checks.extend(passwords::check(&ctx));
    checks.extend(probe::check(&ctx));
    Ok(Report { checks })
}

/// What the doctor needs from `broker.toml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Setup {
    /// The broker's DNS name.
    pub host: String,
    /// Device listener (MQTT over TLS, client certificates).
    pub tls_port: u16,
    /// Browser listener (MQTT over WebSockets and TLS, passwords).
    pub ws_port: u16,
    /// Plain listener on 127.0.0.1.
    pub local_port: u16,
    /// Device ids.
    pub devices: Vec<String>,
    /// Web user names.
    pub web_users: Vec<String>,
    /// Where the Let's Encrypt certificate for the browser listener lives, if used.
    pub letsencrypt_dir: Option<PathBuf>,
}

impl Setup {
    /// Takes what the doctor needs from the record.
    fn from_record(record: &BrokerRecord) -> Self {
        Self {
            host: record.host.clone(),
            tls_port: record.tls_port,
            ws_port: record.ws_port,
            local_port: record.local_port,
            devices: record.devices.clone(),
            web_users: record.web_users.iter().map(|u| u.name.clone()).collect(),
            letsencrypt_dir: record.letsencrypt_dir.clone(),
        }
    }
}

/// Everything a check needs: the directory, the record, the options and the time.
pub(crate) struct Ctx<'a> {
    /// The broker directory.
    pub dir: &'a Path,
    /// What `broker.toml` says.
    pub setup: &'a Setup,
    /// How to run.
    pub options: &'a Options,
    /// The time certificates are checked against.
    pub now: SystemTime,
}

impl Ctx<'_> {
    /// A file in the broker directory.
    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// A file in the broker directory, for messages.
    pub(crate) fn show(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    /// The `broker init` command that (re)makes this directory as `broker.toml` describes
    /// it; an existing CA is kept, missing certificates and keys are made.
    pub(crate) fn init_command(&self) -> String {
        let s = self.setup;
        let mut cmd = format!(
            "altair-cloud broker init {} --host {}",
            self.dir.display(),
            s.host
        );
        for device in &s.devices {
            cmd += &format!(" --device {device}");
        }
        for (flag, port, default) in [
            ("--tls-port", s.tls_port, DEFAULT_TLS_PORT),
            ("--ws-port", s.ws_port, DEFAULT_WS_PORT),
            ("--local-port", s.local_port, DEFAULT_LOCAL_PORT),
        ] {
            if port != default {
                cmd += &format!(" {flag} {port}");
            }
        }
        if let Some(le) = &s.letsencrypt_dir {
            cmd += &format!(" --letsencrypt-dir {}", le.display());
        }
        cmd
    }

    /// The fix for a broken server certificate: `broker init` issues a new one whenever
    /// the existing one is for another host, broken or about to expire.
    pub(crate) fn reissue_server(&self) -> String {
        format!(
            "run: {} (it issues a new server certificate), then {}",
            self.init_command(),
            self.restart()
        )
    }

    /// The fix for a broken device certificate: `broker init` keeps an existing device
    /// certificate, so move it away first.
    pub(crate) fn reissue_device(&self, id: &str) -> String {
        format!(
            "move {} and {} away, run: {}, then give the device its new certificate \
             (rebuild its firmware)",
            self.show(&format!("devices/{id}.crt")),
            self.show(&format!("devices/{id}.key")),
            self.init_command()
        )
    }

    /// How to restart the broker after a change.
    pub(crate) fn restart(&self) -> String {
        format!(
            "restart the broker: systemctl restart {} (or mosquitto -c {})",
            files::broker_unit(self.dir),
            self.show("mosquitto.conf")
        )
    }

    /// How to start the broker: the systemd unit, or mosquitto by hand.
    pub(crate) fn start_broker(&self) -> String {
        format!(
            "is mosquitto running? systemctl status {} / mosquitto -c {}",
            files::broker_unit(self.dir),
            self.show("mosquitto.conf")
        )
    }
}

/// What the doctor's unit tests start from.
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;

    /// The setup of [`BrokerRecord::example`]: host `mqtt.example`, the default ports,
    /// device `a`, no web user.
    pub(crate) fn setup() -> Setup {
        Setup::from_record(&BrokerRecord::example())
    }

    /// A context for the broker directory `/srv/b`, now.
    pub(crate) fn ctx<'a>(setup: &'a Setup, options: &'a Options) -> Ctx<'a> {
        Ctx {
            dir: Path::new("/srv/b"),
            setup,
            options,
            now: SystemTime::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_command_repeats_the_record() {
        let setup = Setup {
            ws_port: 9001,
            devices: vec!["a".into(), "b".into()],
            web_users: vec!["web".into()],
            ..fixture::setup()
        };
        let options = Options::default();
        let ctx = fixture::ctx(&setup, &options);
        assert_eq!(
            ctx.init_command(),
            "altair-cloud broker init /srv/b --host mqtt.example --device a --device b \
             --ws-port 9001"
        );
    }

    #[test]
    fn lines_show_status_detail_and_fix() {
        let line = Check::fail("x", "broken", "mend it").to_string();
        assert_eq!(line, "FAIL x: broken — mend it");
        assert_eq!(Check::pass("y", "fine").to_string(), "PASS y: fine");
        let report = Report {
            checks: vec![Check::pass("y", "fine"), Check::skip("z", "off", "turn on")],
        };
        assert!(report.ok());
        assert!(
            report
                .to_string()
                .ends_with("(1 PASS, 0 WARN, 0 FAIL, 1 SKIP)\n")
        );
    }
}
