//! `host-sim com`: a CP/M `.COM` test program on the bare 8080 (reference.md section 1).

use std::io::{self, BufWriter, Write};
use std::path::Path;

use altair_firmware::cpm_com::{ComRunner, Status};

/// What a finished run reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComStats {
    /// 8080 instructions executed, up to and including the jump to 0.
    pub instructions: u64,
    /// 8080 states (clock periods) used.
    pub cycles: u64,
    /// How the run ended.
    pub status: Status,
}

/// States run between flushes of console output, so a long program's progress shows.
const FLUSH_EVERY_STATES: u64 = 200_000_000;

/// Runs the program in `path`, writing its console bytes to `out` as they come.
pub fn run_file(path: &Path, out: &mut impl Write) -> Result<ComStats, String> {
    let program =
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut runner = ComRunner::new(&program).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BufWriter::new(out);
    let mut write_error: Option<io::Error> = None;
    let status = loop {
        let status = runner.run(FLUSH_EVERY_STATES, &mut |byte| {
            if write_error.is_none()
                && let Err(e) = out.write_all(&[byte])
            {
                write_error = Some(e);
            }
        });
        if let Some(e) = write_error.take() {
            return Err(format!("writing output: {e}"));
        }
        out.flush().map_err(|e| format!("writing output: {e}"))?;
        if status != Status::Running {
            break status;
        }
    };
    let cpu = runner.cpu();
    Ok(ComStats {
        instructions: cpu.instructions,
        cycles: cpu.cycles,
        status,
    })
}
