//! Finding ROMs and disk images the user did not name: `$ALTAIR_DISKS`, `./disks`, then
//! `../shared/disks`, in that order. The project ships no third-party images, so when
//! none is found the caller says how to attach one.

use std::path::PathBuf;

/// The MITS 88-DCDD boot loader PROM image.
pub const BOOT_ROM: &str = "88dskrom.bin";
/// The default CP/M boot disk.
pub const CPM_DISK: &str = "cpm63k.dsk";

/// The folders searched, in order (only those that exist).
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("ALTAIR_DISKS") {
        dirs.push(PathBuf::from(dir));
    }
    dirs.push(PathBuf::from("disks"));
    dirs.push(PathBuf::from("../shared/disks"));
    dirs.retain(|d| d.is_dir());
    dirs
}

/// The first `name` found in the search folders.
pub fn find(name: &str) -> Option<PathBuf> {
    search_dirs()
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A folder where both the boot ROM and the default CP/M disk are.
pub fn find_cpm() -> Option<(PathBuf, PathBuf)> {
    search_dirs().into_iter().find_map(|d| {
        let (rom, disk) = (d.join(BOOT_ROM), d.join(CPM_DISK));
        (rom.is_file() && disk.is_file()).then_some((rom, disk))
    })
}

/// How to attach media, for when none was found.
pub const HOW_TO_ATTACH: &str = "\
no boot ROM or disk found (looked in $ALTAIR_DISKS, ./disks and ../shared/disks).
To boot CP/M:   host-sim run --rom 0xFF00=88dskrom.bin --disk A=cpm63k.dsk
or put 88dskrom.bin and cpm63k.dsk in ./disks (or point ALTAIR_DISKS at them).
To run BASIC:   host-sim run --basic basic8k.bin";

/// The project's shared test material: `$ALTAIR_SHARED`, else `../shared` beside the
/// checkout this crate was built from. Tests and benchmarks use it; when it is missing
/// they skip and say so, because the project ships no third-party programs or images.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("ALTAIR_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    };
    dir.is_dir().then_some(dir)
}
