//! The workspace's programs a scenario runs as processes (`host-sim`, `altair-cloud`),
//! found the same way for each.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Failure;

/// A program built from this workspace.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// The binary's name.
    pub bin: &'static str,
    /// The package that builds it.
    pub package: &'static str,
    /// The environment variable that names a binary to use instead.
    pub env: &'static str,
}

/// The device on a laptop.
pub const HOST_SIM: Program = Program {
    bin: "host-sim",
    package: "altair-host-sim",
    env: "ALTAIR_HOST_SIM",
};

/// The broker tools and the terminal client.
pub const ALTAIR_CLOUD: Program = Program {
    bin: "altair-cloud",
    package: "altair-cloud",
    env: "ALTAIR_CLOUD",
};

/// Where `program` is: `$<env>`, else the one cargo built beside this test
/// (`target/<profile>/<bin>`, which `cargo test --workspace` builds), else it is built
/// now with cargo in the same profile.
pub fn workspace_program(program: Program) -> Result<PathBuf, Failure> {
    let Program { bin, package, env } = program;
    if let Some(path) = std::env::var_os(env) {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().map_err(|e| Failure(format!("current exe: {e}")))?;
    // target/<profile>/deps/<test>, or target/<profile>/<bench-or-bin>.
    let profile_dir = exe
        .ancestors()
        .skip(1)
        .find(|dir| dir.join(bin).is_file() || dir.file_name().is_some_and(|n| n != "deps"))
        .map(Path::to_path_buf)
        .ok_or_else(|| Failure::new("cannot tell the target folder from the test's path"))?;
    let binary = profile_dir.join(bin);
    if binary.is_file() {
        return Ok(binary);
    }
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    println!("[hil] {} missing: building it with cargo", binary.display());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "-p", package, "--bin", bin]);
    if release {
        build.arg("--release");
    }
    let status = build
        .status()
        .map_err(|e| Failure(format!("cannot run cargo to build {bin}: {e}")))?;
    if !status.success() || !binary.is_file() {
        return Err(Failure(format!(
            "{bin} is not built at {}: run `cargo build{} -p {package}` or set {env}",
            binary.display(),
            if release { " --release" } else { "" }
        )));
    }
    Ok(binary)
}
