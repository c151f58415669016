//! [`Rig`]: the device under test, wherever it is: a remote target from the environment,
//! or a [`LocalRig`] started for this test.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{Failure, LocalRig, RigOptions, Target, Terminal};

/// Terminals made in this process, to give each a distinct client id.
static TERMINALS: AtomicUsize = AtomicUsize::new(0);

/// The device a test drives.
pub struct Rig {
    test: String,
    target: Target,
    local: Option<LocalRig>,
}

impl Rig {
    /// The remote target if the environment names one, else a local rig with default
    /// options. `Ok(None)` (after printing why) when the local rig cannot run here:
    /// Mosquitto or `../shared` missing.
    pub fn start(test: &str) -> Result<Option<Rig>, Failure> {
        if let Some(target) = Target::from_env()? {
            return Ok(Some(Rig {
                test: test.to_owned(),
                target,
                local: None,
            }));
        }
        Self::start_local(test, RigOptions::default())
    }

    /// A local rig even when a remote target is configured, for tests that must control
    /// the broker or the link; `Ok(None)` (after printing why) when it cannot run here.
    ///
    /// With `ALTAIR_HIL_DEVICE=qemu` the device is the firmware's Cortex-M4 image under
    /// QEMU ([`RigOptions::qemu_image`]; `scripts/qemu-build.sh` builds it) instead of
    /// `host-sim mqtt`; a test that needs host-sim's own options is skipped then.
    pub fn start_local(test: &str, mut options: RigOptions) -> Result<Option<Rig>, Failure> {
        if std::env::var("ALTAIR_HIL_DEVICE").as_deref() == Ok("qemu") {
            if !options.device_args.is_empty() || options.echo_suppression.is_some() {
                println!(
                    "SKIPPED {test}: it needs host-sim's own options (ALTAIR_HIL_DEVICE=qemu)"
                );
                return Ok(None);
            }
            let Some(image) = crate::local::qemu_image() else {
                return Err(Failure(
                    "ALTAIR_HIL_DEVICE=qemu but no QEMU image: run scripts/qemu-build.sh (or set \
                     ALTAIR_QEMU_IMAGE)"
                        .into(),
                ));
            };
            if altair_cloud::programs::find_program(crate::local::QEMU).is_none() {
                return Err(Failure(format!(
                    "ALTAIR_HIL_DEVICE=qemu but {} is not installed (Debian: qemu-system-arm)",
                    crate::local::QEMU
                )));
            }
            options.qemu_image = Some(image);
        }
        let missing = altair_cloud::programs::missing_mosquitto();
        if !missing.is_empty() {
            println!(
                "SKIPPED {test}: {} not installed (Debian: apt-get install mosquitto mosquitto-clients)",
                missing.join(", ")
            );
            return Ok(None);
        }
        let Some(shared) = host_sim::media::shared_dir() else {
            println!("SKIPPED {test}: ../shared not found (set ALTAIR_SHARED to its path)");
            return Ok(None);
        };
        let local = LocalRig::start(&shared, options)?;
        Ok(Some(Rig {
            test: test.to_owned(),
            target: local.target(),
            local: Some(local),
        }))
    }

    /// A new terminal attached to the device.
    pub fn terminal(&self) -> Result<Terminal, Failure> {
        let n = TERMINALS.fetch_add(1, Ordering::SeqCst);
        let id = format!("hil-{}-{}-{n}", short(&self.test), std::process::id());
        Terminal::attach(&self.target, &id)
    }

    /// The target the terminals log in to.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The local rig, when the device runs on this host.
    pub fn local(&mut self) -> Option<&mut LocalRig> {
        self.local.as_mut()
    }
}

/// The first 20 characters of a test name: client ids stay short.
fn short(test: &str) -> &str {
    test.char_indices()
        .nth(20)
        .map_or(test, |(i, _)| &test[..i])
}
