//! Helpers shared by the host-sim integration tests: the shared material, the binary,
//! and a bounded wait for it.
#![allow(dead_code)]

pub mod broker;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The shared folder, or `None` after printing why the test is skipped.
pub fn shared_or_skip(test: &str) -> Option<PathBuf> {
    let dir = host_sim::media::shared_dir();
    if dir.is_none() {
        eprintln!("SKIPPED {test}: ../shared not found (set ALTAIR_SHARED to its path)");
    }
    dir
}

/// The host-sim binary under test.
pub fn host_sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_host-sim"))
}

/// Runs `cmd` with `stdin` piped in, failing the test if it takes longer than `limit`.
pub fn run_with_input(mut cmd: Command, stdin: &[u8], limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start host-sim");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).expect("write stdin");
    drop(input);
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("collect output");
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "host-sim did not finish within {limit:?}\nstdout so far:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A writable copy of a shared disk image in `dir`.
pub fn copy_disk(shared: &Path, name: &str, dir: &Path) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(shared.join("disks").join(name), &to).expect("copy disk image");
    let mut perms = std::fs::metadata(&to).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&to, perms).unwrap();
    to
}

/// Text with trailing spaces removed from every line, as the transcripts are compared.
pub fn strip_trailing_spaces(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.split('\n')
        .map(|line| line.trim_end_matches(' '))
        .collect::<Vec<_>>()
        .join("\n")
}
