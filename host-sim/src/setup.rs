//! Preparing the machine from the command line's media (`--disk`, `--rom`, `--basic`),
//! the same for every mode that runs the Altair (`host-sim run`, `host-sim mqtt`).

use std::path::{Path, PathBuf};

use altair_firmware::machine::{Altair, DISK_BOOT_ROM};
use altair_firmware::vdisk::VirtualDisk;

use crate::drive::{self, Drive};
use crate::file_disk::FileDisk;
use crate::media;

/// What to attach and load.
#[derive(Debug, Clone, Default)]
pub struct Media {
    /// Disk images by drive (0 is A); the path [`drive::VIRTUAL`] (`mqtt`) is the virtual
    /// disk.
    pub disks: Vec<(usize, PathBuf)>,
    /// ROM images by load address.
    pub roms: Vec<(u16, PathBuf)>,
    /// 8K BASIC, loaded at 0x0000 and started there.
    pub basic: Option<PathBuf>,
}

/// A machine ready to run.
pub struct Prepared {
    /// The machine, PC set to where it starts.
    pub altair: Box<Altair<Drive>>,
    /// Nothing was given or found to start: open the front-panel monitor first.
    pub start_in_monitor: bool,
}

/// Builds the machine from `media`. With nothing given it boots CP/M if the boot ROM
/// and disk are found ([`media::find_cpm`]); a disk without a ROM gets the boot ROM from
/// the search folders. `vdisk` is the medium of the drive given as `mqtt`, for the
/// modes that have a network (`None` refuses such a drive). Notes for the user go to
/// stderr.
pub fn prepare(media: Media, vdisk: Option<VirtualDisk>) -> Result<Prepared, String> {
    let Media {
        mut disks,
        mut roms,
        basic,
    } = media;
    let mut altair: Box<Altair<Drive>> = Box::default();
    if disks.is_empty()
        && roms.is_empty()
        && basic.is_none()
        && let Some((rom, disk)) = media::find_cpm()
    {
        eprintln!(
            "host-sim: booting {} with {}",
            disk.display(),
            rom.display()
        );
        roms.push((DISK_BOOT_ROM, rom));
        disks.push((0, disk));
    }
    // The disks first, so that a missing or wrong-sized image is what the user hears of
    // before the search for a ROM it would need.
    attach_disks(&mut altair, &disks, vdisk)?;
    if !disks.is_empty() && roms.is_empty() && basic.is_none() {
        let rom = media::find(media::BOOT_ROM).ok_or_else(|| {
            format!(
                "a disk needs the boot ROM and no {rom} was found in $ALTAIR_DISKS, ./disks \
                 or ../shared/disks: pass --rom 0xFF00=PATH/{rom}",
                rom = media::BOOT_ROM
            )
        })?;
        roms.push((DISK_BOOT_ROM, rom));
    }
    let mut start = None;
    for (addr, path) in &roms {
        let image = read(path)?;
        altair
            .load_rom(*addr, &image)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        start.get_or_insert(*addr);
    }
    if let Some(path) = &basic {
        let image = read(path)?;
        // 8K BASIC rewrites itself as it starts (it trims the functions you decline), so
        // it goes in RAM, as when loaded from tape.
        altair
            .load(0, &image)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        start = Some(0);
    }
    let start_in_monitor = start.is_none();
    if start_in_monitor {
        eprintln!("host-sim: {}", media::HOW_TO_ATTACH);
    }
    altair.cpu.pc = start.unwrap_or(0);
    Ok(Prepared {
        altair,
        start_in_monitor,
    })
}

fn attach_disks(
    altair: &mut Altair<Drive>,
    disks: &[(usize, PathBuf)],
    mut vdisk: Option<VirtualDisk>,
) -> Result<(), String> {
    refuse_shared_drives(disks)?;
    let mut virtual_given = false;
    for (drive, path) in disks {
        if path.as_os_str() == drive::VIRTUAL {
            let disk = vdisk.take().ok_or(if virtual_given {
                "only one drive can be the virtual disk (mqtt)"
            } else {
                "a virtual disk (DRIVE=mqtt) needs `host-sim mqtt`; for a file named mqtt \
                 write ./mqtt"
            })?;
            virtual_given = true;
            altair
                .devices
                .disks
                .attach(*drive, Drive::Virtual(Box::new(disk)));
            continue;
        }
        let disk = FileDisk::open(path).map_err(|e| e.to_string())?;
        if !disk.is_writable() {
            eprintln!(
                "host-sim: {} is read-only; drive {}'s writes last until host-sim exits",
                path.display(),
                letter(*drive)
            );
        }
        altair.devices.disks.attach(*drive, Drive::File(disk));
    }
    Ok(())
}

/// Refuses a drive named twice, and one image file in two drives. Each drive keeps its
/// own copy of the image (see [`FileDisk`]) and CP/M its own view of each drive's
/// directory, so two drives writing one file would corrupt it.
fn refuse_shared_drives(disks: &[(usize, PathBuf)]) -> Result<(), String> {
    for (i, (drive, path)) in disks.iter().enumerate() {
        for (earlier, earlier_path) in &disks[..i] {
            if earlier == drive {
                return Err(format!(
                    "drive {} is given twice ({} and {})",
                    letter(*drive),
                    earlier_path.display(),
                    path.display()
                ));
            }
            if path.as_os_str() != drive::VIRTUAL && same_file(path, earlier_path) {
                return Err(format!(
                    "drives {} ({}) and {} ({}) are one image: writes through one would \
                     corrupt what CP/M knows of the other; attach a copy",
                    letter(*earlier),
                    earlier_path.display(),
                    letter(*drive),
                    path.display()
                ));
            }
        }
    }
    Ok(())
}

/// Whether two paths name one existing file (however they are spelled).
fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

/// A drive's letter: 0 is A.
fn letter(drive: usize) -> char {
    char::from(b'A' + drive as u8)
}

/// Reads a ROM or BASIC image, refusing an empty one (the machine would run the zeros
/// it left in memory as NOPs, silently).
fn read(path: &Path) -> Result<Vec<u8>, String> {
    let image = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if image.is_empty() {
        return Err(format!(
            "{} is empty: expected a ROM or program image",
            path.display()
        ));
    }
    Ok(image)
}
