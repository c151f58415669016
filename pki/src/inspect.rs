//! Reading what a certificate says.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer as _;

use crate::{PkiError, Validity, read_text};

/// What a PEM certificate says, as far as altair-sphere cares.
#[derive(Clone, Debug)]
pub struct CertInfo {
    /// The file (or other origin) the certificate was read from, for messages.
    pub origin: PathBuf,
    /// The subject's common name (for a device certificate: the device id).
    pub common_name: Option<String>,
    /// The DNS names of the subject alternative name extension (for a server certificate:
    /// the host names it is valid for).
    pub dns_names: Vec<String>,
    /// When the certificate is valid.
    pub validity: Validity,
    /// Whether it is a CA certificate (basic constraints `CA:TRUE`).
    pub is_ca: bool,
    /// Whether its extended key usage allows TLS servers.
    pub server_auth: bool,
    /// Whether its extended key usage allows TLS clients.
    pub client_auth: bool,
    /// The subject public key, as the raw bits of the SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    /// The whole SubjectPublicKeyInfo (DER, algorithm included): what a public-key pin
    /// such as Chromium's `--ignore-certificate-errors-spki-list` hashes.
    pub spki: Vec<u8>,
    der: Vec<u8>,
}

fn invalid(origin: &Path, reason: impl Into<String>) -> PkiError {
    PkiError::Invalid {
        path: origin.to_path_buf(),
        reason: reason.into(),
    }
}

impl CertInfo {
    /// Reads and parses the first certificate of the PEM file at `path`.
    pub fn load(path: &Path) -> Result<Self, PkiError> {
        Self::parse(&read_text(path)?, path)
    }

    /// Parses the first certificate of a PEM text; `origin` names where it came from in
    /// errors.
    pub fn parse(pem: &str, origin: &Path) -> Result<Self, PkiError> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .map_err(|e| invalid(origin, format!("not a PEM certificate ({e})")))?;
        if pem.label != "CERTIFICATE" {
            return Err(invalid(
                origin,
                format!("holds a {:?}, not a CERTIFICATE", pem.label),
            ));
        }
        let der = pem.contents;
        let (_, x509) = X509Certificate::from_der(&der)
            .map_err(|e| invalid(origin, format!("not a valid X.509 certificate ({e})")))?;
        let common_name = x509
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        let dns_names = match x509.subject_alternative_name() {
            Ok(Some(san)) => san
                .value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some((*d).to_owned()),
                    _ => None,
                })
                .collect(),
            Ok(None) => Vec::new(),
            Err(e) => {
                return Err(invalid(
                    origin,
                    format!("bad subject alternative name: {e}"),
                ));
            }
        };
        let (server_auth, client_auth) = match x509.extended_key_usage() {
            Ok(Some(eku)) => (
                eku.value.server_auth || eku.value.any,
                eku.value.client_auth || eku.value.any,
            ),
            // No extended key usage extension: any usage.
            Ok(None) => (true, true),
            Err(e) => return Err(invalid(origin, format!("bad extended key usage: {e}"))),
        };
        let validity = Validity {
            not_before: SystemTime::from(x509.validity().not_before.to_datetime()),
            not_after: SystemTime::from(x509.validity().not_after.to_datetime()),
        };
        Ok(Self {
            origin: origin.to_path_buf(),
            common_name,
            dns_names,
            validity,
            is_ca: x509.is_ca(),
            server_auth,
            client_auth,
            public_key: x509.public_key().subject_public_key.data.to_vec(),
            spki: x509.public_key().raw.to_vec(),
            der: der.clone(),
        })
    }

    /// The certificate in DER form.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Whether `key_pem` (a PKCS#8 PEM private key) is the private key of this
    /// certificate; false if it cannot be parsed.
    pub fn is_key_of(&self, key_pem: &str) -> bool {
        rcgen::KeyPair::from_pem(key_pem)
            .is_ok_and(|key| key.public_key_raw() == self.public_key.as_slice())
    }

    /// Checks that `ca`'s key signed this certificate (the signature only: dates and
    /// usages are in the other fields).
    pub fn check_signed_by(&self, ca: &CertInfo) -> Result<(), PkiError> {
        let not_signed = || PkiError::NotSignedBy {
            cert: self.origin.display().to_string(),
            ca: ca.origin.display().to_string(),
        };
        let (_, cert) = X509Certificate::from_der(&self.der).map_err(|_| not_signed())?;
        let (_, ca_cert) = X509Certificate::from_der(&ca.der).map_err(|_| not_signed())?;
        cert.verify_signature(Some(ca_cert.public_key()))
            .map_err(|_| not_signed())
    }
}
