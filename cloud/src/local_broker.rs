//! [`LocalBroker`]: Mosquitto running on this host from a `broker init` directory, on
//! ports reserved for this process; the broker that the tests and the hil-tests runner
//! start, stop and restart.

use std::io;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

use crate::ports::reserve_port;
use crate::programs::start_mosquitto;

/// How long Mosquitto may take to open its ports, or to save its state and exit.
const WAIT: Duration = Duration::from_secs(10);

/// The three listener ports of a `broker init` directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// Device listener: MQTT over TLS with client certificates.
    pub tls: u16,
    /// Browser listener: MQTT over WebSockets over TLS with a password.
    pub ws: u16,
    /// Plain listener on 127.0.0.1.
    pub local: u16,
}

impl Ports {
    /// Three free ports reserved for this process ([`reserve_port`]).
    pub fn reserve() -> io::Result<Ports> {
        Ok(Ports {
            tls: reserve_port()?,
            ws: reserve_port()?,
            local: reserve_port()?,
        })
    }

    fn all(self) -> [u16; 3] {
        [self.local, self.tls, self.ws]
    }
}

/// A Mosquitto process for `mosquitto.conf`, killed when dropped.
pub struct LocalBroker {
    conf: PathBuf,
    log: PathBuf,
    ports: Ports,
    child: Option<Child>,
}

impl LocalBroker {
    /// Starts `mosquitto -c conf` (its log appended to `log`) and waits until all `ports`
    /// accept connections. The error carries Mosquitto's log.
    pub fn start(conf: &Path, ports: Ports, log: &Path) -> Result<LocalBroker, String> {
        let mut broker = LocalBroker {
            conf: conf.to_path_buf(),
            log: log.to_path_buf(),
            ports,
            child: None,
        };
        broker.resume()?;
        Ok(broker)
    }

    /// The listener ports.
    pub fn ports(&self) -> Ports {
        self.ports
    }

    /// Mosquitto's log so far (every run, appended).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops Mosquitto the way systemd does (SIGTERM, so it saves persistent sessions and
    /// queued messages), waiting for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = rustix::process::Pid::from_raw(child.id() as i32);
            if let Some(pid) = pid {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
            let deadline = Instant::now() + WAIT;
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills Mosquitto at once (SIGKILL): a crash, losing what it had not saved.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts Mosquitto again (after [`LocalBroker::stop`] or [`LocalBroker::kill`]) on the
    /// same configuration and ports, and waits until they accept connections.
    pub fn resume(&mut self) -> Result<(), String> {
        if self.child.is_some() {
            return Ok(());
        }
        let child = start_mosquitto(&self.conf, &self.log)
            .map_err(|e| format!("cannot start mosquitto: {e}"))?;
        let child = self.child.insert(child);
        let deadline = Instant::now() + WAIT;
        for port in self.ports.all() {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(format!("mosquitto exited ({status}):\n{}", self.log()));
                }
                if Instant::now() >= deadline {
                    return Err(format!(
                        "mosquitto did not open port {port} in {} s:\n{}",
                        WAIT.as_secs(),
                        self.log()
                    ));
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }
}

impl Drop for LocalBroker {
    fn drop(&mut self) {
        self.kill();
    }
}
