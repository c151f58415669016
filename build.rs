//! Turns the build's one configuration into the firmware's constants, its baked
//! certificates and `app_manifest.json`. The rules (sources, precedence, certificate
//! layout, checks) live in the `altair-config` crate, where they are tested; this file
//! only wires them to cargo.
//!
//! Outputs: `$OUT_DIR/config.rs` (constants), `$OUT_DIR/{ca,client,client_key}.der`
//! (included by `config.rs`), and `app_manifest.json` at the crate root, rewritten only
//! when its content changes so an unchanged configuration leaves the checkout clean.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

use altair_config::{ENV_VARS, Sources, certs};

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

fn write_if_changed(path: &Path, contents: &[u8]) {
    if fs::read(path).ok().as_deref() != Some(contents) {
        fs::write(path, contents)
            .unwrap_or_else(|e| fail(format!("write {}: {e}", path.display())));
    }
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    for var in ENV_VARS {
        println!("cargo::rerun-if-env-changed={var}");
    }
    let root =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let lookup = |name: &str| env::var(name).ok();
    let sources = Sources {
        env: &lookup,
        root: &root,
    };
    let (config, file) = sources.resolve().unwrap_or_else(|e| fail(e));
    if let Some(file) = file {
        println!("cargo::rerun-if-changed={}", file.display());
    }
    let baked = certs::prepare(&config).unwrap_or_else(|e| fail(e));
    for path in &baked.files {
        println!("cargo::rerun-if-changed={}", path.display());
    }
    for warning in &baked.warnings {
        println!("cargo::warning={warning}");
    }
    if baked.created_dev_pki {
        println!(
            "cargo::warning=made the development PKI in {} (once; private keys stay out of git)",
            config.certs.dir().display()
        );
    }
    write_if_changed(&out.join("ca.der"), &baked.ca_der);
    write_if_changed(&out.join("client.der"), &baked.client_der);
    write_if_changed(&out.join("client_key.der"), &baked.client_key_der);
    write_if_changed(&out.join("config.rs"), config.constants_rs().as_bytes());
    let manifest = config.app_manifest();
    write_if_changed(&out.join("app_manifest.json"), manifest.as_bytes());
    write_if_changed(&root.join("app_manifest.json"), manifest.as_bytes());
}
