//! [`LocalRig`]: a whole system on this host for the scenarios: a broker provisioned by
//! `altair-cloud broker init`, Mosquitto on free ports, and `host-sim mqtt` booting CP/M
//! from a copy of `../shared/disks/cpm63k.dsk`, optionally through a [`CutProxy`]. With
//! [`RigOptions::virtual_disk`] the copy is the channel's image on the disk server
//! (`altair-cloud vdisk serve` on the local listener) and drive A is `mqtt`.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use altair_cloud::broker::{InitOptions, WebUserOption, init};
use altair_cloud::local_broker::{LocalBroker, Ports};
use altair_cloud::mqtt::{BrokerUrl, Endpoint, Scheme};

use crate::programs::{ALTAIR_CLOUD, HOST_SIM, workspace_program};
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
    /// Drive A is the virtual disk, served by `altair-cloud vdisk serve`.
    pub virtual_disk: bool,
    /// More arguments for `host-sim mqtt` (such as `--vdisk-no-read-ahead`).
    pub device_args: Vec<String>,
    /// Run the device as the firmware's Cortex-M4 image under QEMU (this ELF, built by
    /// `scripts/qemu-build.sh`) instead of `host-sim mqtt`. Drive A is then always the
    /// virtual disk, and `device_args` and `echo_suppression` cannot be given.
    pub qemu_image: Option<PathBuf>,
    /// Skip the guest's echo of typed text, as the original firmware does, by this rule
    /// (`host-sim --echo-suppression count` or `matching`); `None` echoes everything.
    pub echo_suppression: Option<&'static str>,
}

/// Mosquitto and `host-sim mqtt` on this host; both stop when dropped.
pub struct LocalRig {
    broker: LocalBroker,
    proxy: Option<CutProxy>,
    device: Option<Child>,
    disk_server: Option<Child>,
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
        if options.qemu_image.is_some() {
            // The image has the development PKI baked in: the broker must be made from the
            // same CA, with the device certificate the image carries (init keeps both).
            copy_dev_pki(&dir)?;
        }
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
        fs::create_dir(tmp.path().join("disks"))
            .map_err(|e| Failure(format!("disks folder: {e}")))?;
        let virtual_disk = options.virtual_disk || options.qemu_image.is_some();
        let disk_copy = match virtual_disk {
            true => format!("disks/{CHANNEL}.dsk"),
            false => "cpm63k.dsk".to_owned(),
        };
        for (name, copy) in [
            ("cpm63k.dsk", disk_copy.as_str()),
            ("88dskrom.bin", "88dskrom.bin"),
        ] {
            let from = shared.join("disks").join(name);
            let to = tmp.path().join(copy);
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
            disk_server: None,
            options,
            tmp,
        };
        if virtual_disk {
            rig.options.virtual_disk = true;
            rig.start_disk_server()?;
        }
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

    /// The disk image the device boots from: the disk server's image of the channel with
    /// [`RigOptions::virtual_disk`], else host-sim's own file.
    pub fn disk_image(&self) -> PathBuf {
        match self.options.virtual_disk {
            true => self.tmp.path().join(format!("disks/{CHANNEL}.dsk")),
            false => self.tmp.path().join("cpm63k.dsk"),
        }
    }

    /// What the disk server has logged so far.
    pub fn disk_server_log(&self) -> String {
        fs::read_to_string(self.tmp.path().join("vdisk.log")).unwrap_or_default()
    }

    /// Starts `altair-cloud vdisk serve --all` on the local listener (again, after
    /// [`LocalRig::kill_disk_server`]) and waits until it serves.
    pub fn start_disk_server(&mut self) -> Result<(), Failure> {
        if self.disk_server.is_some() {
            return Ok(());
        }
        let log_path = self.tmp.path().join("vdisk.log");
        let before = self.disk_server_log().matches("vdisk: serving").count();
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| Failure(format!("vdisk log: {e}")))?;
        let child = Command::new(workspace_program(ALTAIR_CLOUD)?)
            .args(["vdisk", "serve", "--all", "--broker"])
            .arg(format!("mqtt://127.0.0.1:{}", self.broker.ports().local))
            .arg("--dir")
            .arg(self.tmp.path().join("disks"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| Failure(format!("cannot start the disk server: {e}")))?;
        self.disk_server = Some(child);
        let deadline = std::time::Instant::now() + crate::STEP_TIMEOUT;
        while self.disk_server_log().matches("vdisk: serving").count() == before {
            if std::time::Instant::now() > deadline {
                return Err(Failure(format!(
                    "the disk server did not start:\n{}",
                    self.disk_server_log()
                )));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Ok(())
    }

    /// Kills the disk server at once (SIGKILL, a crash).
    pub fn kill_disk_server(&mut self) {
        if let Some(mut child) = self.disk_server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
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
        if let Some(image) = &self.options.qemu_image {
            let mut cmd = qemu(image, port);
            if let Some(mhz) = self.options.mhz {
                cmd.arg("-append").arg(format!("mhz={mhz}"));
            }
            let child = cmd
                .stdin(Stdio::null())
                .stdout(log.try_clone().map_err(|e| Failure(format!("log: {e}")))?)
                .stderr(log)
                .spawn()
                .map_err(|e| Failure(format!("cannot start qemu-system-arm: {e}")))?;
            self.device = Some(child);
            return Ok(());
        }
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
            .arg(match self.options.virtual_disk {
                true => "--disk=A=mqtt".to_owned(),
                false => format!("--disk=A={}", self.disk_image().display()),
            })
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
        cmd.args(&self.options.device_args);
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
        self.kill_disk_server();
        if self.options.quiet {
            return;
        }
        if self.options.virtual_disk {
            println!("--- the disk server's log ---\n{}", self.disk_server_log());
        }
        // The test harness shows a test's output only when it fails: then these say what
        // the device and the broker saw.
        println!("--- host-sim's log ---\n{}", self.device_log());
        println!("--- mosquitto's log ---\n{}", self.broker.log());
    }
}

/// QEMU's `mps2-an386` with `image`, UART0 a TCP client of `port` on 127.0.0.1 that
/// reconnects a second after the link drops (docs/reference.md section 6).
fn qemu(image: &Path, port: u16) -> Command {
    let mut cmd = Command::new(QEMU);
    cmd.args(["-M", "mps2-an386", "-nographic", "-monitor", "none"])
        .args(["-semihosting-config", "enable=on,target=native"])
        .arg("-kernel")
        .arg(image)
        .arg("-chardev")
        .arg(format!(
            "socket,id=s0,host=127.0.0.1,port={port},reconnect=1"
        ))
        .args(["-serial", "chardev:s0"]);
    cmd
}

/// The emulator the QEMU rig runs.
pub const QEMU: &str = "qemu-system-arm";

/// The QEMU image `scripts/qemu-build.sh` makes: `$ALTAIR_QEMU_IMAGE`, else its place in
/// this workspace's target folder, if it is there.
pub fn qemu_image() -> Option<PathBuf> {
    let path = match std::env::var_os("ALTAIR_QEMU_IMAGE") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/thumbv7em/thumbv7em-none-eabihf/device/altair-qemu"),
    };
    path.is_file().then_some(path)
}

/// Copies the development PKI (`certs/dev`: the CA and device `1`, which the QEMU image
/// bakes in) to `dir`, the broker directory about to be made.
fn copy_dev_pki(dir: &Path) -> Result<(), Failure> {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs/dev");
    let copy = |rel: &str| {
        let to = dir.join(rel);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| Failure(format!("{}: {e}", parent.display())))?;
        }
        fs::copy(from.join(rel), &to)
            .map(drop)
            .map_err(|e| Failure(format!("copy {}: {e}", from.join(rel).display())))
    };
    for rel in ["ca.crt", "ca.key", "devices/1.crt", "devices/1.key"] {
        copy(rel)?;
    }
    Ok(())
}

/// The web user's password: made up per rig, never a fixed string in the repository.
fn web_password(tmp: &Path) -> String {
    let name = tmp
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    format!("hil-{name}-{}", std::process::id())
}
