//! `altair-cloud term`, the terminal client, run as a process against the local rig: from
//! a pipe over the device listener (client certificate), from a pipe over WebSockets
//! (password), at a real pseudo-terminal (keys, Ctrl-keys, the monitor, the escape
//! commands), and with a wrong password.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use altair_cloud::mqtt::Scheme;
use altair_hil::{ALTAIR_CLOUD, Failure, Rig, RigOptions, STEP_TIMEOUT, Target, workspace_program};

/// Starts a local rig and waits until CP/M is at its prompt; `None` when skipped.
fn rig_at_prompt(test: &str) -> Result<Option<Rig>, Failure> {
    let Some(rig) = Rig::start_local(test, RigOptions::default())? else {
        return Ok(None);
    };
    let mut term = rig.terminal()?;
    term.wait_status("online", STEP_TIMEOUT)?;
    term.at_cpm_prompt()?;
    Ok(Some(rig))
}

/// The `term` arguments that log in to `target` (a password goes in a file in `dir`).
fn login_args(target: &Target, dir: &Path) -> Result<Vec<String>, Failure> {
    let e = &target.endpoint;
    let mut args = vec![
        "term".to_owned(),
        format!("--broker={}", e.url),
        format!("--channel={}", target.channel),
    ];
    if let Some(ca) = &e.ca {
        args.push(format!("--ca={}", ca.display()));
    }
    if let Some((cert, key)) = &e.identity {
        args.push(format!("--cert={}", cert.display()));
        args.push(format!("--key={}", key.display()));
    }
    if let Some((user, password)) = &e.credentials {
        let file = dir.join("term-password");
        std::fs::write(&file, password).map_err(|e| Failure(format!("password file: {e}")))?;
        args.push(format!("--user={user}"));
        args.push(format!("--password-file={}", file.display()));
    }
    Ok(args)
}

/// Runs `altair-cloud ARGS` with `input` on a pipe, and waits (at most a minute) for it.
fn run_piped(args: &[String], input: &[u8]) -> Result<Output, Failure> {
    let mut child = Command::new(workspace_program(ALTAIR_CLOUD)?)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Failure(format!("cannot start altair-cloud: {e}")))?;
    let mut stdin = child.stdin.take().expect("piped");
    stdin
        .write_all(input)
        .map_err(|e| Failure(format!("writing to term: {e}")))?;
    drop(stdin);
    wait_with_limit(child, Duration::from_secs(60))
}

/// Waits up to `limit` for `child` to exit; `None` if it is still running.
fn exit_within(child: &mut Child, limit: Duration) -> Result<Option<ExitStatus>, Failure> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| Failure(e.to_string()))? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `child` to exit, killing it after `limit`.
fn wait_with_limit(mut child: Child, limit: Duration) -> Result<Output, Failure> {
    if exit_within(&mut child, limit)?.is_some() {
        return child.wait_with_output().map_err(|e| Failure(e.to_string()));
    }
    let _ = child.kill();
    let output = child
        .wait_with_output()
        .map_err(|e| Failure(e.to_string()))?;
    Err(Failure(format!(
        "term did not exit within {limit:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn piped_dir_over_the_device_listener_prints_the_listing() -> Result<(), Failure> {
    let Some(mut rig) = rig_at_prompt("term_piped_dir_mqtts")? else {
        return Ok(());
    };
    let local = rig.local().expect("a local rig");
    let target = local.target();
    let mut args = login_args(&target, &local.broker_dir())?;
    args.push("--linger=1".into());
    let output = run_piped(&args, b"DIR\n")?;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(
        output.status.success(),
        "exit {:?}: {stderr}",
        output.status
    );
    // Exactly the device's output on stdout: the echo of the typed line, the listing.
    assert!(
        stdout.contains("DIR\r\nA: L80      COM : LADDER   COM"),
        "stdout: {stdout:?}"
    );
    assert!(
        stdout.contains("A: MBASIC   COM : PIP      COM"),
        "{stdout:?}"
    );
    assert!(
        !stdout.contains("[term]"),
        "notes must stay off stdout: {stdout:?}"
    );
    // The connection and the device's status are shown, on stderr.
    assert!(
        stderr.contains(&format!(
            "[term] connected to {}, channel 1",
            target.endpoint.url
        )),
        "{stderr}"
    );
    assert!(stderr.contains("[term] device online"), "{stderr}");
    Ok(())
}

#[test]
fn piped_input_over_websockets_with_a_password_reaches_the_guest() -> Result<(), Failure> {
    let Some(mut rig) = rig_at_prompt("term_piped_wss")? else {
        return Ok(());
    };
    let local = rig.local().expect("a local rig");
    let target = local.web_target();
    assert_eq!(target.endpoint.url.scheme, Scheme::Wss);
    let mut args = login_args(&target, &local.broker_dir())?;
    args.push("--linger=1".into());
    // Two lines in one pipe: both arrive, in order, as Enter-terminated commands.
    let output = run_piped(&args, b"STAT\r\nUSER 0\n")?;
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stat = stdout
        .find("STAT\r\n")
        .ok_or_else(|| Failure(format!("no STAT echo: {stdout:?}")))?;
    assert!(
        stdout[stat..].contains("A: R/W, Space:"),
        "STAT's report missing: {stdout:?}"
    );
    assert!(stdout[stat..].contains("A>USER 0\r\n"), "{stdout:?}");
    Ok(())
}

#[test]
fn a_wrong_password_is_a_clear_error() -> Result<(), Failure> {
    let Some(mut rig) = Rig::start_local("term_wrong_password", RigOptions::default())? else {
        return Ok(());
    };
    let local = rig.local().expect("a local rig");
    let mut target = local.web_target();
    if let Some((_, password)) = target.endpoint.credentials.as_mut() {
        *password = b"not the password".to_vec();
    }
    let args = login_args(&target, &local.broker_dir())?;
    let output = run_piped(&args, b"DIR\n")?;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "altair-cloud term: cannot log in to {}",
            target.endpoint.url
        )) && stderr.contains("CONNACK 5"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
    Ok(())
}

/// `altair-cloud term` at a pseudo-terminal made by util-linux `script`, so it runs in raw
/// mode with bracketed paste, as a person uses it; everything it prints is collected.
struct AtTty {
    child: Child,
    seen: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    cursor: usize,
}

impl AtTty {
    fn start(args: &[String]) -> Result<AtTty, Failure> {
        let program = workspace_program(ALTAIR_CLOUD)?;
        let command = std::iter::once(program.display().to_string())
            .chain(args.iter().cloned())
            .map(|a| shell_quote(&a))
            .collect::<Vec<_>>()
            .join(" ");
        let mut child = Command::new("script")
            .args(["-qfec", &command, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Failure(format!("cannot start script (util-linux): {e}")))?;
        let mut stdout = child.stdout.take().expect("piped");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Ok(AtTty {
            child,
            seen,
            cursor: 0,
        })
    }

    fn keys(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        let stdin = self.child.stdin.as_mut().expect("piped");
        stdin
            .write_all(bytes)
            .and_then(|()| stdin.flush())
            .map_err(|e| Failure(format!("typing at the tty: {e}")))
    }

    /// Waits for `needle` after the last match; returns what came up to it.
    fn wait_for(&mut self, needle: &str) -> Result<String, Failure> {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            {
                let seen = self.seen.lock().unwrap();
                let hay = &seen[self.cursor..];
                if let Some(at) = hay
                    .windows(needle.len())
                    .position(|w| w == needle.as_bytes())
                {
                    let found = text(&hay[..at + needle.len()]);
                    self.cursor += at + needle.len();
                    return Ok(found);
                }
                if Instant::now() >= deadline {
                    return Err(Failure(format!(
                        "{needle:?} did not appear at the tty; after the last step: {:?}",
                        text(hay)
                    )));
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for AtTty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A local rig at the CP/M prompt, and `term` at a tty logged in with a client
/// certificate, once it says the device is online; `None` when skipped.
fn term_at_a_tty(test: &str) -> Result<Option<(Rig, AtTty)>, Failure> {
    let Some(mut rig) = rig_at_prompt(test)? else {
        return Ok(None);
    };
    let local = rig.local().expect("a local rig");
    // A client certificate needs no password file, so no folder is written to.
    let args = login_args(&local.target(), Path::new("/nonexistent"))?;
    let mut tty = AtTty::start(&args)?;
    tty.wait_for("(Ctrl-] ? for help)")?;
    tty.wait_for("[term] device online")?;
    Ok(Some((rig, tty)))
}

fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

#[test]
fn at_a_tty_keys_ctrl_keys_the_monitor_and_quit_work() -> Result<(), Failure> {
    let Some((_rig, mut tty)) = term_at_a_tty("term_at_a_tty")? else {
        return Ok(());
    };

    // Character mode: each key goes at once and CP/M echoes it.
    tty.keys(b"DIR\r")?;
    tty.wait_for("A: MBASIC   COM : PIP      COM")?;
    tty.wait_for("A>")?;

    // Ctrl-C is a key for the guest (via dev/ctrl): CP/M warm-boots and prompts again.
    tty.keys(b"\x03")?;
    tty.wait_for("A>")?;

    // A bracketed paste goes on dev/paste and reaches the guest.
    tty.keys(b"\x1b[200~STAT\r\x1b[201~")?;
    tty.wait_for("A: R/W, Space:")?;

    // Ctrl-] m: the device's front-panel monitor; R shows the registers; M again leaves.
    tty.keys(b"\x1dm")?;
    tty.wait_for("MONITOR: CPU stopped at PC=")?;
    tty.keys(b"R\r")?;
    tty.wait_for("PC=")?;
    tty.keys(b"\x1dm")?;

    // Line mode: the line is edited here (Backspace), sent whole with Enter.
    tty.keys(b"\x1dl")?;
    tty.wait_for("[term] line mode")?;
    tty.keys(b"\r")?;
    tty.wait_for("A>")?;
    tty.keys(b"DIX\x7fR\r")?;
    tty.wait_for("A: L80      COM : LADDER   COM")?;

    // Ctrl-] ? lists the commands; Ctrl-] q leaves with status 0.
    tty.keys(b"\x1d?")?;
    tty.wait_for("q quit")?;
    tty.keys(b"\x1dq")?;
    let status = exit_within(&mut tty.child, STEP_TIMEOUT)?
        .ok_or_else(|| Failure::new("term did not leave after Ctrl-] q"))?;
    assert!(status.success(), "term exited with {status}");
    Ok(())
}

#[test]
fn at_a_tty_a_broker_restart_is_shown_and_survived() -> Result<(), Failure> {
    let Some((mut rig, mut tty)) = term_at_a_tty("term_broker_restart")? else {
        return Ok(());
    };
    let local = rig.local().expect("a local rig");
    local.broker().stop();
    tty.wait_for("[term] connection lost")?;
    // Typed while the broker is away: held, then sent once it is back.
    tty.keys(b"DIR\r")?;
    local.broker().resume()?;
    tty.wait_for("[term] reconnected")?;
    tty.wait_for("A: MBASIC   COM : PIP      COM")?;
    tty.keys(b"\x1dq")?;
    Ok(())
}
