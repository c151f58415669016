//! Who the broker runs as, and giving it the files it must read.
//!
//! Mosquitto started as root switches to its `user` (default `mosquitto`) before reading
//! certificates, keys, the password file and ACLs. So when init runs as root and that
//! user exists, those files are given to it; otherwise everything stays with the user
//! running init, and Mosquitto must run as that user.

use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// The user Debian's Mosquitto runs as.
pub const BROKER_USER: &str = "mosquitto";

/// A system user the broker runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerUser {
    /// The user name, for the `user` line of `mosquitto.conf`.
    pub name: String,
    /// Its user id.
    pub uid: u32,
    /// Its primary group id.
    pub gid: u32,
}

/// What init should do about file ownership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Running as root and the broker user exists: give it the broker's files.
    GiveTo(BrokerUser),
    /// Running as root, but there is no broker user: Mosquitto started as root would fail
    /// to switch users, so init warns.
    RootWithoutBrokerUser,
    /// Not running as root: files stay with the current user; no `user` line.
    CurrentUser,
}

impl Ownership {
    /// Finds out: root or not, and whether user `mosquitto` exists (in `/etc/passwd`,
    /// where Debian's package creates it).
    pub fn detect() -> Self {
        if !rustix::process::geteuid().is_root() {
            return Self::CurrentUser;
        }
        let users = fs::read_to_string("/etc/passwd").unwrap_or_default();
        match find_user(&users, BROKER_USER) {
            Some(user) => Self::GiveTo(user),
            None => Self::RootWithoutBrokerUser,
        }
    }

    /// The broker user to give files to and name in the configuration, if any.
    pub fn broker_user(&self) -> Option<&BrokerUser> {
        match self {
            Self::GiveTo(user) => Some(user),
            _ => None,
        }
    }

    /// Gives `path` to the broker user (a no-op unless [`Ownership::GiveTo`]).
    pub fn give(&self, path: &Path) -> std::io::Result<()> {
        match self {
            Self::GiveTo(user) => std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid)),
            _ => Ok(()),
        }
    }
}

/// Looks `name` up in the text of an `/etc/passwd` file.
pub fn find_user(passwd: &str, name: &str) -> Option<BrokerUser> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let user = fields.next()?;
        if user != name {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some(BrokerUser {
            name: user.to_owned(),
            uid,
            gid,
        })
    })
}

/// Whether `user` may do what `bits` (a mask of the owner's bits: 0o4 read, 0o1
/// execute/search, shifted to owner position by this function) says on `path`, by its
/// mode, owner and group (ignoring supplementary groups and ACLs).
fn allowed(meta: &fs::Metadata, user: &BrokerUser, bits: u32) -> bool {
    let mode = meta.permissions().mode();
    if user.uid == 0 {
        return true;
    }
    if meta.uid() == user.uid {
        mode & (bits << 6) == bits << 6
    } else if meta.gid() == user.gid {
        mode & (bits << 3) == bits << 3
    } else {
        mode & bits == bits
    }
}

/// The first directory from `/` down to `dir` that `user` cannot enter, if any.
pub fn blocked_ancestor(dir: &Path, user: &BrokerUser) -> Option<PathBuf> {
    dir.ancestors()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .find(|d| match fs::metadata(d) {
            Ok(meta) => !allowed(&meta, user, 0o1),
            Err(_) => true,
        })
        .map(Path::to_path_buf)
}

/// Whether `user` can read the file `path` (following symbolic links), including
/// entering every directory above it.
pub fn can_read(path: &Path, user: &BrokerUser) -> bool {
    let Ok(real) = fs::canonicalize(path) else {
        return false;
    };
    let dir_ok = real
        .parent()
        .is_none_or(|parent| blocked_ancestor(parent, user).is_none());
    dir_ok && fs::metadata(&real).is_ok_and(|meta| allowed(&meta, user, 0o4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_users_in_passwd_text() {
        let text = "root:x:0:0:root:/root:/bin/bash\n\
                    mosquitto:x:102:105::/var/lib/mosquitto:/usr/sbin/nologin\n";
        assert_eq!(
            find_user(text, "mosquitto"),
            Some(BrokerUser {
                name: "mosquitto".into(),
                uid: 102,
                gid: 105
            })
        );
        assert_eq!(find_user(text, "mosq"), None);
        assert_eq!(find_user("broken", "broken"), None);
    }

    #[test]
    fn reachability_follows_modes() {
        let dir = tempfile::tempdir().unwrap();
        let nobody = BrokerUser {
            name: "nobody".into(),
            uid: 65534,
            gid: 65534,
        };
        let inner = dir.path().join("a");
        fs::create_dir(&inner).unwrap();
        let file = inner.join("f");
        fs::write(&file, "x").unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        fs::set_permissions(&inner, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            blocked_ancestor(&inner, &nobody).as_deref(),
            Some(dir.path())
        );
        assert!(!can_read(&file, &nobody));
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(blocked_ancestor(&inner, &nobody), None);
        assert!(can_read(&file, &nobody));
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(!can_read(&file, &nobody));
    }
}
