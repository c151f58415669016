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
    qemu_image(&root, &out);
}

/// For the QEMU image (feature `qemu`): the linker script's memory map and the boot ROM.
///
/// RAM is declared as 160 KiB, the device budget (64 KiB of guest memory included), not
/// QEMU's 4 MiB: an image whose statics outgrow the budget fails to link, and the stack
/// gets what is left. The boot ROM is third-party, so it is never committed: it is linked
/// in from `ALTAIR_BOOT_ROM`, else `../shared/disks/88dskrom.bin` when that exists.
fn qemu_image(root: &Path, out: &Path) {
    println!("cargo::rerun-if-env-changed=ALTAIR_BOOT_ROM");
    if env::var_os("CARGO_FEATURE_QEMU").is_none() {
        write_if_changed(&out.join("boot_rom.rs"), b"None");
        return;
    }
    let memory = "\
/* QEMU mps2-an386 (Cortex-M4): 4 MiB of flash at 0; RAM limited to the device's
   160 KiB budget (docs/reference.md section 6). Written by build.rs. */
MEMORY
{
  FLASH : ORIGIN = 0x00000000, LENGTH = 256K
  RAM   : ORIGIN = 0x20000000, LENGTH = 160K
}
";
    write_if_changed(&out.join("memory.x"), memory.as_bytes());
    println!("cargo::rustc-link-search={}", out.display());
    if env::var("TARGET").is_ok_and(|t| t.starts_with("thumb")) {
        println!("cargo::rustc-link-arg-bins=-Tlink.x");
    }
    let rom = env::var_os("ALTAIR_BOOT_ROM")
        .map(PathBuf::from)
        .or_else(|| {
            let shared = root.join("../shared/disks/88dskrom.bin");
            shared.is_file().then_some(shared)
        });
    let code = match rom {
        Some(path) => {
            let path = path
                .canonicalize()
                .unwrap_or_else(|e| fail(format!("ALTAIR_BOOT_ROM {}: {e}", path.display())));
            println!("cargo::rerun-if-changed={}", path.display());
            format!("Some(include_bytes!({:?}))", path.display().to_string())
        }
        None => {
            println!(
                "cargo::warning=no boot ROM (ALTAIR_BOOT_ROM): the QEMU image starts in the monitor"
            );
            "None".to_owned()
        }
    };
    write_if_changed(&out.join("boot_rom.rs"), code.as_bytes());
}
