//! Free TCP ports for brokers that tests and the hil-tests runner start on this host.
//!
//! "Bind port 0, read the number, release it" races: between the release and Mosquitto's
//! own bind, any outgoing connection on the host may be handed that port, because it comes
//! from the kernel's ephemeral range, and a test running in parallel may pick it too. So a
//! port here comes from below the ephemeral range (outgoing connections never use it) and
//! is held by an exclusive lock file for the rest of the process (test processes that run
//! side by side never share one). The lock goes when the process exits.

use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Mutex;

/// The lowest port handed out: above the well-known and most registered service ports.
const LOWEST: u16 = 20_000;

/// Locks held until the process exits.
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

/// A TCP port that nothing listens on and that no other process using this function holds,
/// reserved for this process until it exits.
pub fn reserve_port() -> io::Result<u16> {
    let highest = ephemeral_low().saturating_sub(1).max(LOWEST + 1000);
    let span = u32::from(highest - LOWEST) + 1;
    let dir = std::env::temp_dir().join("altair-sphere-ports");
    std::fs::create_dir_all(&dir)?;
    let start = random_u32() % span;
    for i in 0..span {
        let port = LOWEST + ((start + i) % span) as u16;
        if let Some(lock) = try_hold(dir.join(format!("{port}.lock")))? {
            // Mosquitto's WebSockets listener binds every address, so check them all.
            if TcpListener::bind(("0.0.0.0", port)).is_ok() {
                HELD.lock().unwrap_or_else(|e| e.into_inner()).push(lock);
                return Ok(port);
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("no free TCP port between {LOWEST} and {highest}"),
    ))
}

/// The lock file at `path`, locked exclusively, or `None` when another process holds it.
fn try_hold(path: PathBuf) -> io::Result<Option<File>> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// The first port of the kernel's ephemeral range (Linux's default when it cannot be read).
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// A per-process random number (std's hasher keys are random), so parallel processes start
/// their search at different ports.
fn random_u32() -> u32 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_ports_are_distinct_bindable_and_below_the_ephemeral_range() {
        let ports: Vec<u16> = (0..5).map(|_| reserve_port().unwrap()).collect();
        for (i, p) in ports.iter().enumerate() {
            assert!(
                *p >= LOWEST && *p < ephemeral_low().max(LOWEST + 1001),
                "{p}"
            );
            assert!(!ports[..i].contains(p), "{p} handed out twice");
            TcpListener::bind(("127.0.0.1", *p)).expect("reserved port binds");
        }
    }

    #[test]
    fn a_held_lock_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("1.lock");
        let first = try_hold(path.clone()).unwrap();
        assert!(first.is_some());
        assert!(try_hold(path).unwrap().is_none());
    }
}
