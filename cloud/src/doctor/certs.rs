//! Checks 2-5: the certificate chain, validity dates, the server's DNS names, the devices'
//! common names, and that every key belongs to its certificate. Offline: files only.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use altair_pki::CertInfo;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use super::{Check, Ctx};

/// A certificate and its key, and what the lines about it are called.
struct Pair {
    /// e.g. `server certificate` or `device "kitchen" certificate`.
    label: String,
    /// e.g. `server key`.
    key_label: String,
    /// The certificate file.
    cert: PathBuf,
    /// The key file.
    key: PathBuf,
    /// How to make a new pair.
    remake: String,
}

/// The date of a time, as `YYYY-MM-DD` (UTC).
pub(crate) fn date(at: SystemTime) -> String {
    let secs = match at.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day)
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Whole days from `now` until `later` (0 if `later` has passed).
fn days_until(now: SystemTime, later: SystemTime) -> u64 {
    later
        .duration_since(now)
        .unwrap_or(Duration::ZERO)
        .as_secs()
        / 86_400
}

/// Loads a certificate, or the failed line saying why it cannot be.
fn load(pair: &Pair) -> Result<CertInfo, Check> {
    CertInfo::load(&pair.cert).map_err(|e| Check::fail(&pair.label, e.to_string(), &pair.remake))
}

/// Check 2: `ca` signed the certificate, and it may be used as `usage` wants.
fn chain(pair: &Pair, info: &CertInfo, ca: &CertInfo, server: bool) -> Check {
    let name = format!("{} chain", pair.label);
    if info.check_signed_by(ca).is_err() {
        return Check::fail(
            name,
            format!(
                "{} is not signed by {} (it was made by another CA)",
                pair.cert.display(),
                ca.origin.display()
            ),
            &pair.remake,
        );
    }
    let (usable, role) = if server {
        (info.server_auth, "TLS server")
    } else {
        (info.client_auth, "TLS client")
    };
    if !usable {
        return Check::fail(
            name,
            format!("its extended key usage does not allow a {role}"),
            &pair.remake,
        );
    }
    Check::pass(name, format!("signed by {}", ca.origin.display()))
}

/// Check 3: the certificate is valid now and for more than `warn_days`.
fn dates(ctx: &Ctx<'_>, label: &str, info: &CertInfo, remake: &str) -> Check {
    let name = format!("{label} dates");
    let v = &info.validity;
    let now = ctx.now;
    if now < v.not_before {
        return Check::fail(
            name,
            format!(
                "not valid before {}, and this machine's clock says {}",
                date(v.not_before),
                date(now)
            ),
            format!("check the clock (timedatectl); if it is right: {remake}"),
        );
    }
    if now > v.not_after {
        return Check::fail(name, format!("expired on {}", date(v.not_after)), remake);
    }
    let left = days_until(now, v.not_after);
    if left < ctx.options.warn_days {
        return Check::warn(
            name,
            format!("expires on {}, in {left} days", date(v.not_after)),
            remake,
        );
    }
    Check::pass(name, format!("valid until {}", date(v.not_after)))
}

/// Whether a certificate DNS name (possibly `*.domain`) covers `host`.
fn name_covers(pattern: &str, host: &str) -> bool {
    let (pattern, host) = (pattern.to_ascii_lowercase(), host.to_ascii_lowercase());
    match pattern.strip_prefix("*.") {
        Some(domain) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == domain),
        None => pattern == host,
    }
}

/// Check 4: the certificate's DNS names include the broker's host name.
fn server_name(ctx: &Ctx<'_>, pair: &Pair, info: &CertInfo) -> Check {
    let name = format!("{} name", pair.label);
    let host = &ctx.setup.host;
    if info.dns_names.iter().any(|n| name_covers(n, host)) {
        return Check::pass(name, format!("valid for \"{host}\""));
    }
    let names = if info.dns_names.is_empty() {
        "no DNS name at all".to_owned()
    } else {
        info.dns_names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Check::fail(
        name,
        format!("it is for {names}, but broker.toml says the host is \"{host}\""),
        &pair.remake,
    )
}

/// Check 5: a device certificate's common name is the device id.
fn device_name(pair: &Pair, info: &CertInfo, id: &str) -> Check {
    let name = format!("{} name", pair.label);
    match info.common_name.as_deref() {
        Some(cn) if cn == id => Check::pass(name, format!("common name \"{cn}\"")),
        found => Check::fail(
            name,
            format!(
                "its common name is {}, not \"{id}\": the broker would take it for another \
                 device",
                found.map_or("missing".to_owned(), |cn| format!("\"{cn}\""))
            ),
            &pair.remake,
        ),
    }
}

/// Whether the key file holds the private key of the certificate.
fn key_fits(pair: &Pair, info: &CertInfo) -> Check {
    let name = pair.key_label.clone();
    let key = match PrivateKeyDer::from_pem_file(&pair.key) {
        Ok(key) => key,
        Err(e) => {
            return Check::fail(
                name,
                format!(
                    "cannot read {}: {}",
                    pair.key.display(),
                    crate::mqtt::pem_problem(&e)
                ),
                &pair.remake,
            );
        }
    };
    let provider = rustls::crypto::ring::default_provider();
    let cert = CertificateDer::from(info.der().to_vec());
    match CertifiedKey::from_der(vec![cert], key, &provider) {
        Ok(_) => Check::pass(
            name,
            format!("{} belongs to {}", pair.key.display(), pair.cert.display()),
        ),
        Err(rustls::Error::InconsistentKeys(_)) => Check::fail(
            name,
            format!(
                "{} is not the key of {} (one of the two was replaced)",
                pair.key.display(),
                pair.cert.display()
            ),
            &pair.remake,
        ),
        Err(e) => Check::fail(
            name,
            format!("{} is not a usable key: {e}", pair.key.display()),
            &pair.remake,
        ),
    }
}

/// The CA lines; returns the CA for the chain checks if it could be loaded.
fn ca_checks(ctx: &Ctx<'_>, out: &mut Vec<Check>) -> Option<CertInfo> {
    let remake = format!(
        "restore {} from a backup; a new CA (move {} away, then run: {}) means new device \
         certificates and rebuilt firmware",
        ctx.show("ca.crt"),
        ctx.dir.display(),
        ctx.init_command()
    );
    let pair = Pair {
        label: "CA certificate".into(),
        key_label: "CA key".into(),
        cert: ctx.path("ca.crt"),
        key: ctx.path("ca.key"),
        remake,
    };
    let info = match load(&pair) {
        Ok(info) => info,
        Err(failed) => {
            out.push(failed);
            return None;
        }
    };
    if !info.is_ca {
        out.push(Check::fail(
            "CA certificate",
            format!("{} is not a CA certificate", pair.cert.display()),
            &pair.remake,
        ));
    }
    out.push(dates(ctx, &pair.label, &info, &pair.remake));
    out.push(key_fits(&pair, &info));
    Some(info)
}

/// The lines for one server or device certificate.
fn leaf_checks(
    ctx: &Ctx<'_>,
    pair: &Pair,
    ca: Option<&CertInfo>,
    device: Option<&str>,
    out: &mut Vec<Check>,
) {
    let info = match load(pair) {
        Ok(info) => info,
        Err(failed) => return out.push(failed),
    };
    match ca {
        Some(ca) => out.push(chain(pair, &info, ca, device.is_none())),
        None => out.push(Check::skip(
            format!("{} chain", pair.label),
            "ca.crt could not be read",
            "fix the CA certificate first",
        )),
    }
    out.push(dates(ctx, &pair.label, &info, &pair.remake));
    out.push(match device {
        Some(id) => device_name(pair, &info, id),
        None => server_name(ctx, pair, &info),
    });
    out.push(key_fits(pair, &info));
}

/// The Let's Encrypt certificate of the browser listener, if `letsencrypt_dir` is set.
fn letsencrypt_checks(ctx: &Ctx<'_>, out: &mut Vec<Check>) {
    let Some(le) = &ctx.setup.letsencrypt_dir else {
        return;
    };
    let pair = Pair {
        label: "Let's Encrypt certificate".into(),
        key_label: "Let's Encrypt key".into(),
        cert: le.join("fullchain.pem"),
        key: le.join("privkey.pem"),
        remake: format!(
            "renew it: certbot renew (or certbot certonly -d {}), then restart mosquitto",
            ctx.setup.host
        ),
    };
    let info = match load(&pair) {
        Ok(info) => info,
        Err(failed) => return out.push(failed),
    };
    out.push(dates(ctx, &pair.label, &info, &pair.remake));
    out.push(server_name(ctx, &pair, &info));
    out.push(key_fits(&pair, &info));
}

/// Checks 2-5 for the CA, the server, every device and the Let's Encrypt certificate.
pub(crate) fn check(ctx: &Ctx<'_>) -> Vec<Check> {
    let mut out = Vec::new();
    let ca = ca_checks(ctx, &mut out);
    let server = Pair {
        label: "server certificate".into(),
        key_label: "server key".into(),
        cert: ctx.path("server.crt"),
        key: ctx.path("server.key"),
        remake: ctx.reissue_server(),
    };
    leaf_checks(ctx, &server, ca.as_ref(), None, &mut out);
    for id in &ctx.setup.devices {
        let device = Pair {
            label: format!("device \"{id}\" certificate"),
            key_label: format!("device \"{id}\" key"),
            cert: ctx.path(&format!("devices/{id}.crt")),
            key: ctx.path(&format!("devices/{id}.key")),
            remake: ctx.reissue_device(id),
        };
        leaf_checks(ctx, &device, ca.as_ref(), Some(id), &mut out);
    }
    letsencrypt_checks(ctx, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use altair_pki::{Ca, Validity};

    use super::*;
    use crate::doctor::fixture::{ctx, setup};
    use crate::doctor::{Options, Status};

    fn server_info(host: &str) -> CertInfo {
        let ca = Ca::generate("test CA", Validity::ca_default()).unwrap();
        let issued = ca.issue_server(host, Validity::days_from_now(100)).unwrap();
        CertInfo::parse(&issued.cert_pem, Path::new("server.crt")).unwrap()
    }

    #[test]
    fn dates_pass_warn_and_fail() {
        let (setup, options) = (setup(), Options::default());
        let info = server_info("mqtt.example");
        let at = |now| Ctx {
            now,
            ..ctx(&setup, &options)
        };
        let day = Duration::from_secs(86_400);
        let v = info.validity;
        let status = |now| dates(&at(now), "server certificate", &info, "fix").status;
        assert_eq!(status(SystemTime::now()), Status::Pass);
        assert_eq!(status(v.not_after - 10 * day), Status::Warn);
        assert_eq!(status(v.not_after + day), Status::Fail);
        let early = dates(&at(v.not_before - day), "server certificate", &info, "fix");
        assert_eq!(early.status, Status::Fail);
        assert!(early.detail.contains("clock"), "{early}");
    }

    #[test]
    fn server_names_are_compared_with_the_host() {
        let (setup, options) = (setup(), Options::default());
        let ctx = ctx(&setup, &options);
        let pair = Pair {
            label: "server certificate".into(),
            key_label: "server key".into(),
            cert: "server.crt".into(),
            key: "server.key".into(),
            remake: "fix".into(),
        };
        let good = server_name(&ctx, &pair, &server_info("mqtt.example"));
        assert_eq!(good.status, Status::Pass, "{good}");
        let bad = server_name(&ctx, &pair, &server_info("other.example"));
        assert_eq!(bad.status, Status::Fail);
        assert!(
            bad.detail.contains(
                "it is for \"other.example\", but broker.toml says the host is \"mqtt.example\""
            ),
            "{bad}"
        );
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(date(UNIX_EPOCH), "1970-01-01");
        assert_eq!(
            date(UNIX_EPOCH + Duration::from_secs(1_709_251_200)),
            "2024-03-01"
        );
        assert_eq!(
            date(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29"
        );
    }

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_covers("*.example.com", "mqtt.example.com"));
        assert!(!name_covers("*.example.com", "a.b.example.com"));
        assert!(!name_covers("*.example.com", "example.com"));
        assert!(name_covers("MQTT.example.com", "mqtt.EXAMPLE.com"));
        assert!(!name_covers("foo.example", "bar.example"));
    }
}
