//! The TLS 1.3 side of the link: the device's credentials and the embedded-tls crypto
//! provider that pins the CA and checks the broker's host name.
//!
//! Verification is embedded-tls's `rustpki` [`CertVerifier`]: the server's chain must end
//! at the pinned CA certificate and the host name must match a DNS subject alternative
//! name (IP addresses are not supported: connect by name). [`PinnedVerifier`] wraps it
//! because embedded-tls 0.19's handshake accepts the server's encrypted handshake
//! messages in any order: a server that skips Certificate and CertificateVerify would
//! never reach the verifier, and a CertificateVerify before any Certificate would make
//! it panic. The wrapper refuses the latter and [`PinnedVerifier::proven`] lets
//! [`crate::net::Link::connect`] refuse the former.

use embedded_tls::pki::CertVerifier;
use embedded_tls::{
    Aes128GcmSha256, Certificate, CertificateRef, CertificateVerifyRef, CryptoProvider, NoClock,
    SignatureScheme, TlsError, TlsVerifier,
};
use p256::ecdsa::SigningKey;
use p256::pkcs8::DecodePrivateKey as _;
use rand_core::CryptoRngCore;

use super::LinkError;

/// The one cipher suite the link offers: TLS_AES_128_GCM_SHA256 (RFC 8446 section 9.1
/// makes it mandatory for servers).
pub type CipherSuite = Aes128GcmSha256;

/// The largest server certificate (DER) the verifier can hold while it waits for the
/// server's CertificateVerify. `broker init` issues P-256 server certificates of about
/// 500 bytes.
pub const SERVER_CERT_MAX: usize = 1024;

/// The device's TLS identity and the CA it trusts, all DER.
#[derive(Clone, Copy, Debug)]
pub struct Credentials<'a> {
    /// The CA certificate the broker's certificate must chain to (pinned: the only root).
    pub ca_cert_der: &'a [u8],
    /// The device's certificate, sent to the broker.
    pub client_cert_der: &'a [u8],
    /// The device's ECDSA P-256 private key, PKCS#8.
    pub client_key_der: &'a [u8],
}

impl Credentials<'_> {
    /// Parses the private key. Fails with [`LinkError::Config`] if it is not a PKCS#8
    /// ECDSA P-256 key.
    pub fn signing_key(&self) -> Result<SigningKey, LinkError> {
        SigningKey::from_pkcs8_der(self.client_key_der).map_err(|_| LinkError::Config)
    }
}

/// [`CertVerifier`] plus a record of what it has checked (see the module docs).
pub struct PinnedVerifier<'a> {
    inner: CertVerifier<'a, CipherSuite, NoClock, SERVER_CERT_MAX>,
    certificate: bool,
    signature: bool,
}

impl<'a> PinnedVerifier<'a> {
    /// A verifier that trusts only `ca_der`.
    pub fn new(ca_der: &'a [u8]) -> Self {
        Self {
            inner: CertVerifier::new(Certificate::X509(ca_der)),
            certificate: false,
            signature: false,
        }
    }

    /// Whether the server's certificate was verified and then its CertificateVerify
    /// signature: only then is the handshake authenticated.
    pub fn proven(&self) -> bool {
        self.certificate && self.signature
    }
}

impl TlsVerifier<CipherSuite> for PinnedVerifier<'_> {
    fn set_hostname_verification(&mut self, hostname: &str) -> Result<(), TlsError> {
        self.inner.set_hostname_verification(hostname)
    }

    fn verify_certificate(
        &mut self,
        transcript: &<CipherSuite as embedded_tls::TlsCipherSuite>::Hash,
        cert: CertificateRef,
    ) -> Result<(), TlsError> {
        if self.certificate {
            return Err(TlsError::InvalidHandshake);
        }
        self.inner.verify_certificate(transcript, cert)?;
        self.certificate = true;
        Ok(())
    }

    fn verify_signature(&mut self, verify: CertificateVerifyRef) -> Result<(), TlsError> {
        if !self.certificate || self.signature {
            // CertVerifier would panic (`unwrap!`) on a signature without a certificate.
            return Err(TlsError::InvalidHandshake);
        }
        self.inner.verify_signature(verify)?;
        self.signature = true;
        Ok(())
    }
}

/// The embedded-tls crypto provider for one handshake: the platform's RNG, the pinned
/// verifier, and the device's certificate and key.
pub struct Provider<'a, R> {
    /// The platform's random number generator.
    pub rng: &'a mut R,
    /// Checks the server.
    pub verifier: PinnedVerifier<'a>,
    /// The device's certificate (DER).
    pub client_cert_der: &'a [u8],
    /// The device's key.
    pub key: &'a SigningKey,
}

impl<R: CryptoRngCore> CryptoProvider for Provider<'_, R> {
    type CipherSuite = CipherSuite;
    type Signature = p256::ecdsa::DerSignature;

    fn rng(&mut self) -> impl CryptoRngCore {
        &mut *self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<CipherSuite>, TlsError> {
        Ok(&mut self.verifier)
    }

    fn signer(
        &mut self,
    ) -> Result<(impl signature::SignerMut<Self::Signature>, SignatureScheme), TlsError> {
        Ok((self.key.clone(), SignatureScheme::EcdsaSecp256r1Sha256))
    }

    fn client_cert(&mut self) -> Option<Certificate<impl AsRef<[u8]>>> {
        Some(Certificate::X509(self.client_cert_der))
    }
}
