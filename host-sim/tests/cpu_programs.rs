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

/// Runs `program` as a `.COM` file with `--stats`: exit code, stdout, stderr.
fn run_program(program: &[u8]) -> (Option<i32>, Vec<u8>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("TEST.COM");
    std::fs::write(&path, program).unwrap();
    let out = host_sim()
        .arg("com")
        .arg(&path)
        .arg("--stats")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), out.stdout, stderr)
}

#[test]
fn a_program_that_halts_with_interrupts_enabled_ends_with_status_1_naming_the_address() {
    // EI; HLT: the harness raises no interrupt, so this HLT is the end whatever INTE is.
    let (code, _, stderr) = run_program(&[0xFB, 0x76]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("halted at 0101H") && !stderr.contains("interrupts disabled"),
        "{stderr}"
    );
    assert!(stderr.contains("instructions=2 cycles=11"), "{stderr}");
}

#[test]
fn console_output_functions_beyond_print_are_served_and_system_reset_ends_the_program() {
    #[rustfmt::skip]
    let program = [
        0x0E, 0x06, 0x1E, b'B', 0xCD, 0x05, 0x00, // MVI C,6; MVI E,'B'; CALL 5: prints B
        0x0E, 0x06, 0x1E, 0xFF, 0xCD, 0x05, 0x00, // direct I/O input: A = 0, no key
        0xC6, b'0', 0x5F, 0x0E, 0x02, 0xCD, 0x05, 0x00, // ADI '0'; MOV E,A; print it
        0x0E, 0x0B, 0x3E, 0x55, 0xCD, 0x05, 0x00, // console status, A = 55H before
        0xC6, b'0', 0x5F, 0x0E, 0x02, 0xCD, 0x05, 0x00, // print A + '0'
        0x0E, 0x0C, 0xCD, 0x05, 0x00, // version: HL = 0022H
        0x7D, 0xFE, 0x22, 0x1E, b'Y', 0xCA, 0x34, 0x01, // MOV A,L; CPI 22H; MVI E,'Y'; JZ 0134H
        0x1E, b'N', // MVI E,'N'
        0x0E, 0x02, 0xCD, 0x05, 0x00, // 0134H: print E
        0x0E, 0x00, 0xCD, 0x05, 0x00, // system reset: the end
        0x76, // HLT, never reached
    ];
    let (code, stdout, stderr) = run_program(&program);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&stdout), "B00Y");
    // The counts end with the CALL of function 0, as they end with the jump to 0.
    assert_eq!(stderr.trim(), "instructions=34 cycles=336");
}

#[test]
fn a_bdos_function_the_harness_does_not_serve_stops_the_run_naming_it() {
    // MVI C,n; CALL 5; JMP 0: console input and "open file" have no answer here.
    for (function, name) in [(1, "console input"), (15, "a disk or file function")] {
        let (code, stdout, stderr) =
            run_program(&[0x0E, function, 0xCD, 0x05, 0x00, 0xC3, 0x00, 0x00]);
        assert_eq!(code, Some(1), "function {function}: {stderr}");
        assert!(stdout.is_empty());
        assert!(
            stderr.contains(&format!("BDOS function {function} ({name}) at 0102H")),
            "{stderr}"
        );
        assert!(stderr.contains("instructions=2 cycles=24"), "{stderr}");
    }
}
