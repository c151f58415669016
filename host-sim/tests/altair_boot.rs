//! `host-sim run` booting real media from ../shared and typed at through a pipe, compared
//! with the shared transcripts (trailing spaces stripped, every byte up to the last
//! prompt exact).

mod support;

use std::path::Path;
use std::time::Duration;

use support::{copy_disk, host_sim, run_with_input, shared_or_skip, strip_trailing_spaces};

const LIMIT: Duration = Duration::from_secs(60);

fn boot_cpm(shared: &Path, disk: &Path, typed: &[u8]) -> std::process::Output {
    let mut cmd = host_sim();
    cmd.arg("run")
        .arg("--rom")
        .arg(format!(
            "0xFF00={}",
            shared.join("disks/88dskrom.bin").display()
        ))
        .arg("--disk")
        .arg(format!("A={}", disk.display()));
    run_with_input(cmd, typed, LIMIT)
}

fn assert_transcript(got: &[u8], expected_file: &Path) {
    let expected = std::fs::read(expected_file).unwrap();
    let (got, expected) = (strip_trailing_spaces(got), strip_trailing_spaces(&expected));
    assert!(
        got == expected,
        "transcript differs from {}\n--- got ---\n{got:?}\n--- expected ---\n{expected:?}",
        expected_file.display()
    );
}

fn boots_and_lists(image: &str, transcript: &str) {
    let Some(shared) = shared_or_skip(image) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let disk = copy_disk(&shared, image, dir.path());
    let out = boot_cpm(&shared, &disk, b"DIR\r");
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_transcript(&out.stdout, &shared.join("disks/expected").join(transcript));
}

#[test]
fn cpm_63k_boots_and_dir_matches_the_transcript() {
    boots_and_lists("cpm63k.dsk", "cpm63k.boot_DIR.out");
}

#[test]
fn cpm_56k_boots_and_dir_matches_the_transcript() {
    boots_and_lists("cpm56k.dsk", "cpm56k.boot_DIR.out");
}

#[test]
fn basic_8k_starts_and_prints_2_plus_2() {
    let Some(shared) = shared_or_skip("basic8k") else {
        return;
    };
    let mut cmd = host_sim();
    cmd.arg("run")
        .arg("--basic")
        .arg(shared.join("disks/basic8k.bin"));
    let out = run_with_input(cmd, b"\r\rY\rPRINT 2+2\r", LIMIT);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_transcript(&out.stdout, &shared.join("disks/expected/basic8k.boot.out"));
}

#[test]
fn a_file_written_under_cpm_is_there_after_a_cold_reboot() {
    let Some(shared) = shared_or_skip("cpm persistence") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let disk = copy_disk(&shared, "cpm63k.dsk", dir.path());
    let pristine = std::fs::read(&disk).unwrap();
    // ED: insert two lines, end the insert with Ctrl-Z, then E saves and exits.
    let session = b"ED HELLO.TXT\rI\rHELLO FROM THE ALTAIR\rSECOND LINE\r\x1aE\r";
    let out = boot_cpm(&shared, &disk, session);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(
        std::fs::read(&disk).unwrap(),
        pristine,
        "the image file changed"
    );
    // A new process is a cold boot from the same image.
    let out = boot_cpm(&shared, &disk, b"TYPE HELLO.TXT\r");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("A>TYPE HELLO.TXT\r\nHELLO FROM THE ALTAIR\r\nSECOND LINE\r\n"),
        "after reboot:\n{text}"
    );
}

#[test]
fn a_truncated_image_is_refused_naming_the_file_and_the_sizes() {
    let Some(shared) = shared_or_skip("truncated image") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("short.dsk");
    let image = std::fs::read(shared.join("disks/cpm63k.dsk")).unwrap();
    std::fs::write(&disk, &image[..100_000]).unwrap();
    let out = boot_cpm(&shared, &disk, b"");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&disk.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("100000 bytes") && stderr.contains("337568") && stderr.contains("337664"),
        "{stderr}"
    );
}
