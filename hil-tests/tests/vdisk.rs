//! Drive A on the disk server: `host-sim mqtt --disk A=mqtt` against `altair-cloud vdisk
//! serve`, both through a Mosquitto provisioned by `broker init`. CP/M boots from the
//! virtual drive, and a file it saves is on the server's disk once `A>` comes back:
//! `kill -9` of the disk server and a power cut of the device lose nothing.
//!
//! These need the local rig (they kill the disk server), so they run locally even when a
//! remote device is configured.

use std::fs;
use std::time::Duration;

use altair_hil::{Failure, Rig, RigOptions, STEP_TIMEOUT, Terminal};

/// A local rig with drive A virtual, and a terminal once the device is online; `None`
/// when the test is skipped.
fn attach(test: &str, device_args: &[&str]) -> Result<Option<(Rig, Terminal)>, Failure> {
    let options = RigOptions {
        virtual_disk: true,
        device_args: device_args.iter().map(|a| a.to_string()).collect(),
        ..RigOptions::default()
    };
    let Some(rig) = Rig::start_local(test, options)? else {
        return Ok(None);
    };
    let mut term = rig.terminal()?;
    term.wait_status("online", STEP_TIMEOUT)?;
    Ok(Some((rig, term)))
}

/// Whether the directory of `image` names `name` (8 + 3 characters, space padded, as
/// CP/M stores it).
fn directory_names(image: &[u8], name: &[u8; 11]) -> bool {
    image.windows(name.len()).any(|w| w == name)
}

#[test]
fn cp_m_boots_from_a_virtual_drive_a() -> Result<(), Failure> {
    let Some((_rig, mut term)) = attach("cp_m_boots_from_a_virtual_drive_a", &[])? else {
        return Ok(());
    };
    term.wait_for("63K CP/M")?;
    term.at_cpm_prompt()?;
    term.type_text("DIR\r")?;
    term.wait_for("A: L80      COM : LADDER   COM")?;
    term.wait_for("A: MBASIC   COM : PIP      COM")?;
    Ok(())
}

#[test]
fn the_original_one_sector_at_a_time_pattern_boots_too() -> Result<(), Failure> {
    let Some((_rig, mut term)) = attach(
        "the_original_one_sector_at_a_time_pattern_boots_too",
        &["--vdisk-no-read-ahead", "--vdisk-no-acks"],
    )?
    else {
        return Ok(());
    };
    term.wait_for("63K CP/M")?;
    term.at_cpm_prompt()?;
    term.type_text("DIR\r")?;
    term.wait_for("MBASIC   COM")?;
    Ok(())
}

#[test]
fn a_saved_file_survives_kill_9_of_the_disk_server_and_a_reboot() -> Result<(), Failure> {
    let Some((mut rig, mut term)) = attach(
        "a_saved_file_survives_kill_9_of_the_disk_server_and_a_reboot",
        &[],
    )?
    else {
        return Ok(());
    };
    term.at_cpm_prompt()?;
    term.type_text("SAVE 2 PROOF.COM\r")?;
    term.wait_for("SAVE 2 PROOF.COM")?;
    term.wait_for("A>")?;
    let local = rig.local().expect("a local rig");
    // Straight after the write: the disk server crashes, then the device loses power.
    local.kill_disk_server();
    local.stop_device();
    let image = fs::read(local.disk_image()).map_err(|e| Failure(format!("image: {e}")))?;
    assert!(
        directory_names(&image, b"PROOF   COM"),
        "the directory entry is not in the server's image"
    );
    local.start_disk_server()?;
    local.start_device()?;
    term.wait_live_status("online", STEP_TIMEOUT)?;
    term.wait_for("63K CP/M")?;
    term.at_cpm_prompt()?;
    term.type_text("DIR PROOF.COM\r")?;
    term.wait_for("A: PROOF    COM")?;
    Ok(())
}

#[test]
fn a_write_waits_for_the_disk_server_and_completes_when_it_returns() -> Result<(), Failure> {
    let Some((mut rig, mut term)) = attach(
        "a_write_waits_for_the_disk_server_and_completes_when_it_returns",
        &[],
    )?
    else {
        return Ok(());
    };
    term.at_cpm_prompt()?;
    let local = rig.local().expect("a local rig");
    local.kill_disk_server();
    term.type_text("SAVE 1 LATE.COM\r")?;
    term.wait_for("SAVE 1 LATE.COM")?;
    // CP/M cannot finish without the server: its directory write waits, unacknowledged.
    assert!(
        term.wait_for_within("A>", Duration::from_secs(3)).is_err(),
        "SAVE finished with no disk server"
    );
    let local = rig.local().expect("a local rig");
    local.start_disk_server()?;
    term.wait_for("A>")?;
    let image = fs::read(local.disk_image()).map_err(|e| Failure(format!("image: {e}")))?;
    assert!(
        directory_names(&image, b"LATE    COM"),
        "LATE.COM not in the image"
    );
    term.type_text("DIR LATE.COM\r")?;
    term.wait_for("A: LATE     COM")?;
    Ok(())
}
