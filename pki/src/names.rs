//! The names certificates may carry.

use crate::PkiError;

/// Checks a device id: 1 to 64 characters from `A-Z a-z 0-9 _ -`.
///
/// A device id becomes the common name of the device's certificate, an MQTT topic level
/// (`altair/<id>/...`, where `+`, `#` and `/` would change the meaning) and a file name
/// (`devices/<id>.crt`, where `/` and `..` would escape the directory), so nothing else is
/// accepted.
pub fn check_device_id(id: &str) -> Result<(), PkiError> {
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(PkiError::BadName {
            kind: "device id",
            name: id.to_owned(),
            rule: "use 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-'",
        })
    }
}

/// Checks a host name for a server certificate: a DNS name (labels of letters, digits and
/// hyphens, separated by dots), not an IP address.
///
/// Devices check the broker's name against the certificate's DNS names only (IP address
/// names are not supported by the device's TLS stack), so the broker must be reached by a
/// DNS name, e.g. `localhost` for tests.
pub fn check_host_name(host: &str) -> Result<(), PkiError> {
    let bad = |rule| {
        Err(PkiError::BadName {
            kind: "host name",
            name: host.to_owned(),
            rule,
        })
    };
    let labels_ok = host.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    });
    if host.is_empty() || host.len() > 253 || !labels_ok {
        return bad("use a DNS name: labels of letters, digits and '-' separated by '.'");
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return bad("an IP address cannot be checked by the devices; use a DNS name");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids() {
        for good in ["a", "dev-1", "Kitchen_2", &"x".repeat(64)] {
            assert!(check_device_id(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a/b",
            "+",
            "#",
            "..",
            "a b",
            "é",
            "a.b",
            &"x".repeat(65),
        ] {
            let e = check_device_id(bad).unwrap_err().to_string();
            assert!(e.contains("device id"), "{e}");
        }
    }

    #[test]
    fn host_names() {
        for good in ["localhost", "mqtt.example.com", "a-1.b2"] {
            assert!(check_host_name(good).is_ok(), "{good}");
        }
        for bad in ["", "127.0.0.1", "a..b", "-a.b", "a_b.com", "a b", "ä.com"] {
            assert!(check_host_name(bad).is_err(), "{bad}");
        }
    }
}
