//! The certificate authority, and the certificates it issues.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use time::OffsetDateTime;

use crate::{
    CertInfo, PkiError, Validity, check_device_id, check_host_name, create_private_dir, read_text,
    write_private, write_public,
};

/// File name of the CA certificate in a PKI directory.
pub const CA_CERT_FILE: &str = "ca.crt";
/// File name of the CA private key in a PKI directory.
pub const CA_KEY_FILE: &str = "ca.key";

/// Whether [`Ca::load_or_create`] made a new CA or found one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    /// There was no CA: a new one was made and written.
    New,
    /// The existing `ca.crt` + `ca.key` were loaded, unchanged.
    Reused,
}

/// A certificate and its private key, as PEM text (the key in PKCS#8).
#[derive(Clone)]
pub struct Issued {
    /// The certificate, `-----BEGIN CERTIFICATE-----`.
    pub cert_pem: String,
    /// The private key, `-----BEGIN PRIVATE KEY-----` (PKCS#8). Secret.
    pub key_pem: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key, not even in a debug dump.
        f.debug_struct("Issued")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<secret>")
            .finish()
    }
}

impl Issued {
    /// Writes the certificate to `cert_path` (mode 0644) and the key to `key_path`
    /// (mode 0600), the key first so that a certificate never exists without its key.
    pub fn write(&self, cert_path: &Path, key_path: &Path) -> Result<(), PkiError> {
        write_private(key_path, &self.key_pem)?;
        write_public(cert_path, &self.cert_pem)
    }
}

/// A certificate authority: its certificate and the key that signs what it issues.
pub struct Ca {
    cert_pem: String,
    info: CertInfo,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").field("info", &self.info).finish()
    }
}

fn generate_error(what: impl Into<String>) -> impl FnOnce(rcgen::Error) -> PkiError {
    let what = what.into();
    move |source| PkiError::Generate { what, source }
}

fn new_key(what: &str) -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(generate_error(format!("key for {what}")))
}

fn params(common_name: &str, validity: Validity) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.not_before = OffsetDateTime::from(validity.not_before);
    params.not_after = OffsetDateTime::from(validity.not_after);
    params
}

impl Ca {
    /// Loads the CA in `dir` (`ca.crt` + `ca.key`) if both files exist, or makes a new one
    /// with the given common name, valid for [`Validity::ca_default`], and writes it there
    /// (creating `dir` with mode 0700 if it is missing).
    ///
    /// An existing CA is never replaced: if only one of the two files exists, this fails
    /// naming both, and if they exist but are unreadable or do not match, it fails too.
    pub fn load_or_create(dir: &Path, common_name: &str) -> Result<(Ca, Created), PkiError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let exists = |p: &Path| {
            p.try_exists().map_err(|source| PkiError::Io {
                path: p.to_path_buf(),
                action: "check",
                source,
            })
        };
        match (exists(&cert_path)?, exists(&key_path)?) {
            (true, true) => Ok((Self::load(dir)?, Created::Reused)),
            (true, false) => Err(PkiError::IncompletePair {
                present: cert_path,
                missing: key_path,
            }),
            (false, true) => Err(PkiError::IncompletePair {
                present: key_path,
                missing: cert_path,
            }),
            (false, false) => {
                let ca = Self::generate(common_name, Validity::ca_default())?;
                create_private_dir(dir)?;
                ca.write(dir)?;
                Ok((ca, Created::New))
            }
        }
    }

    /// Loads the CA in `dir` (`ca.crt` + `ca.key`); both must exist, the certificate must
    /// be a CA certificate and the key must be its key.
    pub fn load(dir: &Path) -> Result<Ca, PkiError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let cert_pem = read_text(&cert_path)?;
        let key_pem = read_text(&key_path)?;
        let info = CertInfo::parse(&cert_pem, &cert_path)?;
        if !info.is_ca {
            return Err(PkiError::Invalid {
                path: cert_path,
                reason: "is not a CA certificate (no basic constraints CA:TRUE)".into(),
            });
        }
        let key = KeyPair::from_pem(&key_pem).map_err(|e| PkiError::Invalid {
            path: key_path.clone(),
            reason: format!("not a PKCS#8 PEM private key ({e})"),
        })?;
        if key.public_key_raw() != info.public_key.as_slice() {
            return Err(PkiError::KeyMismatch {
                cert: cert_path,
                key: key_path,
            });
        }
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key).map_err(|e| PkiError::Invalid {
            path: cert_path,
            reason: format!("cannot be used to sign ({e})"),
        })?;
        Ok(Ca {
            cert_pem,
            info,
            issuer,
        })
    }

    /// Makes a new CA in memory (nothing is written; see [`Ca::write`]).
    ///
    /// The certificate may sign end-entity certificates only (path length 0).
    pub fn generate(common_name: &str, validity: Validity) -> Result<Ca, PkiError> {
        let what = format!("CA {common_name:?}");
        let key = new_key(&what)?;
        let mut params = params(common_name, validity);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).map_err(generate_error(&what))?;
        let cert_pem = cert.pem();
        let info = CertInfo::parse(&cert_pem, Path::new(CA_CERT_FILE))?;
        Ok(Ca {
            cert_pem,
            info,
            issuer: Issuer::new(params, key),
        })
    }

    /// Writes `ca.crt` (mode 0644) and `ca.key` (mode 0600) into `dir`, replacing them.
    /// [`Ca::load_or_create`] is the way that never replaces an existing CA.
    pub fn write(&self, dir: &Path) -> Result<(), PkiError> {
        write_private(&dir.join(CA_KEY_FILE), &self.issuer.key().serialize_pem())?;
        write_public(&dir.join(CA_CERT_FILE), &self.cert_pem)
    }

    /// The CA certificate as PEM text.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// What the CA certificate says (common name, dates).
    pub fn info(&self) -> &CertInfo {
        &self.info
    }

    /// Issues a TLS server certificate for `host`: common name and DNS subject alternative
    /// name `host`, extended key usage serverAuth, with a new P-256 key.
    pub fn issue_server(&self, host: &str, validity: Validity) -> Result<Issued, PkiError> {
        check_host_name(host)?;
        let mut params = params(host, validity);
        params.subject_alt_names = vec![rcgen::SanType::DnsName(
            host.try_into()
                .map_err(generate_error(format!("server certificate for {host}")))?,
        )];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params, &format!("server certificate for {host}"))
    }

    /// Issues a TLS client certificate for a device: common name `device_id` (what the
    /// broker takes as the user name), extended key usage clientAuth, with a new P-256 key.
    /// The id must pass [`check_device_id`].
    pub fn issue_client(&self, device_id: &str, validity: Validity) -> Result<Issued, PkiError> {
        check_device_id(device_id)?;
        let mut params = params(device_id, validity);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params, &format!("device certificate for {device_id}"))
    }

    fn issue(&self, mut params: CertificateParams, what: &str) -> Result<Issued, PkiError> {
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let key = new_key(what)?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(generate_error(what))?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}
