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

/// A command running `program` with its standard output line-buffered even into a pipe
/// (through `stdbuf -oL` when present): `mosquitto_sub` otherwise holds its lines in a
/// block buffer, and whoever reads them sees nothing until it fills.
pub fn line_buffered(program: &std::path::Path) -> std::process::Command {
    match find_program("stdbuf") {
        Some(stdbuf) => {
            let mut cmd = std::process::Command::new(stdbuf);
            cmd.arg("-oL").arg(program);
            cmd
        }
        None => std::process::Command::new(program),
    }
}

/// Starts `cmd` with stdin closed and hands every line it writes to stdout or stderr,
/// mapped by `map`, to the returned channel as it comes (one reader thread per stream).
pub fn spawn_lines<T: Send + 'static>(
    mut cmd: std::process::Command,
    map: fn(String) -> T,
) -> std::io::Result<(std::process::Child, std::sync::mpsc::Receiver<T>)> {
    use std::io::{BufRead as _, BufReader, Read};
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let (tx, lines) = std::sync::mpsc::channel();
    let streams: [Option<Box<dyn Read + Send>>; 2] = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ];
    for stream in streams.into_iter().flatten() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(map(line)).is_err() {
                    break;
                }
            }
        });
    }
    Ok((child, lines))
}

/// Starts `mosquitto -c conf` with stdin closed and its output (the broker's log, with
/// `log_dest stderr` as `broker init` writes it) appended to the file `log`.
pub fn start_mosquitto(
    conf: &std::path::Path,
    log: &std::path::Path,
) -> std::io::Result<std::process::Child> {
    let program = find_program("mosquitto").ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "mosquitto is not installed")
    })?;
    let log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(log)?;
    std::process::Command::new(program)
        .arg("-c")
        .arg(conf)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
}
