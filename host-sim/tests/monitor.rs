//! The front-panel monitor through `host-sim run`, typed at from a pipe.

mod support;

use std::time::Duration;

use support::{host_sim, run_with_input, shared_or_skip};

const LIMIT: Duration = Duration::from_secs(30);

/// host-sim in an empty folder, where no ROM or disk can be found: `./disks`,
/// `../shared/disks` and `$ALTAIR_DISKS` all fall inside the fresh temporary folder.
fn bare_machine(dir: &std::path::Path) -> std::process::Command {
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let mut cmd = host_sim();
    cmd.current_dir(&work).env("ALTAIR_DISKS", dir).arg("run");
    cmd
}

#[test]
fn with_no_media_it_starts_in_the_monitor_and_says_how_to_attach_a_disk() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_with_input(bare_machine(dir.path()), b"Q\r", LIMIT);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--disk A=cpm63k.dsk") && stderr.contains("--basic"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("MONITOR: CPU stopped at PC=0000"),
        "{stdout}"
    );
}

#[test]
fn deposit_examine_switches_step_and_run_from_the_monitor() {
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(
        "D 0100 3E 07 76\r",  // MVI A,07H; HLT
        "0000000100000000\r", // switches = 0100
        "E\r",
        "EN\r",
        "G 0100\r", // runs to the HLT, which brings the monitor back
        "R\r",
        "Q\r",
    );
    let out = run_with_input(bare_machine(dir.path()), script.as_bytes(), LIMIT);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "0100 00000001 00000000  3E 00111110  MVI  A,07H\r\n",
        "switches 0100",
        "0101 00000001 00000001  07 00000111  RLC\r\n",
        "RUN from PC=0100",
        "CPU halted at 0102H",
        "A=07",
        "PC=0103",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn single_step_executes_one_instruction() {
    let dir = tempfile::tempdir().unwrap();
    let script = "D 0000 3E 42 47\rS\rS\rR\rQ\r"; // MVI A,42H; MOV B,A
    let out = run_with_input(bare_machine(dir.path()), script.as_bytes(), LIMIT);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("0002 00000000 00000010  47 01000111  MOV  B,A"),
        "{text}"
    );
    assert!(text.contains("A=42 F=02 B=42"), "{text}");
}

#[test]
fn the_escape_key_stops_a_running_guest_and_g_resumes_it() {
    let Some(shared) = shared_or_skip("monitor escape") else {
        return;
    };
    let mut cmd = host_sim();
    cmd.arg("run")
        .arg("--basic")
        .arg(shared.join("disks/basic8k.bin"));
    // At BASIC's first question: open the monitor, look, resume, answer the questions.
    let script = b"\x1dR\rG\r\r\rY\rPRINT 6*7\r";
    let out = run_with_input(cmd, script, LIMIT);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let monitor = text.find("MONITOR: CPU stopped").expect("monitor opened");
    let registers = text.find("INTE=").expect("registers shown");
    let answer = text.find(" 42 ").expect("BASIC carried on after G");
    assert!(monitor < registers && registers < answer, "{text}");
}
