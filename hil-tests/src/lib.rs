//! Black-box tests for an altair-sphere device, which they reach only through the MQTT
//! broker, as a person at a terminal does.
//!
//! The same scenarios run against two kinds of target:
//! - **local** (the default, and CI): [`LocalRig`] provisions a broker with
//!   `altair-cloud broker init`, starts Mosquitto on free ports and `host-sim mqtt` with a
//!   CP/M disk from `../shared`;
//! - **remote**: a device (an MT3620, or the QEMU image) on a real broker, named by the
//!   environment ([`Target::from_env`]): `ALTAIR_HIL_BROKER`, `ALTAIR_HIL_CHANNEL` and the
//!   credentials.
//!
//! A scenario is a list of readable steps on a [`Terminal`]:
//!
//! ```no_run
//! # fn main() -> Result<(), altair_hil::Failure> {
//! let Some(mut rig) = altair_hil::Rig::start("dir_lists_the_disk")? else {
//!     return Ok(()); // skipped, and said why
//! };
//! let mut term = rig.terminal()?;
//! term.at_cpm_prompt()?;
//! term.type_text("DIR\r")?;
//! term.wait_for("MBASIC   COM")?;
//! term.wait_for("A>")?;
//! # Ok(())
//! # }
//! ```
//!
//! Tests that must control the broker or the link (restart Mosquitto, cut the connection)
//! need the local rig and skip against a remote target, saying so.

mod failure;
mod local;
mod programs;
mod proxy;
mod rig;
mod target;
mod terminal;

pub use failure::Failure;
pub use local::{LocalRig, QEMU, RigOptions, qemu_image};
pub use programs::{ALTAIR_CLOUD, HOST_SIM, Program, workspace_program};
pub use proxy::{CutProxy, Direction};
pub use rig::Rig;
pub use target::Target;
pub use terminal::{STEP_TIMEOUT, Status, Terminal};
