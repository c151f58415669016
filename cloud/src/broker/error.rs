//! Why `broker init` failed.

use std::fmt;
use std::path::PathBuf;

use altair_pki::PkiError;

use crate::broker::passwd::PasswdError;
use crate::broker::record::RecordError;

/// Everything that stops `broker init`; each message names the file or option at fault.
#[derive(Debug)]
#[non_exhaustive]
pub enum InitError {
    /// An option is not acceptable (a bad name, port or path).
    Option(String),
    /// Making, reading or writing a certificate, key or file failed.
    Pki(PkiError),
    /// `broker.toml` is unreadable or inconsistent.
    Record(RecordError),
    /// The password or the password file is unusable.
    Passwd(PasswdError),
    /// A recorded web user has no password hash in `DIR/passwd`.
    NoPassword {
        /// The web user.
        user: String,
        /// The password file.
        path: PathBuf,
    },
    /// A directory could not be created or a file's owner not changed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// What the operating system said.
        source: std::io::Error,
    },
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Option(msg) => f.write_str(msg),
            Self::Pki(e) => e.fmt(f),
            Self::Record(e) => e.fmt(f),
            Self::Passwd(e) => e.fmt(f),
            Self::NoPassword { user, path } => write!(
                f,
                "web user {user:?} has no password in {}: run init again with \
                 --web-user {user} --web-password-file FILE",
                path.display()
            ),
            Self::Io {
                path,
                action,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Pki(e) => Some(e),
            Self::Record(e) => Some(e),
            Self::Passwd(e) => Some(e),
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<PkiError> for InitError {
    fn from(e: PkiError) -> Self {
        Self::Pki(e)
    }
}

impl From<RecordError> for InitError {
    fn from(e: RecordError) -> Self {
        Self::Record(e)
    }
}

impl From<PasswdError> for InitError {
    fn from(e: PasswdError) -> Self {
        Self::Passwd(e)
    }
}
