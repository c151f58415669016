//! What `run`'s command line asks for that cannot work is refused before anything runs,
//! with a message naming it: empty images, a missing image, a disk with no boot ROM to
//! be found, a drive named twice, one image in two drives, an image another host-sim is
//! writing, and a clock rate that is not a finite number above 0.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::{copy_disk, host_sim, run_with_input, shared_or_skip};

const LIMIT: Duration = Duration::from_secs(60);

/// An image of the right size (all zeros) and a one-byte ROM, enough to get past the
/// checks of sizes and of a missing boot ROM.
fn plain_media(dir: &Path) -> (PathBuf, PathBuf) {
    let disk = dir.join("zeros.dsk");
    std::fs::write(&disk, vec![0u8; 337_568]).unwrap();
    let rom = dir.join("rom.bin");
    std::fs::write(&rom, [0x76]).unwrap();
    (disk, rom)
}

fn run(args: &[String]) -> Output {
    let mut cmd = host_sim();
    cmd.arg("run").args(args);
    run_with_input(cmd, b"", LIMIT)
}

fn assert_refused(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
    }
}

#[test]
fn an_empty_rom_or_basic_image_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.bin");
    std::fs::write(&empty, []).unwrap();
    let named = empty.display().to_string();
    for option in ["--basic", "--rom"] {
        let value = if option == "--rom" {
            format!("0xFF00={named}")
        } else {
            named.clone()
        };
        let out = run(&[option.to_string(), value]);
        assert_refused(&out, &[&format!("{named} is empty")]);
    }
}

#[test]
fn a_clock_rate_that_is_not_a_finite_positive_number_is_refused() {
    for mhz in ["0", "-2", "NaN", "inf"] {
        let out = run(&[format!("--mhz={mhz}")]);
        assert_refused(
            &out,
            &[&format!(
                "--mhz {mhz}: expected a finite clock rate above 0"
            )],
        );
    }
}

#[test]
fn a_drive_named_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (disk, rom) = plain_media(dir.path());
    let other = dir.path().join("other.dsk");
    std::fs::copy(&disk, &other).unwrap();
    let out = run(&[
        format!("--rom=0xFF00={}", rom.display()),
        format!("--disk=B={}", disk.display()),
        format!("--disk=b={}", other.display()),
    ]);
    assert_refused(
        &out,
        &["drive B is given twice", &other.display().to_string()],
    );
}

#[test]
fn one_image_in_two_drives_is_refused_however_it_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (disk, rom) = plain_media(dir.path());
    let alias = dir.path().join("alias.dsk");
    std::os::unix::fs::symlink(&disk, &alias).unwrap();
    let out = run(&[
        format!("--rom=0xFF00={}", rom.display()),
        format!("--disk=A={}", disk.display()),
        format!("--disk=C={}", alias.display()),
    ]);
    assert_refused(
        &out,
        &["drives A (", ") and C (", "are one image", "attach a copy"],
    );
}

/// `run` with `args` in an empty folder and no `$ALTAIR_DISKS`, so no boot ROM can be
/// found for a disk given without one.
fn run_with_no_rom_to_find(args: &[String]) -> Output {
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = host_sim();
    cmd.current_dir(cwd.path())
        .env_remove("ALTAIR_DISKS")
        .arg("run")
        .args(args);
    run_with_input(cmd, b"", LIMIT)
}

#[test]
fn a_missing_disk_is_named_before_a_boot_rom_is_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.dsk");
    let out = run_with_no_rom_to_find(&[format!("--disk=A={}", missing.display())]);
    assert_refused(
        &out,
        &["cannot open disk image", &missing.display().to_string()],
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("boot ROM"));
}

#[test]
fn a_disk_with_no_boot_rom_to_find_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let (disk, _) = plain_media(dir.path());
    let out = run_with_no_rom_to_find(&[format!("--disk=A={}", disk.display())]);
    assert_refused(
        &out,
        &[
            "a disk needs the boot ROM",
            "$ALTAIR_DISKS, ./disks or ../shared/disks",
            "--rom 0xFF00=PATH/88dskrom.bin",
        ],
    );
}

/// `run`'s options for CP/M from `disk` with the shared boot ROM.
fn cpm(shared: &Path, disk: &Path) -> Vec<String> {
    vec![
        format!(
            "--rom=0xFF00={}",
            shared.join("disks/88dskrom.bin").display()
        ),
        format!("--disk=A={}", disk.display()),
    ]
}

/// Starts host-sim on CP/M from `disk` and returns it once it shows `A>`, its stdin
/// still open so that it waits there.
fn running_cpm(shared: &Path, disk: &Path) -> Child {
    let mut child = host_sim()
        .arg("run")
        .args(cpm(shared, disk))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start host-sim");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            if seen.windows(2).any(|w| w == b"A>") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(LIMIT).expect("the first host-sim shows A>");
    child
}

#[test]
fn an_image_another_host_sim_is_writing_is_refused() {
    let Some(shared) = shared_or_skip("image in use") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let disk = copy_disk(&shared, "cpm63k.dsk", dir.path());
    let mut first = running_cpm(&shared, &disk);
    let out = run(&cpm(&shared, &disk));
    first.kill().unwrap();
    first.wait().unwrap();
    assert_refused(&out, &[&format!("disk image {} is in use", disk.display())]);
    // Once the first has gone, the image opens again.
    let out = run(&cpm(&shared, &disk));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
