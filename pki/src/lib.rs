//! The one place altair-sphere makes certificates.
//!
//! Used by `altair-cloud broker init` (a broker's CA, server and device certificates) and,
//! as a build-dependency, by the root `build.rs` (the development PKI under `certs/`).
//! Everything is ECDSA P-256 with SHA-256 signatures; keys are PKCS#8 PEM
//! (`-----BEGIN PRIVATE KEY-----`).
//!
//! ```no_run
//! use altair_pki::{Ca, Validity, write_private, write_public};
//! use std::path::Path;
//!
//! # fn main() -> Result<(), altair_pki::PkiError> {
//! let dir = Path::new("/srv/altair");
//! let (ca, _created) = Ca::load_or_create(dir, "altair-sphere CA")?;
//! let device = ca.issue_client("kitchen", Validity::leaf_default())?;
//! write_public(&dir.join("kitchen.crt"), &device.cert_pem)?;
//! write_private(&dir.join("kitchen.key"), &device.key_pem)?;
//! # Ok(())
//! # }
//! ```
//!
//! - [`Ca`]: load or create `ca.crt` + `ca.key` in a directory (never replacing an existing
//!   CA), and issue server ([`Ca::issue_server`]) and device ([`Ca::issue_client`])
//!   certificates from it.
//! - [`Validity`]: the dates a certificate is valid between.
//! - [`write_private`], [`write_public`], [`create_private_dir`]: files with the right modes.
//! - [`CertInfo`]: what a certificate says (names, dates), and whether a CA signed it.
//! - [`private_key_der`]: a PEM key as the PKCS#8 DER the firmware bakes in.
//! - [`check_device_id`], [`check_host_name`]: the names certificates may carry.

mod ca;
mod error;
mod files;
mod inspect;
mod keys;
mod names;
mod validity;

pub use ca::{CA_CERT_FILE, CA_KEY_FILE, Ca, Created, Issued};
pub use error::PkiError;
pub use files::{create_private_dir, read_text, write_private, write_public};
pub use inspect::CertInfo;
pub use keys::private_key_der;
pub use names::{check_device_id, check_host_name};
pub use validity::Validity;
