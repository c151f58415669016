//! The web users' entries in `DIR/passwd`, and whether the password given to the doctor
//! matches (offline: the hash is checked here, before the broker is asked).

use std::path::Path;

use crate::broker::passwd::{PasswordFile, read_password_file, verify};

use super::{Check, Ctx};

/// What the password file says about `user`'s password in `file`.
pub(crate) enum Verdict {
    /// The password matches the user's hash.
    Matches,
    /// The password does not match.
    Differs,
    /// Could not tell (a file unreadable, the user missing): the reason.
    Unknown(String),
}

/// Checks the password in `file` against `user`'s entry in `DIR/passwd`.
pub(crate) fn verdict(ctx: &Ctx<'_>, user: &str, file: &Path) -> Verdict {
    let passwd = match PasswordFile::load(&ctx.path("passwd")) {
        Ok(passwd) => passwd,
        Err(e) => return Verdict::Unknown(e.to_string()),
    };
    let Some(hash) = passwd.get(user) else {
        return Verdict::Unknown(format!("{} has no entry for {user}", ctx.show("passwd")));
    };
    match read_password_file(file) {
        Ok(password) if verify(hash, &password) => Verdict::Matches,
        Ok(_) => Verdict::Differs,
        Err(e) => Verdict::Unknown(e.to_string()),
    }
}

/// How to set `user`'s password from `file`.
pub(crate) fn set_password(ctx: &Ctx<'_>, user: &str, file: &Path) -> String {
    format!(
        "run: {} --web-user {user} --web-password-file {} (or mosquitto_passwd {} {user}), \
         then {}",
        ctx.init_command(),
        file.display(),
        ctx.show("passwd"),
        ctx.restart()
    )
}

/// Every web user of `broker.toml` has an entry in a well-formed `DIR/passwd`; with a
/// password file, the first user's password matches.
pub(crate) fn check(ctx: &Ctx<'_>) -> Option<Check> {
    let name = "web passwords";
    let users = &ctx.setup.web_users;
    let first = users.first()?;
    let passwd = match PasswordFile::load(&ctx.path("passwd")) {
        Ok(passwd) => passwd,
        Err(e) => {
            return Some(Check::fail(
                name,
                e.to_string(),
                format!("run: {}", ctx.init_command()),
            ));
        }
    };
    let missing: Vec<&str> = users
        .iter()
        .map(String::as_str)
        .filter(|u| passwd.get(u).is_none())
        .collect();
    if let Some(user) = missing.first() {
        return Some(Check::fail(
            name,
            format!(
                "{} has no password for web user {}",
                ctx.show("passwd"),
                missing.join(", ")
            ),
            set_password(ctx, user, Path::new("FILE")),
        ));
    }
    let Some(file) = ctx.options.web_password_file.as_deref() else {
        return Some(Check::pass(
            name,
            format!("{} has a password for every web user", ctx.show("passwd")),
        ));
    };
    Some(match verdict(ctx, first, file) {
        Verdict::Matches => Check::pass(
            name,
            format!(
                "the password in {} is web user {first}'s in {}",
                file.display(),
                ctx.show("passwd")
            ),
        ),
        Verdict::Differs => Check::fail(
            name,
            format!(
                "the password in {} is not web user {first}'s in {}",
                file.display(),
                ctx.show("passwd")
            ),
            set_password(ctx, first, file),
        ),
        Verdict::Unknown(why) => Check::fail(
            name,
            why,
            format!(
                "write the password of web user {first} into {} (one line)",
                file.display()
            ),
        ),
    })
}
