//! Reading private keys.

use std::path::Path;

use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256};

use crate::PkiError;

/// The PKCS#8 DER form of a PEM private key (`-----BEGIN PRIVATE KEY-----`), which must be
/// an ECDSA P-256 key (what the device's TLS stack loads with `from_pkcs8_der`); `origin`
/// names the key in errors.
pub fn private_key_der(key_pem: &str, origin: &Path) -> Result<Vec<u8>, PkiError> {
    let invalid = |reason: String| PkiError::Invalid {
        path: origin.to_path_buf(),
        reason,
    };
    let key = KeyPair::from_pem(key_pem)
        .map_err(|e| invalid(format!("not a PKCS#8 PEM private key ({e})")))?;
    if key.algorithm() != &PKCS_ECDSA_P256_SHA256 {
        return Err(invalid(
            "is not an ECDSA P-256 key (the only kind the devices use)".into(),
        ));
    }
    Ok(key.serialize_der())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ca, Validity};

    #[test]
    fn p256_keys_convert_and_garbage_is_named() {
        let ca = Ca::generate("ca", Validity::ca_default()).unwrap();
        let dev = ca.issue_client("d", Validity::leaf_default()).unwrap();
        let der = private_key_der(&dev.key_pem, Path::new("d.key")).unwrap();
        // PKCS#8: a SEQUENCE holding the P-256 key.
        assert_eq!(der[0], 0x30);
        assert!(KeyPair::try_from(der.as_slice()).is_ok());
        let e = private_key_der("nonsense", Path::new("/x/d.key")).unwrap_err();
        assert!(e.to_string().contains("/x/d.key"), "{e}");
        let e = private_key_der(&dev.cert_pem, Path::new("d.crt")).unwrap_err();
        assert!(e.to_string().contains("d.crt"), "{e}");
    }
}
