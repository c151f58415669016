//! The one error type of this crate.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong making, reading or writing certificates and keys.
///
/// Every variant that concerns a file names it, and its `Display` says what is wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum PkiError {
    /// A file or directory could not be read, written or created.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done, e.g. "read" or "create directory".
        action: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// One file of a pair (certificate + key) exists and the other does not.
    IncompletePair {
        /// The file that exists.
        present: PathBuf,
        /// The file that is missing.
        missing: PathBuf,
    },
    /// A file is not a valid PEM certificate or key of the expected kind.
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A private key does not belong to the certificate beside it.
    KeyMismatch {
        /// The certificate.
        cert: PathBuf,
        /// The key.
        key: PathBuf,
    },
    /// A device id or host name that cannot go into a certificate (or a topic, or a file name).
    BadName {
        /// What kind of name: "device id" or "host name".
        kind: &'static str,
        /// The rejected name.
        name: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// rcgen refused to generate or sign a certificate.
    Generate {
        /// What was being made, e.g. "server certificate for example.com".
        what: String,
        /// rcgen's error.
        source: rcgen::Error,
    },
    /// A certificate was not signed by the CA it was checked against.
    NotSignedBy {
        /// A description of the certificate (e.g. its subject).
        cert: String,
        /// A description of the CA.
        ca: String,
    },
}

impl fmt::Display for PkiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io {
                path,
                action,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
            Self::IncompletePair { present, missing } => write!(
                f,
                "{} exists but {} does not: restore the missing file, or move both away \
                 to make new ones (this never replaces one half of a pair)",
                present.display(),
                missing.display()
            ),
            Self::Invalid { path, reason } => write!(f, "{}: {reason}", path.display()),
            Self::KeyMismatch { cert, key } => write!(
                f,
                "{} is not the private key of {}",
                key.display(),
                cert.display()
            ),
            Self::BadName { kind, name, rule } => {
                write!(f, "{kind} {name:?} is not allowed: {rule}")
            }
            Self::Generate { what, source } => write!(f, "cannot make the {what}: {source}"),
            Self::NotSignedBy { cert, ca } => write!(f, "{cert} was not signed by {ca}"),
        }
    }
}

impl std::error::Error for PkiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Generate { source, .. } => Some(source),
            _ => None,
        }
    }
}
