//! Check 1: the files `broker init` writes are present and readable, the secret ones are
//! private, and the user Mosquitto switches to can read what it needs.

use std::fs;
use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use super::{Check, Ctx};

/// The unit name `broker init` gives the broker, if `systemd/` does not say otherwise.
const DEFAULT_BROKER_UNIT: &str = "altair-mosquitto";

/// Files that hold secrets: private keys and the password hashes.
fn secret_files(ctx: &Ctx<'_>) -> Vec<String> {
    let mut files = vec!["ca.key".to_owned(), "server.key".to_owned()];
    files.extend(ctx.setup.devices.iter().map(|d| format!("devices/{d}.key")));
    files.push("passwd".to_owned());
    files
}

/// Every regular file `broker init` writes, relative to the directory.
fn expected_files(ctx: &Ctx<'_>) -> Vec<String> {
    let mut files: Vec<String> = [
        "broker.toml",
        "ca.crt",
        "ca.key",
        "server.crt",
        "server.key",
        "mosquitto.conf",
        "passwd",
        "acl",
        "acl-web",
        "acl-local",
        "README.md",
    ]
    .map(str::to_owned)
    .to_vec();
    for device in &ctx.setup.devices {
        files.push(format!("devices/{device}.crt"));
        files.push(format!("devices/{device}.key"));
    }
    files
}

/// Opens and reads a file, returning why that failed.
fn read_problem(path: &Path) -> Option<String> {
    let mut byte = [0u8; 1];
    match fs::File::open(path).and_then(|mut f| f.read(&mut byte)) {
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("missing".into()),
        Err(e) => Some(format!("unreadable ({e})")),
    }
}

/// The `.service` files in `DIR/systemd`.
fn service_files(dir: &Path) -> Vec<String> {
    let mut units: Vec<String> = fs::read_dir(dir.join("systemd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.ends_with(".service"))
        .collect();
    units.sort();
    units
}

/// The broker's systemd unit name, as written by `broker init` (for fix texts).
pub(crate) fn broker_unit(dir: &Path) -> String {
    service_files(dir)
        .into_iter()
        .find(|u| u.contains("mosquitto"))
        .and_then(|u| u.strip_suffix(".service").map(str::to_owned))
        .unwrap_or_else(|| DEFAULT_BROKER_UNIT.to_owned())
}

/// Lists everything missing or unreadable.
fn problems(ctx: &Ctx<'_>) -> Vec<String> {
    let mut found: Vec<String> = expected_files(ctx)
        .iter()
        .filter_map(|rel| read_problem(&ctx.path(rel)).map(|why| format!("{rel} {why}")))
        .collect();
    if !ctx.path("data").is_dir() {
        found.push("data/ missing (Mosquitto's persistence directory)".into());
    }
    if service_files(ctx.dir).is_empty() {
        found.push("systemd/*.service missing".into());
    }
    found
}

/// Check 1a: presence and readability.
fn presence(ctx: &Ctx<'_>) -> Check {
    let found = problems(ctx);
    if found.is_empty() {
        let count = expected_files(ctx).len() + service_files(ctx.dir).len();
        return Check::pass(
            "files",
            format!(
                "all {count} files of broker init and data/ are in {}",
                ctx.dir.display()
            ),
        );
    }
    Check::fail(
        "files",
        found.join("; "),
        format!("run: {}", ctx.init_command()),
    )
}

/// The permission bits of a file, if it exists.
fn mode(path: &Path) -> Option<u32> {
    fs::metadata(path).ok().map(|m| m.mode() & 0o777)
}

/// Check 1b: private keys and the password file are readable by their owner only.
fn privacy(ctx: &Ctx<'_>) -> Check {
    let open: Vec<(String, u32)> = secret_files(ctx)
        .into_iter()
        .filter_map(|rel| mode(&ctx.path(&rel)).map(|m| (rel, m)))
        .filter(|(_, m)| m & 0o077 != 0)
        .collect();
    if open.is_empty() {
        return Check::pass(
            "key permissions",
            "private keys and passwd are readable by their owner only",
        );
    }
    let listed: Vec<String> = open
        .iter()
        .map(|(rel, m)| format!("{rel} is {m:04o}"))
        .collect();
    let paths: Vec<String> = open.iter().map(|(rel, _)| ctx.show(rel)).collect();
    Check::fail(
        "key permissions",
        format!("{} (group or others may read it)", listed.join(", ")),
        format!("run: chmod 600 {}", paths.join(" ")),
    )
}

/// A local account: what file permissions are checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Account {
    name: String,
    uid: u32,
    groups: Vec<u32>,
}

/// The `user` line of a Mosquitto configuration.
fn configured_user(conf: &str) -> Option<String> {
    conf.lines()
        .filter_map(|line| line.trim().strip_prefix("user "))
        .map(|user| user.trim().to_owned())
        .next_back()
}

/// Looks an account up in passwd/group-format texts.
fn find_account(name: &str, passwd: &str, group: &str) -> Option<Account> {
    let fields: Vec<&str> = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&name))?;
    let uid = fields.get(2)?.parse().ok()?;
    let gid: u32 = fields.get(3)?.parse().ok()?;
    let mut groups = vec![gid];
    for line in group.lines() {
        let f: Vec<&str> = line.split(':').collect();
        let member = f.get(3).is_some_and(|m| m.split(',').any(|u| u == name));
        if let (true, Some(Ok(g))) = (member, f.get(2).map(|g| g.parse::<u32>())) {
            groups.push(g);
        }
    }
    Some(Account {
        name: name.to_owned(),
        uid,
        groups,
    })
}

/// Whether `account` has the `want` permission bits (4 read, 2 write, 1 search) on a file
/// with this owner, group and mode.
fn allows(account: &Account, meta: &fs::Metadata, want: u32) -> bool {
    if account.uid == 0 {
        return true;
    }
    let mode = meta.mode();
    let bits = if meta.uid() == account.uid {
        mode >> 6
    } else if account.groups.contains(&meta.gid()) {
        mode >> 3
    } else {
        mode
    };
    bits & want == want
}

/// Why `account` cannot use `path` with `want` (checking every directory above it), with
/// the command that fixes it.
fn access_problem(account: &Account, path: &Path, want: u32) -> Option<(String, String)> {
    let real = fs::canonicalize(path).ok()?;
    for dir in real.ancestors().skip(1) {
        let meta = fs::metadata(dir).ok()?;
        if !allows(account, &meta, 1) {
            return Some((
                format!("cannot enter {}", dir.display()),
                format!("chmod o+x {}", dir.display()),
            ));
        }
    }
    let meta = fs::metadata(&real).ok()?;
    if allows(account, &meta, want) {
        return None;
    }
    let what = if want & 2 != 0 { "write" } else { "read" };
    Some((
        format!("cannot {what} {}", path.display()),
        format!("chown {} {}", account.name, path.display()),
    ))
}

/// The files Mosquitto reads (and the directory it writes) after switching users.
fn broker_files(ctx: &Ctx<'_>) -> Vec<(PathBuf, u32)> {
    let mut files: Vec<(PathBuf, u32)> = [
        "ca.crt",
        "server.crt",
        "server.key",
        "passwd",
        "acl",
        "acl-web",
        "acl-local",
    ]
    .iter()
    .map(|rel| (ctx.path(rel), 4))
    .collect();
    files.push((ctx.path("data"), 7));
    if let Some(le) = &ctx.setup.letsencrypt_dir {
        files.push((le.join("fullchain.pem"), 4));
        files.push((le.join("privkey.pem"), 4));
    }
    files
}

/// Check 1c: the user Mosquitto runs as (when started as root) can read its files.
fn broker_access(ctx: &Ctx<'_>) -> Option<Check> {
    let name = "broker file access";
    let conf = fs::read_to_string(ctx.path("mosquitto.conf")).ok()?;
    // Without a `user` line, init expects Mosquitto to be started by the files' owner.
    let user = configured_user(&conf)?;
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    let group = fs::read_to_string("/etc/group").unwrap_or_default();
    let Some(account) = find_account(&user, &passwd, &group) else {
        return Some(Check::skip(
            name,
            format!(
                "there is no user {user} here, the user Mosquitto runs as when started as root"
            ),
            format!(
                "create the user (adduser --system {user}), or rerun init as the user who starts mosquitto"
            ),
        ));
    };
    let blocked: Vec<(String, String)> = broker_files(ctx)
        .iter()
        .filter_map(|(path, want)| access_problem(&account, path, *want))
        .collect();
    if blocked.is_empty() {
        return Some(Check::pass(
            name,
            format!("user {user} (whom Mosquitto runs as when started as root) can read its files"),
        ));
    }
    let mut fixes: Vec<String> = blocked.iter().map(|(_, fix)| fix.clone()).collect();
    fixes.dedup();
    let found: Vec<String> = blocked.into_iter().map(|(what, _)| what).collect();
    Some(Check::fail(
        name,
        format!(
            "user {user}, whom Mosquitto runs as when started as root, {}",
            found.join("; ")
        ),
        format!("run: {}", fixes.join("; ")),
    ))
}

/// Check 1: files present and readable, secrets private, the broker user's access.
pub(crate) fn check(ctx: &Ctx<'_>) -> Vec<Check> {
    let mut out = vec![presence(ctx), privacy(ctx)];
    out.extend(broker_access(ctx));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_come_with_their_groups() {
        let passwd = "root:x:0:0::/root:/bin/sh\nmosquitto:x:102:105::/var/lib:/bin/false\n";
        let group = "ssl-cert:x:110:postgres,mosquitto\nmosquitto:x:105:\n";
        let account = find_account("mosquitto", passwd, group).unwrap();
        assert_eq!(account.uid, 102);
        assert_eq!(account.groups, [105, 110]);
        assert_eq!(find_account("nobody", passwd, group), None);
        assert_eq!(find_account("x", "x:x:notanumber:1", ""), None);
    }

    #[test]
    fn the_last_user_line_counts() {
        assert_eq!(
            configured_user("a 1\nuser one\n  user two \n"),
            Some("two".into())
        );
        assert_eq!(configured_user("listener 1\n"), None);
    }

    #[test]
    fn a_private_directory_blocks_other_users() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, "x").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let stranger = Account {
            name: "stranger".into(),
            uid: 4_000_000,
            groups: vec![4_000_000],
        };
        let (what, fix) = access_problem(&stranger, &file, 4).unwrap();
        assert!(what.starts_with("cannot enter"), "{what}");
        assert!(fix.starts_with("chmod o+x"), "{fix}");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o711)).unwrap();
        assert_eq!(access_problem(&stranger, &file, 4), None);
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        let (what, fix) = access_problem(&stranger, &file, 4).unwrap();
        assert!(what.starts_with("cannot read"), "{what}");
        assert!(fix.starts_with("chown stranger"), "{fix}");
    }
}
