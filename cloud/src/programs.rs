//! Finding the Mosquitto programs (the broker and its command-line clients) that the
//! broker tools and their tests run.

use std::path::PathBuf;

/// The programs of Debian's `mosquitto` and `mosquitto-clients` packages.
pub const MOSQUITTO_PROGRAMS: [&str; 3] = ["mosquitto", "mosquitto_pub", "mosquitto_sub"];

/// Finds `name` in `PATH`, then `/usr/sbin` and `/usr/bin` (Debian puts `mosquitto` in
/// `/usr/sbin`, which an ordinary user's `PATH` often lacks).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The Mosquitto programs that are not installed; empty when all are.
pub fn missing_mosquitto() -> Vec<&'static str> {
    MOSQUITTO_PROGRAMS
        .into_iter()
        .filter(|p| find_program(p).is_none())
        .collect()
}
