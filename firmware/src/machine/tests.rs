//! Machine-level tests: ports routed to devices, the 88-DCDD protocol as the boot ROM and
//! BIOSes drive it, console flow control, idle detection and the 2SIO interrupt.

extern crate std;

use std::vec::Vec;

use super::console::{RX_CAPACITY, SIO2_RDRF, SIO2_TDRE, TX_CAPACITY};
use super::{Altair, Stop};
use crate::cpu::Bus;
use crate::platform::{BlockStorage, IMAGE_BYTES, SECTOR_BYTES, nb, sector_offset};

/// An image in memory; `busy` makes the next calls say WouldBlock.
struct RamDisk {
    image: Vec<u8>,
    busy: u32,
    writes: Vec<u32>,
    broken: bool,
}

impl RamDisk {
    fn patterned() -> Self {
        let image = (0..IMAGE_BYTES).map(|i| (i % 251) as u8).collect();
        RamDisk {
            image,
            busy: 0,
            writes: Vec::new(),
            broken: false,
        }
    }
}

impl BlockStorage for RamDisk {
    type Error = ();
    fn read_sector(&mut self, offset: u32, buf: &mut [u8; SECTOR_BYTES]) -> nb::Result<(), ()> {
        if self.broken {
            return Err(nb::Error::Other(()));
        }
        if self.busy > 0 {
            self.busy -= 1;
            return Err(nb::Error::WouldBlock);
        }
        let o = offset as usize;
        buf.copy_from_slice(
            self.image
                .get(o..o + SECTOR_BYTES)
                .ok_or(nb::Error::Other(()))?,
        );
        Ok(())
    }
    fn write_sector(&mut self, offset: u32, data: &[u8; SECTOR_BYTES]) -> nb::Result<(), ()> {
        if self.busy > 0 {
            self.busy -= 1;
            return Err(nb::Error::WouldBlock);
        }
        let o = offset as usize;
        self.image[o..o + SECTOR_BYTES].copy_from_slice(data);
        self.writes.push(offset);
        Ok(())
    }
}

fn machine_with_disk() -> std::boxed::Box<Altair<RamDisk>> {
    let mut m: std::boxed::Box<Altair<RamDisk>> = std::boxed::Box::default();
    m.devices.disks.attach(0, RamDisk::patterned());
    m
}

/// Port helpers: the tests play the guest.
fn inp(m: &mut Altair<RamDisk>, port: u8) -> u8 {
    m.devices.input(port, 0)
}
fn out(m: &mut Altair<RamDisk>, port: u8, v: u8) {
    m.devices.output(port, v, 0)
}

/// Pulses the sector position until `sector` arrives at its start.
fn seek_sector(m: &mut Altair<RamDisk>, sector: u8) {
    for _ in 0..200 {
        let pos = inp(m, 0x09);
        if pos & 1 == 0 && (pos >> 1) & 0x1F == sector {
            return;
        }
    }
    panic!("sector {sector} never came round");
}

#[test]
fn status_is_ff_with_no_drive_and_reports_track_zero_and_head() {
    let mut m = machine_with_disk();
    assert_eq!(inp(&mut m, 0x08), 0xFF, "nothing selected");
    out(&mut m, 0x08, 0x01); // drive B: empty
    assert_eq!(inp(&mut m, 0x08), 0xFF, "no medium in B");
    out(&mut m, 0x08, 0x00);
    let s = inp(&mut m, 0x08);
    assert_eq!(s & 0x18, 0, "bits 3 and 4 read 0");
    assert_eq!(s & 0x02, 0, "head may move");
    assert_eq!(s & 0x40, 0, "track 0");
    assert_eq!(s & 0x84, 0x84, "head not loaded");
    out(&mut m, 0x09, 0x04); // head load
    assert_eq!(inp(&mut m, 0x08) & 0x84, 0, "head loaded, data available");
    out(&mut m, 0x09, 0x01); // step in
    assert_eq!(inp(&mut m, 0x08) & 0x40, 0x40, "off track 0");
    out(&mut m, 0x08, 0x80); // deselect
    assert_eq!(inp(&mut m, 0x08), 0xFF);
}

#[test]
fn sector_position_alternates_and_advances_every_second_read() {
    let mut m = machine_with_disk();
    out(&mut m, 0x08, 0x00);
    assert_eq!(inp(&mut m, 0x09), 0xFF, "head not loaded");
    out(&mut m, 0x09, 0x04);
    let reads: Vec<u8> = (0..6).map(|_| inp(&mut m, 0x09)).collect();
    assert_eq!(reads, [0xC1, 0xC0, 0xC1, 0xC2, 0xC3, 0xC4]);
    // Sector 2 is at its start; 29 more sectors bring sector 31 round.
    for _ in 0..58 {
        inp(&mut m, 0x09);
    }
    assert_eq!(inp(&mut m, 0x09), 0xFF, "sector 31, past its start");
    assert_eq!(inp(&mut m, 0x09), 0xC0, "wraps to sector 0");
}

#[test]
fn reads_return_the_sector_under_the_head_byte_by_byte() {
    let mut m = machine_with_disk();
    out(&mut m, 0x08, 0x00);
    out(&mut m, 0x09, 0x04);
    for _ in 0..5 {
        out(&mut m, 0x09, 0x01); // to track 5
    }
    seek_sector(&mut m, 7);
    let got: Vec<u8> = (0..SECTOR_BYTES).map(|_| inp(&mut m, 0x0A)).collect();
    let at = sector_offset(5, 7) as usize;
    assert_eq!(
        got,
        m.devices.disks.storage(0).unwrap().image[at..at + SECTOR_BYTES]
    );
}

#[test]
fn a_write_sequence_stores_137_bytes_and_ignores_fill_until_the_sector_passes() {
    let mut m = machine_with_disk();
    out(&mut m, 0x08, 0x00);
    out(&mut m, 0x09, 0x04);
    out(&mut m, 0x09, 0x01); // track 1
    seek_sector(&mut m, 3);
    out(&mut m, 0x09, 0x80); // write enable
    assert_eq!(inp(&mut m, 0x08) & 0x01, 0, "ready for write data");
    for i in 0..SECTOR_BYTES {
        out(&mut m, 0x0A, i as u8 ^ 0x5A);
    }
    // The BIOSes send fill bytes, each after checking "write ready".
    for _ in 0..3 {
        assert_eq!(inp(&mut m, 0x08) & 0x01, 0, "still accepting fill");
        out(&mut m, 0x0A, 0xEE);
    }
    let disk = m.devices.disks.storage(0).unwrap();
    let at = sector_offset(1, 3);
    assert_eq!(disk.writes, [at]);
    let stored = &disk.image[at as usize..at as usize + SECTOR_BYTES];
    assert!(stored.iter().enumerate().all(|(i, &b)| b == i as u8 ^ 0x5A));
    inp(&mut m, 0x09);
    inp(&mut m, 0x09);
    assert_eq!(
        inp(&mut m, 0x08) & 0x01,
        0x01,
        "sequence closed once the sector passed"
    );
}

#[test]
fn storage_that_waits_holds_read_data_available_false_and_asks_to_yield() {
    let mut m = machine_with_disk();
    out(&mut m, 0x08, 0x00);
    out(&mut m, 0x09, 0x04);
    m.devices.disks.storage_mut(0).unwrap().busy = 2;
    inp(&mut m, 0x09);
    inp(&mut m, 0x09); // sector 0 arrives, fetch deferred
    assert!(
        m.devices.yield_requested(),
        "the platform is asked to pump storage"
    );
    assert_eq!(m.devices.take_stop(), Some(Stop::Storage));
    assert_eq!(
        inp(&mut m, 0x08) & 0x80,
        0x80,
        "not yet available (retry 2 still busy)"
    );
    assert_eq!(
        inp(&mut m, 0x08) & 0x80,
        0x00,
        "available once storage delivers"
    );
    assert_eq!(inp(&mut m, 0x0A), 0, "first byte of sector 0");
}

#[test]
fn a_failed_read_gives_the_guest_garbage_not_stale_data_and_reports_the_fault() {
    let mut m = machine_with_disk();
    out(&mut m, 0x08, 0x00);
    out(&mut m, 0x09, 0x04);
    seek_sector(&mut m, 0);
    assert_eq!(inp(&mut m, 0x0A), 0, "sector 0's real first byte");
    m.devices.disks.storage_mut(0).unwrap().broken = true;
    seek_sector(&mut m, 1);
    let got: Vec<u8> = (0..4).map(|_| inp(&mut m, 0x0A)).collect();
    assert_eq!(got, [0xFF; 4], "not sector 0's bytes left in the buffer");
    let fault = m.devices.disks.take_fault().expect("fault reported");
    assert_eq!(
        (fault.drive, fault.offset, fault.write),
        (0, sector_offset(0, 1), false)
    );
    assert_eq!(m.devices.disks.take_fault(), None, "reported once");
}

#[test]
fn a_deferred_write_is_retried_and_the_guest_waits_meanwhile() {
    let mut m = machine_with_disk();
    out(&mut m, 0x08, 0x00);
    out(&mut m, 0x09, 0x04);
    seek_sector(&mut m, 0);
    out(&mut m, 0x09, 0x80);
    m.devices.disks.storage_mut(0).unwrap().busy = 1;
    for _ in 0..SECTOR_BYTES {
        out(&mut m, 0x0A, 0x11);
    }
    assert!(m.devices.disks.storage(0).unwrap().writes.is_empty());
    assert_eq!(
        inp(&mut m, 0x08) & 0x01,
        0x00,
        "retried on the next status read, stored"
    );
    assert_eq!(m.devices.disks.storage(0).unwrap().writes, [0]);
}

#[test]
fn console_queues_keys_and_holds_the_guest_when_output_is_full() {
    let mut m = machine_with_disk();
    assert_eq!(inp(&mut m, 0x10), SIO2_TDRE);
    assert_eq!(inp(&mut m, 0x00), 0x01, "SIO active low: no byte waiting");
    assert_eq!(m.devices.console.push_keys(b"AB"), 2);
    assert_eq!(inp(&mut m, 0x10), SIO2_TDRE | SIO2_RDRF);
    assert_eq!(inp(&mut m, 0x00), 0x00);
    assert_eq!((inp(&mut m, 0x11), inp(&mut m, 0x01)), (b'A', b'B'));
    for i in 0..TX_CAPACITY {
        out(&mut m, 0x11, i as u8);
    }
    assert_eq!(
        inp(&mut m, 0x10) & SIO2_TDRE,
        0,
        "transmit buffer not empty"
    );
    assert_eq!(m.devices.take_stop(), Some(Stop::OutputFull));
    let mut buf = [0u8; TX_CAPACITY];
    assert_eq!(m.devices.console.drain_output(&mut buf), TX_CAPACITY);
    assert_eq!(buf[200], 200, "bytes kept exactly, bit 7 included");
    let keys = [b'x'; RX_CAPACITY + 10];
    assert_eq!(
        m.devices.console.push_keys(&keys),
        RX_CAPACITY,
        "the rest waits with the caller"
    );
}

#[test]
fn sense_switches_read_the_upper_eight_and_unmapped_ports_float_high() {
    let mut m = machine_with_disk();
    m.devices.switches = 0xA5_3C;
    assert_eq!(inp(&mut m, 0xFF), 0xA5);
    assert_eq!(inp(&mut m, 0x42), 0xFF);
}

/// A guest that waits for a key the way CP/M's BIOS does: IN 10H; RRC; JNC loop.
const WAIT_FOR_KEY: [u8; 8] = [0xDB, 0x10, 0x0F, 0xD2, 0x00, 0x00, 0xDB, 0x11];

#[test]
fn a_guest_spinning_on_console_status_is_reported_idle_quickly() {
    let mut m = machine_with_disk();
    m.load(0, &WAIT_FOR_KEY).unwrap();
    assert_eq!(m.run(10_000_000), Stop::Idle);
    assert!(
        m.cpu.cycles < 5_000,
        "idle detected after {} states",
        m.cpu.cycles
    );
    m.devices.console.push_key(b'k');
    m.run(100);
    assert_eq!(m.cpu.a, b'k', "the key was read after waking");
}

#[test]
fn polling_the_console_between_long_stretches_of_work_is_not_idle() {
    // BASIC checks for Ctrl-C between statements: IN 10H, then a 300-state delay loop.
    // 0000 IN 10H; 0002 MVI B,20; 0004 DCR B; 0005 JNZ 0004; 0008 JMP 0000
    let program = [
        0xDB, 0x10, 0x06, 0x14, 0x05, 0xC2, 0x04, 0x00, 0xC3, 0x00, 0x00,
    ];
    let mut m = machine_with_disk();
    m.load(0, &program).unwrap();
    assert_eq!(m.run(1_000_000), Stop::Budget);
}

#[test]
fn the_2sio_interrupts_with_rst7_when_receive_interrupts_are_on() {
    let mut m = machine_with_disk();
    // 0000: MVI A,80H; OUT 10H (RIE); EI; HLT.  0038: IN 11H; HLT (RST 7 handler)
    m.load(0, &[0x3E, 0x80, 0xD3, 0x10, 0xFB, 0x76]).unwrap();
    m.load(0x38, &[0xDB, 0x11, 0x76]).unwrap();
    assert_eq!(m.run(1_000), Stop::Halted);
    assert!(m.cpu.inte, "halted waiting for an interrupt");
    m.devices.console.push_key(b'z');
    m.run(1_000);
    assert_eq!(
        (m.cpu.a, m.cpu.pc),
        (b'z', 0x003B),
        "handler ran and halted"
    );
}

#[test]
fn rom_is_write_protected_and_reset_keeps_memory() {
    let mut m = machine_with_disk();
    m.load_rom(0xFF00, &[0xAA; 256]).unwrap();
    m.devices.write(0xFF10, 0x00);
    m.devices.write(0xFEFF, 0x42);
    assert_eq!(
        (m.devices.read(0xFF10), m.devices.read(0xFEFF)),
        (0xAA, 0x42)
    );
    m.cpu.pc = 0x1234;
    m.reset();
    assert_eq!((m.cpu.pc, m.devices.read(0xFEFF)), (0, 0x42));
}
