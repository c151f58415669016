//! The certificates of a broker directory: the CA (made once, then only reused), the
//! server certificate (reissued when the host changes or it is missing, broken or about
//! to expire: devices trust the CA, not this certificate, so that is safe) and one
//! certificate per device (made once; a device keeps its certificate).

use std::path::Path;
use std::time::{Duration, SystemTime};

use altair_pki::{Ca, CertInfo, Created, PkiError, Validity, create_private_dir, read_text};

use crate::broker::Report;
use crate::broker::error::InitError;
use crate::broker::layout::Layout;
use crate::broker::owner::Ownership;

/// The common name of a CA made by init.
pub const CA_COMMON_NAME: &str = "altair-sphere CA";
/// A server certificate closer than this to its end is renewed by init.
pub const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Loads the CA of the directory, or makes it.
pub fn ensure_ca(layout: &Layout, report: &mut Report) -> Result<Ca, InitError> {
    let (ca, created) = Ca::load_or_create(layout.dir(), CA_COMMON_NAME)?;
    report.done(match created {
        Created::New => format!("made a new CA: {}", layout.ca_crt().display()),
        Created::Reused => format!("kept the CA {}", layout.ca_crt().display()),
    });
    Ok(ca)
}

fn exists(path: &Path) -> Result<bool, InitError> {
    path.try_exists().map_err(|source| InitError::Io {
        path: path.to_path_buf(),
        action: "check",
        source,
    })
}

/// Why the existing server certificate cannot stay, or `None` if it can.
fn server_fault(layout: &Layout, ca: &Ca, host: &str) -> Result<Option<String>, InitError> {
    let (crt, key) = (layout.server_crt(), layout.server_key());
    match (exists(&crt)?, exists(&key)?) {
        (false, false) => return Ok(Some("there was none".into())),
        (true, false) => return Ok(Some(format!("{} was missing", key.display()))),
        (false, true) => return Ok(Some(format!("{} was missing", crt.display()))),
        (true, true) => {}
    }
    let info = match CertInfo::load(&crt) {
        Ok(info) => info,
        Err(e) => return Ok(Some(format!("it was unreadable ({e})"))),
    };
    if !info.dns_names.iter().any(|n| n == host) {
        return Ok(Some(format!(
            "it was for {}, the host is now {host}",
            info.dns_names.join(", ")
        )));
    }
    if info.check_signed_by(ca.info()).is_err() {
        return Ok(Some(format!(
            "it was not issued by {}",
            layout.ca_crt().display()
        )));
    }
    let key_pem = read_text(&key)?;
    if !info.is_key_of(&key_pem) {
        return Ok(Some(format!(
            "{} was not its key",
            layout.server_key().display()
        )));
    }
    if info.validity.not_after < SystemTime::now() + RENEW_BEFORE {
        return Ok(Some("it expires within 30 days".into()));
    }
    Ok(None)
}

/// Keeps the server certificate for `host`, or issues a new one and says why.
pub fn ensure_server(
    layout: &Layout,
    ca: &Ca,
    host: &str,
    owner: &Ownership,
    report: &mut Report,
) -> Result<(), InitError> {
    match server_fault(layout, ca, host)? {
        None => report.done(format!(
            "kept the server certificate for {host}: {}",
            layout.server_crt().display()
        )),
        Some(reason) => {
            let issued = ca.issue_server(host, Validity::leaf_default())?;
            issued.write(&layout.server_crt(), &layout.server_key())?;
            report.done(format!(
                "issued a new server certificate for {host} ({reason}): {}",
                layout.server_crt().display()
            ));
        }
    }
    let key = layout.server_key();
    owner.give(&key).map_err(|source| InitError::Io {
        path: key,
        action: "give the broker user",
        source,
    })
}

/// Keeps each device's certificate, or issues one for a new device.
pub fn ensure_devices(
    layout: &Layout,
    ca: &Ca,
    devices: &[String],
    report: &mut Report,
) -> Result<(), InitError> {
    create_private_dir(&layout.devices_dir())?;
    for id in devices {
        let (crt, key) = (layout.device_crt(id), layout.device_key(id));
        match (exists(&crt)?, exists(&key)?) {
            (false, false) => {
                let issued = ca.issue_client(id, Validity::leaf_default())?;
                issued.write(&crt, &key)?;
                report.done(format!(
                    "issued a certificate for device {id}: {}",
                    crt.display()
                ));
            }
            (true, false) => {
                return Err(PkiError::IncompletePair {
                    present: crt,
                    missing: key,
                }
                .into());
            }
            (false, true) => {
                return Err(PkiError::IncompletePair {
                    present: key,
                    missing: crt,
                }
                .into());
            }
            (true, true) => {
                report.done(format!("kept device {id}: {}", crt.display()));
                if let Some(problem) = device_problem(&crt, &key, ca, id)? {
                    report.warn(format!(
                        "{problem}; to reissue, move {} and {} away and run init again \
                         (then reprovision the device)",
                        crt.display(),
                        key.display()
                    ));
                }
            }
        }
    }
    Ok(())
}

fn device_problem(crt: &Path, key: &Path, ca: &Ca, id: &str) -> Result<Option<String>, InitError> {
    let info = CertInfo::load(crt)?;
    let name = crt.display();
    Ok(if info.common_name.as_deref() != Some(id) {
        Some(format!("{name} is for {:?}, not {id:?}", info.common_name))
    } else if info.check_signed_by(ca.info()).is_err() {
        Some(format!("{name} was not issued by the CA ca.crt"))
    } else if !info.is_key_of(&read_text(key)?) {
        Some(format!("{} is not the key of {name}", key.display()))
    } else if info.validity.not_after < SystemTime::now() {
        Some(format!("{name} has expired"))
    } else if info.validity.not_after < SystemTime::now() + RENEW_BEFORE {
        Some(format!("{name} expires within 30 days"))
    } else {
        None
    })
}
