//! The classic 8080 test programs through `host-sim com`: output byte for byte, and the
//! exact instruction and state counts of reference.md section 1.

mod support;

use support::{host_sim, shared_or_skip};

fn check(name: &str, instructions: u64, cycles: u64) {
    let Some(shared) = shared_or_skip(name) else {
        return;
    };
    let dir = shared.join("cpu_tests");
    let out = host_sim()
        .arg("com")
        .arg(dir.join(format!("{name}.COM")))
        .arg("--stats")
        .output()
        .expect("run host-sim");
    assert!(out.status.success(), "{name}: exit {:?}", out.status);
    let expected = std::fs::read(dir.join("expected").join(format!("{name}.out"))).unwrap();
    assert!(
        out.stdout == expected,
        "{name}: console output differs\n--- got ---\n{}\n--- expected ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&expected)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        format!("instructions={instructions} cycles={cycles}"),
        "{name}: counts"
    );
}

#[test]
fn tst8080_prints_cpu_is_operational_with_exact_counts() {
    check("TST8080", 648, 4_894);
}

#[test]
fn prelim_8080pre_passes_with_exact_counts() {
    check("8080PRE", 1_059, 7_797);
}

#[test]
fn cputest_passes_with_exact_counts() {
    check("CPUTEST", 33_971_128, 255_651_553);
}

/// About 3 billion instructions: run in release (`--run-ignored all` in scripts/test.sh).
#[test]
#[ignore = "slow: 8080EXM runs 2.9 billion instructions; CI runs it in release"]
fn exerciser_8080exm_passes_every_crc_with_exact_counts() {
    check("8080EXM", 2_919_050_420, 23_803_378_391);
}

#[test]
fn a_missing_program_is_a_clear_error() {
    let out = host_sim()
        .args(["com", "/nonexistent/X.COM"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read /nonexistent/X.COM"),
        "{stderr}"
    );
}

#[test]
fn a_program_too_large_for_memory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("BIG.COM");
    std::fs::write(&path, vec![0u8; 0x10000]).unwrap();
    let out = host_sim().arg("com").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("65536 bytes") && stderr.contains("65280"),
        "{stderr}"
    );
}

#[test]
fn a_program_that_halts_with_interrupts_enabled_ends_with_status_1_naming_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("EIHLT.COM");
    // EI; HLT: the harness raises no interrupt, so this HLT is the end whatever INTE is.
    std::fs::write(&path, [0xFB, 0x76]).unwrap();
    let out = host_sim()
        .arg("com")
        .arg(&path)
        .arg("--stats")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("halted at 0101H") && !stderr.contains("interrupts disabled"),
        "{stderr}"
    );
    assert!(stderr.contains("instructions=2 cycles=11"), "{stderr}");
}
