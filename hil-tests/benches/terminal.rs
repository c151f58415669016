//! The terminal's speed through Mosquitto, end to end on loopback: keystroke-to-echo
//! round trips (p50 and p99 over 1,000 keys) on the device listener (mutual TLS) and on
//! the browser listener (WebSockets), and sustained output throughput with MBASIC
//! printing over 1 MB. Targets (issue 4): p50 at most 1 ms, p99 at most 5 ms, 1 MB/s.
//!
//! `cargo bench -p altair-hil-tests --bench terminal` (it needs Mosquitto and ../shared;
//! without them it says so and exits). `KEYS=n` and `LINES=n` change the number of keys
//! and of lines printed.

use std::time::{Duration, Instant};

use altair_hil::{Failure, Rig, RigOptions, STEP_TIMEOUT, Target, Terminal};

/// One 62-character line; MBASIC prints it with CR LF, 64 bytes.
const LINE: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Lines printed by default: 16,500 x 64 bytes = 1,056,000 bytes (`LINES=n` changes it).
const LINES: usize = 16_500;

fn main() -> Result<(), Failure> {
    let keys = env_count("KEYS", 1_000);
    let lines = env_count("LINES", LINES);
    let options = RigOptions {
        quiet: true,
        ..RigOptions::default()
    };
    let Some(mut rig) = Rig::start_local("bench-terminal", options)? else {
        return Ok(());
    };
    let web_target = rig.local().expect("a local rig").web_target();
    let mut term = rig.terminal()?;
    term.quiet();
    term.wait_status("online", STEP_TIMEOUT)?;
    term.at_cpm_prompt()?;

    println!("keystroke to echo, {keys} keys at the CP/M prompt (x, then backspace, ...):");
    echo_round_trips(&mut term, keys, "mqtts (device listener, mutual TLS)")?;
    let mut web = web_terminal(&web_target)?;
    echo_round_trips(&mut web, keys, "wss (browser listener, password)")?;
    drop(web);

    throughput(&mut term, lines)?;
    Ok(())
}

/// A count from the environment variable `name`, else `default`.
fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(default)
}

/// A terminal logged in as the web user over WebSockets.
fn web_terminal(target: &Target) -> Result<Terminal, Failure> {
    let mut term = Terminal::attach(target, &format!("bench-web-{}", std::process::id()))?;
    term.quiet();
    term.forget_so_far();
    Ok(term)
}

/// Types `keys` keys one at a time, each after the previous one's echo, and prints the
/// distribution of the round trips.
fn echo_round_trips(term: &mut Terminal, keys: usize, label: &str) -> Result<(), Failure> {
    term.forget_so_far();
    let mut samples = Vec::with_capacity(keys);
    for i in 0..keys {
        // CP/M echoes x as x, and backspace as BS, space, BS.
        let (key, echo) = if i % 2 == 0 {
            ("x", "x")
        } else {
            ("\x08", "\x08 \x08")
        };
        let started = Instant::now();
        term.type_keys(key)?;
        term.wait_for_within(echo, Duration::from_secs(5))?;
        samples.push(started.elapsed());
    }
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "  {label}: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        ms(at(0.50)),
        ms(at(0.90)),
        ms(at(0.99)),
        ms(samples[samples.len() - 1])
    );
    Ok(())
}

/// Runs an MBASIC program printing over 1 MB and prints the bytes per second that reach
/// the terminal.
fn throughput(term: &mut Terminal, lines_wanted: usize) -> Result<(), Failure> {
    term.type_text("MBASIC\r")?;
    term.wait_for("Ok\r\n")?;
    term.type_text(&format!(
        "10 FOR I=1 TO {lines_wanted}: PRINT \"{LINE}\": NEXT I\r"
    ))?;
    term.wait_for("\r\n")?;
    term.forget_so_far();
    let before = term.output().len();
    let started = Instant::now();
    term.type_text("RUN\r")?;
    term.wait_for_within("Ok\r\n", Duration::from_secs(120))?;
    let elapsed = started.elapsed();
    let bytes = term.output().len() - before;
    let lines = String::from_utf8_lossy(&term.output()[before..])
        .matches(LINE)
        .count();
    if lines != lines_wanted {
        return Err(Failure(format!("{lines} of {lines_wanted} lines arrived")));
    }
    println!(
        "output: {bytes} bytes ({lines} lines, every one) in {:.3} s = {:.2} MB/s",
        elapsed.as_secs_f64(),
        bytes as f64 / elapsed.as_secs_f64() / 1e6
    );
    term.type_text("SYSTEM\r")?;
    term.wait_for("A>")?;
    Ok(())
}
