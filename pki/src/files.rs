//! Writing certificates and keys with the right permissions, and reading them back.
//!
//! Files are written whole: the content goes to a temporary file beside the target,
//! created with its final mode (so a private key is never readable by others, not even
//! for a moment, whatever the umask), and is then renamed over the target. A crash leaves
//! either the old file or the new one, never half of one.

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::PkiError;

/// Mode of private keys and other secrets: owner read/write only.
const PRIVATE_MODE: u32 = 0o600;
/// Mode of certificates and other public files: everyone may read.
const PUBLIC_MODE: u32 = 0o644;
/// Mode of directories holding private keys.
const PRIVATE_DIR_MODE: u32 = 0o700;

fn io_error(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> PkiError {
    let path = path.to_path_buf();
    move |source| PkiError::Io {
        path,
        action,
        source,
    }
}

/// Writes a secret (a private key, a password file) to `path`, mode 0600, replacing any
/// file there. The file is created with that mode, never widened and narrowed later.
pub fn write_private(path: &Path, contents: &str) -> Result<(), PkiError> {
    write_with_mode(path, contents, PRIVATE_MODE)
}

/// Writes a public file (a certificate, a configuration) to `path`, mode 0644, replacing
/// any file there.
pub fn write_public(path: &Path, contents: &str) -> Result<(), PkiError> {
    write_with_mode(path, contents, PUBLIC_MODE)
}

fn write_with_mode(path: &Path, contents: &str, mode: u32) -> Result<(), PkiError> {
    let tmp = temp_path(path);
    // A stale temporary file from an interrupted run: remove it so `create_new` works.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(&tmp, "remove stale temporary file")(e)),
    }
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(io_error(&tmp, "create"))?;
        // The umask may have removed bits from `mode` (never added any): set it exactly.
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(io_error(&tmp, "set the mode of"))?;
        file.write_all(contents.as_bytes())
            .map_err(io_error(&tmp, "write"))?;
        file.sync_all().map_err(io_error(&tmp, "write"))?;
        fs::rename(&tmp, path).map_err(io_error(path, "replace"))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp{}", std::process::id()))
}

/// Creates the directory `path` (and any missing parents) with mode 0700, for private
/// keys. A directory that already exists is left as it is.
pub fn create_private_dir(path: &Path) -> Result<(), PkiError> {
    if path.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR_MODE)
        .create(path)
        .map_err(io_error(path, "create directory"))
}

/// Reads a text file (a PEM certificate or key), naming the file in the error.
pub fn read_text(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(io_error(path, "read"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn modes_are_exact_and_files_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.key");
        let crt = dir.path().join("c.crt");
        write_private(&key, "one").unwrap();
        write_public(&crt, "cert").unwrap();
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(&crt), 0o644);
        // Replacing a file that had a wider mode gives the private mode, not the old one.
        fs::set_permissions(&key, Permissions::from_mode(0o666)).unwrap();
        write_private(&key, "two").unwrap();
        assert_eq!(mode(&key), 0o600);
        assert_eq!(fs::read_to_string(&key).unwrap(), "two");
        // No temporary files are left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn private_dirs_are_0700_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        create_private_dir(&sub).unwrap();
        assert_eq!(mode(&sub), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        let missing = dir.path().join("nope/x.key");
        let e = write_private(&missing, "x").unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
        let e = read_text(&missing).unwrap_err().to_string();
        assert!(e.contains("nope/x.key"), "{e}");
    }
}
