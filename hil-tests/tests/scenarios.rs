//! What a person does with the machine, through the broker only: boot CP/M, list the
//! disk, run an MBASIC one-liner, examine and deposit from the front-panel monitor, and
//! carry on after the connection comes back.
//!
//! Against the local rig (the default) each test starts its own Mosquitto and
//! `host-sim mqtt`; with `ALTAIR_HIL_BROKER` and friends set (see `Target::from_env`),
//! the same steps drive a real device.

use std::time::Duration;

use altair_hil::{Failure, Rig, STEP_TIMEOUT, Terminal};

/// Starts the rig and a terminal, and waits for the device to be online; `None` when the
/// test is skipped.
fn attach(test: &str) -> Result<Option<(Rig, Terminal)>, Failure> {
    let Some(rig) = Rig::start(test)? else {
        return Ok(None);
    };
    let mut term = rig.terminal()?;
    term.wait_status("online", STEP_TIMEOUT)?;
    Ok(Some((rig, term)))
}

/// From the monitor: RESET, then run the disk boot ROM, as a person at the panel does.
fn cold_boot(term: &mut Terminal) -> Result<(), Failure> {
    term.ctrl('M')?;
    term.wait_for("MONITOR: CPU stopped at PC=")?;
    term.type_text("RESET\r")?;
    term.wait_for("RESET: PC=0000")?;
    term.type_text("G FF00\r")?;
    term.wait_for("RUN from PC=FF00")?;
    Ok(())
}

#[test]
fn boot_cp_m_and_list_the_disk() -> Result<(), Failure> {
    let Some((_rig, mut term)) = attach("boot_cp_m_and_list_the_disk")? else {
        return Ok(());
    };
    cold_boot(&mut term)?;
    term.wait_for("63K CP/M\r\nVersion 2.2mits (07/28/80)")?;
    term.wait_for("A>")?;
    term.type_text("DIR\r")?;
    let listing = term.wait_for("A>")?;
    for entry in [
        "DIR\r\n",
        "A: L80      COM : LADDER   COM",
        "A: MBASIC   COM : PIP      COM",
    ] {
        assert!(
            listing.contains(entry),
            "{entry:?} missing from {listing:?}"
        );
    }
    Ok(())
}

#[test]
fn mbasic_runs_a_one_line_program() -> Result<(), Failure> {
    let Some((_rig, mut term)) = attach("mbasic_runs_a_one_line_program")? else {
        return Ok(());
    };
    term.at_cpm_prompt()?;
    term.type_text("MBASIC\r")?;
    term.wait_for("Ok\r\n")?;
    term.type_text("10 FOR I=1 TO 5: PRINT I*I;: NEXT I\r")?;
    term.type_text("RUN\r")?;
    term.wait_for(" 1  4  9  16  25 \r\nOk")?;
    term.type_text("SYSTEM\r")?;
    term.wait_for("A>")?;
    Ok(())
}

#[test]
fn monitor_examines_and_deposits() -> Result<(), Failure> {
    let Some((_rig, mut term)) = attach("monitor_examines_and_deposits")? else {
        return Ok(());
    };
    term.at_cpm_prompt()?;
    term.ctrl('M')?;
    term.wait_for("MONITOR: CPU stopped at PC=")?;
    // 0x8000 is in CP/M's transient program area, unused at the prompt.
    term.type_text("D 8000 3E 42\r")?;
    term.wait_for("8000 10000000 00000000  3E 00111110  MVI  A,42H")?;
    term.wait_for("8001 10000000 00000001  42 01000010")?;
    term.type_text("E 8000\r")?;
    term.wait_for("8000 10000000 00000000  3E 00111110  MVI  A,42H")?;
    term.type_text("EN\r")?;
    term.wait_for("8001 10000000 00000001  42 01000010")?;
    // The switches, set from the original's 0/1 string, drive plain E.
    term.type_text("1000000000000001\r")?;
    term.type_text("E\r")?;
    term.wait_for("8001 10000000 00000001  42 01000010")?;
    term.type_text("G\r")?;
    term.wait_for("RUN from PC=")?;
    term.at_cpm_prompt()?;
    Ok(())
}

#[test]
fn the_session_carries_on_after_reconnecting() -> Result<(), Failure> {
    let Some((mut rig, mut term)) = attach("the_session_carries_on_after_reconnecting")? else {
        return Ok(());
    };
    term.at_cpm_prompt()?;
    match rig.local() {
        // Locally: the broker goes away (a crash) and comes back; the device notices and
        // says `online` again by itself.
        Some(local) => {
            term.forget_so_far();
            local.broker().kill();
            local.broker().resume()?;
            term.wait_live_status("online", Duration::from_secs(10))?;
        }
        // Against a real device the broker is not ours: the terminal leaves and a new one
        // finds the same machine.
        None => {
            drop(term);
            term = rig.terminal()?;
            term.wait_status("online", STEP_TIMEOUT)?;
        }
    }
    term.type_text("DIR\r")?;
    term.wait_for("MBASIC   COM")?;
    term.wait_for("A>")?;
    Ok(())
}
