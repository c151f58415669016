//! [`LocalRig`]: a whole system on this host for the scenarios: a broker provisioned by
//! `altair-cloud broker init`, Mosquitto on free ports, and `host-sim mqtt` booting CP/M
//! from a copy of `../shared/disks/cpm63k.dsk`, optionally through a [`CutProxy`].

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use altair_cloud::broker::{InitOptions, WebUserOption, init};
use altair_cloud::local_broker::{LocalBroker, Ports};
use altair_cloud::mqtt::{BrokerUrl, Endpoint, Scheme};

use crate::programs::{HOST_SIM, workspace_program};
use crate::{CutProxy, Failure, Target};

/// The channel the local device uses.
const CHANNEL: &str = "1";

/// The web user the local broker is provisioned with (granted [`CHANNEL`]).
const WEB_USER: &str = "hil";

/// How the local device runs.
#[derive(Debug, Clone, Default)]
pub struct RigOptions {
    /// Throttle the 8080 to this many MHz (`host-sim --mhz`); `None` runs flat out.
    pub mhz: Option<f64>,
    /// Put a [`CutProxy`] between the device and the broker's TLS listener.
    pub proxy: bool,
    /// Do not print the device's and the broker's logs when the rig stops (a benchmark's
    /// output is not captured the way a test's is).
    pub quiet: bool,
    /// Skip the guest's echo of typed text, as the original firmware does, by this rule
    /// (`host-sim --echo-suppression count` or `matching`); `None` echoes everything.
    pub echo_suppression: Option<&'static str>,
}

/// Mosquitto and `host-sim mqtt` on this host; both stop when dropped.
pub struct LocalRig {
    broker: LocalBroker,
    proxy: Option<CutProxy>,
    device: Option<Child>,
    options: RigOptions,
    /// Last, so the folder goes after the processes using it.
    tmp: tempfile::TempDir,
}

impl LocalRig {
    /// Provisions the broker, starts Mosquitto and the device. `shared` is the folder
    /// with `disks/88dskrom.bin` and `disks/cpm63k.dsk`.
    pub fn start(shared: &Path, options: RigOptions) -> Result<LocalRig, Failure> {
        let tmp = tempfile::tempdir().map_err(|e| Failure(format!("temporary folder: {e}")))?;
        // Mosquitto drops root privileges to user mosquitto, which must enter the folder.
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755))
            .map_err(|e| Failure(format!("chmod {}: {e}", tmp.path().display())))?;
        let ports = Ports::reserve().map_err(|e| Failure(format!("free ports: {e}")))?;
        let dir = tmp.path().join("broker");
        let password_file = tmp.path().join("web-password");
        fs::write(&password_file, web_password(tmp.path()))
            .map_err(|e| Failure(format!("web password file: {e}")))?;
        init(&InitOptions {
            dir: dir.clone(),
            host: "localhost".into(),
            devices: vec![CHANNEL.into()],
            web_user: Some(WebUserOption {
                name: WEB_USER.into(),
                password_file,
            }),
            tls_port: Some(ports.tls),
            ws_port: Some(ports.ws),
            local_port: Some(ports.local),
            letsencrypt_dir: None,
        })
        .map_err(|e| Failure(format!("broker init: {e}")))?;
        let broker = LocalBroker::start(
            &dir.join("mosquitto.conf"),
            ports,
            &tmp.path().join("mosquitto.log"),
        )?;
        for name in ["cpm63k.dsk", "88dskrom.bin"] {
            let from = shared.join("disks").join(name);
            let to = tmp.path().join(name);
            fs::copy(&from, &to).map_err(|e| Failure(format!("copy {}: {e}", from.display())))?;
            fs::set_permissions(&to, fs::Permissions::from_mode(0o644))
                .map_err(|e| Failure(format!("chmod {}: {e}", to.display())))?;
        }
        let proxy = match options.proxy {
            true => Some(CutProxy::start(ports.tls).map_err(|e| Failure(format!("proxy: {e}")))?),
            false => None,
        };
        let mut rig = LocalRig {
            broker,
            proxy,
            device: None,
            options,
            tmp,
        };
        rig.start_device()?;
        Ok(rig)
    }

    /// The device's channel and a terminal's login: a client certificate for the channel
    /// on the device listener (mutual TLS, as a device-style terminal logs in).
    pub fn target(&self) -> Target {
        let dir = self.broker_dir();
        Target {
            endpoint: Endpoint {
                url: BrokerUrl {
                    scheme: Scheme::Mqtts,
                    host: "localhost".into(),
                    port: self.broker.ports().tls,
                },
                ca: Some(dir.join("ca.crt")),
                identity: Some((
                    dir.join(format!("devices/{CHANNEL}.crt")),
                    dir.join(format!("devices/{CHANNEL}.key")),
                )),
                credentials: None,
            },
            channel: CHANNEL.into(),
        }
    }

    /// The same channel reached as the web user over WebSockets (the browser's way).
    pub fn web_target(&self) -> Target {
        let mut target = self.target();
        target.endpoint.url = BrokerUrl {
            scheme: Scheme::Wss,
            host: "localhost".into(),
            port: self.broker.ports().ws,
        };
        target.endpoint.identity = None;
        target.endpoint.credentials =
            Some((WEB_USER.into(), web_password(self.tmp.path()).into_bytes()));
        target
    }

    /// The broker, to stop, kill or resume it.
    pub fn broker(&mut self) -> &mut LocalBroker {
        &mut self.broker
    }

    /// The proxy between the device and the broker, if the rig has one.
    pub fn proxy(&self) -> Option<&CutProxy> {
        self.proxy.as_ref()
    }

    /// The broker directory `broker init` wrote.
    pub fn broker_dir(&self) -> PathBuf {
        self.tmp.path().join("broker")
    }

    /// What host-sim has logged so far (`RUST_LOG=info`).
    pub fn device_log(&self) -> String {
        fs::read_to_string(self.tmp.path().join("host-sim.log")).unwrap_or_default()
    }

    /// Whether the host-sim process is still running.
    pub fn device_running(&mut self) -> bool {
        self.device
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Starts `host-sim mqtt` (again, after [`LocalRig::stop_device`]); the disk keeps
    /// what the guest wrote.
    pub fn start_device(&mut self) -> Result<(), Failure> {
        if self.device.is_some() {
            return Ok(());
        }
        let dir = self.broker_dir();
        let port = self
            .proxy
            .as_ref()
            .map_or(self.broker.ports().tls, CutProxy::port);
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.tmp.path().join("host-sim.log"))
            .map_err(|e| Failure(format!("host-sim log: {e}")))?;
        let mut cmd = Command::new(workspace_program(HOST_SIM)?);
        cmd.arg("mqtt")
            .arg(format!("--broker=localhost:{port}"))
            .arg(format!("--channel={CHANNEL}"))
            .arg(format!("--ca={}", dir.join("ca.crt").display()))
            .arg(format!(
                "--cert={}",
                dir.join(format!("devices/{CHANNEL}.crt")).display()
            ))
            .arg(format!(
                "--key={}",
                dir.join(format!("devices/{CHANNEL}.key")).display()
            ))
            .arg(format!(
                "--disk=A={}",
                self.tmp.path().join("cpm63k.dsk").display()
            ))
            .arg(format!(
                "--rom=0xFF00={}",
                self.tmp.path().join("88dskrom.bin").display()
            ))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(mhz) = self.options.mhz {
            cmd.arg(format!("--mhz={mhz}"));
        }
        if let Some(rule) = self.options.echo_suppression {
            cmd.arg(format!("--echo-suppression={rule}"));
        }
        let child = cmd
            .spawn()
            .map_err(|e| Failure(format!("cannot start host-sim: {e}")))?;
        self.device = Some(child);
        Ok(())
    }

    /// Kills the device process (a power cut).
    pub fn stop_device(&mut self) {
        if let Some(mut child) = self.device.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for LocalRig {
    fn drop(&mut self) {
        self.stop_device();
        if self.options.quiet {
            return;
        }
        // The test harness shows a test's output only when it fails: then these say what
        // the device and the broker saw.
        println!("--- host-sim's log ---\n{}", self.device_log());
        println!("--- mosquitto's log ---\n{}", self.broker.log());
    }
}

/// The web user's password: made up per rig, never a fixed string in the repository.
fn web_password(tmp: &Path) -> String {
    let name = tmp
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    format!("hil-{name}-{}", std::process::id())
}
