//! `DIR/passwd`: the web users' password hashes, in Mosquitto 2.0's own format.
//!
//! One line per user: `name:$7$<iterations>$<salt>$<hash>`, where `$7$` is PBKDF2 with
//! HMAC-SHA512, the salt is 12 random bytes and the hash 64 bytes, both in standard base64
//! with padding, and the iteration count is 101, exactly what `mosquitto_passwd` 2.0 writes
//! (checked against its output on Debian 12).
//!
//! The password itself is read from a file given on the command line and is written
//! nowhere: only its hash goes into `DIR/passwd`.

use std::fmt;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::rand::SecureRandom as _;

/// The PBKDF2 iteration count `mosquitto_passwd` 2.0 uses.
pub const ITERATIONS: u32 = 101;
/// The salt length `mosquitto_passwd` 2.0 uses, in bytes.
pub const SALT_LEN: usize = 12;
/// The hash length (SHA-512), in bytes.
pub const HASH_LEN: usize = 64;
/// The longest password MQTT can carry (a two-byte length prefix).
pub const MAX_PASSWORD_LEN: usize = 65535;

/// Why a password, or the password file, could not be used.
#[derive(Debug)]
pub enum PasswdError {
    /// A file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The password file given with `--web-password-file` is not a usable password.
    BadPassword {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A line of `DIR/passwd` is not in Mosquitto's format.
    Malformed {
        /// The file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
    },
    /// The system's random number generator failed.
    Random,
}

impl fmt::Display for PasswdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Self::BadPassword { path, reason } => {
                write!(f, "password file {}: {reason}", path.display())
            }
            Self::Malformed { path, line } => write!(
                f,
                "{} line {line} is not `user:$7$...` (Mosquitto's password format)",
                path.display()
            ),
            Self::Random => write!(f, "the system's random number generator failed"),
        }
    }
}

impl std::error::Error for PasswdError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Reads a password from `path`: the whole file, less one trailing newline (`\n` or
/// `\r\n`). An empty password, one of several lines, or one longer than MQTT allows is
/// refused.
pub fn read_password_file(path: &Path) -> Result<Vec<u8>, PasswdError> {
    let mut bytes = std::fs::read(path).map_err(|source| PasswdError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.ends_with(b"\n") {
        bytes.pop();
        if bytes.ends_with(b"\r") {
            bytes.pop();
        }
    }
    let bad = |reason| PasswdError::BadPassword {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.is_empty() {
        return Err(bad("is empty: put the password in it (one line)"));
    }
    if bytes.contains(&b'\n') {
        return Err(bad("has more than one line: put only the password in it"));
    }
    if bytes.len() > MAX_PASSWORD_LEN {
        return Err(bad("is longer than 65535 bytes, the most MQTT can carry"));
    }
    Ok(bytes)
}

/// Hashes `password` with a new random salt: the `$7$...` field of a password file line.
pub fn hash_password(password: &[u8]) -> Result<String, PasswdError> {
    let mut salt = [0u8; SALT_LEN];
    ring::rand::SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| PasswdError::Random)?;
    Ok(hash_with_salt(password, &salt, ITERATIONS))
}

/// Hashes `password` with the given salt and iteration count (an iteration count of 0 is
/// taken as 1).
pub fn hash_with_salt(password: &[u8], salt: &[u8], iterations: u32) -> String {
    let mut hash = [0u8; HASH_LEN];
    let iterations = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA512,
        iterations,
        salt,
        password,
        &mut hash,
    );
    format!("$7${iterations}${}${}", B64.encode(salt), B64.encode(hash))
}

/// Whether `password` matches a `$7$...` hash field (false for any other format).
pub fn verify(hash_field: &str, password: &[u8]) -> bool {
    let mut parts = hash_field.split('$');
    let (Some(""), Some("7"), Some(iterations), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Ok(iterations), Ok(salt), Ok(hash)) = (
        iterations.parse::<NonZeroU32>(),
        B64.decode(salt),
        B64.decode(hash),
    ) else {
        return false;
    };
    ring::pbkdf2::verify(
        ring::pbkdf2::PBKDF2_HMAC_SHA512,
        iterations,
        &salt,
        password,
        &hash,
    )
    .is_ok()
}

/// The contents of a password file: user names and their hash fields, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PasswordFile {
    entries: Vec<(String, String)>,
}

impl PasswordFile {
    /// Reads `path`; a missing file is an empty password file.
    pub fn load(path: &Path) -> Result<Self, PasswdError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(PasswdError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Parses a password file's text (blank lines and `#` comments are skipped, as
    /// Mosquitto does); `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, PasswdError> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once(':') {
                Some((user, hash)) if !user.is_empty() && hash.starts_with('$') => {
                    entries.push((user.to_owned(), hash.to_owned()));
                }
                _ => {
                    return Err(PasswdError::Malformed {
                        path: path.to_path_buf(),
                        line: i + 1,
                    });
                }
            }
        }
        Ok(Self { entries })
    }

    /// The hash field of `user`, if present.
    pub fn get(&self, user: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, h)| h.as_str())
    }

    /// Sets the hash field of `user`, adding the user if new.
    pub fn set(&mut self, user: &str, hash: String) {
        match self.entries.iter_mut().find(|(u, _)| u == user) {
            Some(entry) => entry.1 = hash,
            None => self.entries.push((user.to_owned(), hash)),
        }
    }

    /// Keeps only the users for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.entries.retain(|(u, _)| keep(u));
    }

    /// The file's text: one `user:hash` line per user.
    pub fn render(&self) -> String {
        self.entries
            .iter()
            .map(|(u, h)| format!("{u}:{h}\n"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line `mosquitto_passwd -b` 2.0.11 wrote on Debian 12 for password "secret".
    const FROM_MOSQUITTO_PASSWD: &str = "alice:$7$101$1TKGnCRN0MbTJJ6U$/wxCOr0pDRQGfrhInLYighTttBk11UXEvY+nx10I13twnV29Mt1Rj35Uk4rqMOeXULp3yhRWdAOQRHUcPqYwXw==";

    #[test]
    fn matches_mosquitto_passwd_output() {
        let file = PasswordFile::parse(FROM_MOSQUITTO_PASSWD, Path::new("p")).unwrap();
        let field = file.get("alice").unwrap();
        assert!(verify(field, b"secret"));
        assert!(!verify(field, b"Secret"));
        // Same salt, same result: the format is byte for byte the same.
        let salt = B64.decode("1TKGnCRN0MbTJJ6U").unwrap();
        assert_eq!(hash_with_salt(b"secret", &salt, 101), field);
    }

    #[test]
    fn new_hashes_have_mosquittos_shape() {
        let h = hash_password(b"pw").unwrap();
        let parts: Vec<&str> = h.split('$').collect();
        assert_eq!(parts[..3], ["", "7", "101"]);
        assert_eq!(B64.decode(parts[3]).unwrap().len(), SALT_LEN);
        assert_eq!(B64.decode(parts[4]).unwrap().len(), HASH_LEN);
        assert!(verify(&h, b"pw"));
        assert_ne!(h, hash_password(b"pw").unwrap(), "salts are random");
        assert!(!verify("$6$x$y", b"pw"));
        assert!(!verify("garbage", b"pw"));
    }

    #[test]
    fn password_files_are_trimmed_once_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        let read = |content: &[u8]| {
            std::fs::write(&p, content).unwrap();
            read_password_file(&p)
        };
        assert_eq!(read(b"abc\n").unwrap(), b"abc");
        assert_eq!(read(b"abc\r\n").unwrap(), b"abc");
        assert_eq!(read(b"abc").unwrap(), b"abc");
        assert_eq!(read(b" a c \n").unwrap(), b" a c ");
        for bad in [&b""[..], b"\n", b"a\nb\n", b"\n\n"] {
            let e = read(bad).unwrap_err().to_string();
            assert!(e.contains(p.to_str().unwrap()), "{e}");
        }
        let e = read_password_file(&dir.path().join("missing")).unwrap_err();
        assert!(e.to_string().contains("missing"));
    }

    #[test]
    fn password_file_edits() {
        let mut f = PasswordFile::parse("# c\n\na:$7$x\nb:$7$y\n", Path::new("p")).unwrap();
        f.set("a", "$7$z".into());
        f.set("c", "$7$w".into());
        f.retain(|u| u != "b");
        assert_eq!(f.render(), "a:$7$z\nc:$7$w\n");
        let e = PasswordFile::parse("a:$7$x\nnonsense\n", Path::new("/d/passwd")).unwrap_err();
        assert!(e.to_string().contains("/d/passwd line 2"), "{e}");
    }
}
