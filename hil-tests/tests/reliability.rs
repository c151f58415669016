//! The device when things go wrong: the broker restarts mid-session, the connection is
//! cut in the middle of a TLS record, and junk arrives on every topic it subscribes to.
//!
//! These tests control the broker and the link, so they always run on a local rig (and
//! skip, saying why, where Mosquitto or ../shared is missing).

use std::time::{Duration, Instant};

use altair_hil::{Direction, Failure, Rig, RigOptions, STEP_TIMEOUT, Terminal};

/// Starts a local rig and a terminal at the CP/M prompt; `None` when skipped.
fn at_prompt(test: &str, options: RigOptions) -> Result<Option<(Rig, Terminal)>, Failure> {
    let Some(rig) = Rig::start_local(test, options)? else {
        return Ok(None);
    };
    let mut term = rig.terminal()?;
    term.wait_status("online", STEP_TIMEOUT)?;
    term.at_cpm_prompt()?;
    Ok(Some((rig, term)))
}

/// The numbers an MBASIC `PRINT I` loop printed in `text`, in order, each with the offset
/// where its line starts.
fn printed_numbers(text: &[u8], from: usize) -> Vec<(usize, u64)> {
    let mut numbers = Vec::new();
    let mut at = from;
    for line in text[from..].split(|&b| b == b'\n') {
        let line_start = at;
        at += line.len() + 1;
        let trimmed = String::from_utf8_lossy(line);
        if let Ok(n) = trimmed.trim().parse::<u64>() {
            numbers.push((line_start, n));
        }
    }
    numbers
}

#[test]
fn a_broker_restart_loses_no_keystroke_and_delivers_the_buffered_output() -> Result<(), Failure> {
    // At the original 2 MHz the program below prints a few dozen lines a second, so the
    // outage fills the device's offline buffer with some, but not 4 KiB of, output.
    let options = RigOptions {
        mhz: Some(2.0),
        ..RigOptions::default()
    };
    let test = "a_broker_restart_loses_no_keystroke_and_delivers_the_buffered_output";
    let Some((mut rig, mut term)) = at_prompt(test, options)? else {
        return Ok(());
    };
    term.type_text("MBASIC\r")?;
    term.wait_for("Ok\r\n")?;
    term.type_text("10 I=I+1: PRINT I: FOR J=1 TO 20: NEXT J: GOTO 10\r")?;
    term.type_text("RUN\r")?;
    let start = term.output().len();
    term.wait_for("\r\n 40 \r\n")?;

    // The broker restarts as systemd does it (SIGTERM: sessions and queues saved).
    let local = rig.local().expect("a local rig");
    term.forget_so_far();
    let stopped_at = Instant::now();
    local.broker().stop();
    let last_before = printed_numbers(term.output(), start)
        .last()
        .map_or(0, |&(_, n)| n);
    std::thread::sleep(Duration::from_millis(1500));
    local.broker().resume()?;
    let resumed_at = Instant::now();

    // Typed while the device is still away: the broker holds the keys for its session.
    term.ctrl('C')?;
    term.type_keys("PRINT \"KEYS\";6*7\r")?;
    let typed_at = Instant::now();

    let online_at = term.wait_live_status("online", Duration::from_secs(10))?;
    let reconnect = online_at.saturating_duration_since(resumed_at);
    println!(
        "broker away {:.2} s; device back {:.2} s after the broker; keys typed {}",
        resumed_at.duration_since(stopped_at).as_secs_f64(),
        reconnect.as_secs_f64(),
        if typed_at < online_at {
            "before the device was back (queued by the broker)"
        } else {
            "after the device was back"
        }
    );
    assert!(
        reconnect < Duration::from_secs(5),
        "the device took {reconnect:?} to come back"
    );

    term.wait_for("Break in 10")?;
    term.wait_for("KEYS 42 \r\n")?;

    // Every line the program printed arrived, in order, the outage's included. Output is
    // QoS 1 (at least once): a message in flight when the broker went down may come
    // twice, never go missing.
    let numbers = printed_numbers(term.output(), start);
    let mut repeats = 0;
    for pair in numbers.windows(2) {
        let (before, after) = (pair[0].1, pair[1].1);
        assert!(
            after == before + 1 || after == before,
            "a gap in the program's output: {before} then {after}"
        );
        repeats += usize::from(after == before);
    }
    assert!(repeats <= 2, "{repeats} lines came twice");
    // The lines printed during the outage came in the first moments after the reconnect,
    // far more of them than the program prints in that time.
    let first_after = term
        .arrivals()
        .iter()
        .position(|&(at, _)| at >= online_at)
        .expect("output after the reconnect");
    let burst_end = term.arrivals()[first_after].0 + Duration::from_millis(100);
    let burst_bytes = term
        .arrivals()
        .iter()
        .skip(first_after)
        .take_while(|&&(at, _)| at <= burst_end)
        .last()
        .map(|&(_, offset)| offset)
        .unwrap_or(0);
    let in_burst = numbers
        .iter()
        .filter(|&&(offset, n)| n > last_before && offset <= burst_bytes)
        .count();
    let total = numbers.last().map_or(0, |&(_, n)| n);
    println!(
        "last line before the stop: {last_before}; {in_burst} lines arrived in the burst; \
         {total} in all; {repeats} repeated"
    );
    assert!(
        in_burst >= 10,
        "only {in_burst} lines arrived right after the reconnect: the output printed while \
         the broker was away was not kept"
    );
    Ok(())
}

#[test]
fn a_connection_cut_mid_record_is_noticed_and_redone() -> Result<(), Failure> {
    let options = RigOptions {
        proxy: true,
        ..RigOptions::default()
    };
    let Some((mut rig, mut term)) = at_prompt("a_connection_cut_mid_record", options)? else {
        return Ok(());
    };
    for direction in [Direction::ToDevice, Direction::ToBroker] {
        let local = rig.local().expect("a local rig");
        let proxy = local.proxy().expect("a proxy");
        let (cuts, connections) = (proxy.cuts(), proxy.connections());
        term.forget_so_far();
        // The keystrokes (to the device) or their echo (to the broker) is the next record.
        proxy.cut_next(direction);
        term.type_text("DIR\r")?;
        term.wait_live_status("online", Duration::from_secs(10))?;
        let listing = term.wait_for("A>")?;
        assert!(
            listing.contains("MBASIC   COM"),
            "{direction:?}: {listing:?}"
        );
        let proxy = rig.local().expect("a local rig").proxy().expect("a proxy");
        assert_eq!(proxy.cuts(), cuts + 1, "{direction:?}: the cut was made");
        assert!(
            proxy.connections() > connections,
            "{direction:?}: the device connected again"
        );
        println!("{direction:?}: cut, reconnected, DIR answered");
    }
    Ok(())
}

#[test]
fn junk_on_every_subscribed_topic_is_logged_and_survived() -> Result<(), Failure> {
    let Some((mut rig, mut term)) = at_prompt("junk_on_every_topic", RigOptions::default())? else {
        return Ok(());
    };
    let binary: Vec<u8> = (0..=255).collect();
    let oversize = vec![b'x'; 64 * 1024];
    let just_over = vec![b'y'; 1100];
    term.forget_so_far();
    let statuses_before = term.statuses().len();
    for topic in ["dev/ctrl", "dev", "dev/paste"] {
        for payload in [&[][..], &oversize, &just_over] {
            term.send_raw(topic, payload)?;
        }
    }
    term.send_raw("dev/ctrl", &binary)?;
    term.send_raw("dev/ctrl", b"\xFF")?;
    term.send_raw("dev/ctrl", b"?")?;
    // Still the CP/M prompt, untouched by any of that.
    term.type_text("DIR\r")?;
    let listing = term.wait_for("A>")?;
    assert!(listing.starts_with("DIR\r\n"), "{listing:?}");
    assert!(listing.contains("MBASIC   COM"), "{listing:?}");

    // Binary keys: the 7-bit ones reach the guest, the rest are dropped and logged. The
    // guest makes what it will of them; the monitor shows the machine is still there.
    term.send_raw("dev", &binary)?;
    term.send_raw("dev/paste", &binary)?;
    term.settle(Duration::from_millis(300), Duration::from_secs(5))?;
    term.ctrl('M')?;
    term.wait_for("MONITOR: CPU stopped at PC=")?;
    term.type_text("R\r")?;
    term.wait_for("INTE=")?;
    term.type_text("G\r")?;
    term.wait_for("RUN from PC=")?;

    let local = rig.local().expect("a local rig");
    assert!(
        local.device_running(),
        "host-sim exited:\n{}",
        local.device_log()
    );
    let log = local.device_log();
    // Empty messages are dropped quietly (debug level): an empty retained message is how
    // MQTT clears one, so they are not a fault. The rest are warnings.
    for expected in [
        "ignored a dev/ctrl message of 256 bytes",
        "bytes of typed text that are not 7-bit ASCII",
        "bytes of pasted text that are not 7-bit ASCII",
    ] {
        assert!(
            log.contains(expected),
            "{expected:?} not in host-sim's log:\n{log}"
        );
    }
    let changes = &term.statuses()[statuses_before..];
    assert!(
        changes.is_empty(),
        "the device's connection dropped: {changes:?}"
    );
    Ok(())
}
