//! The MikroE 8800 Retro Click: an 8x8 LED matrix and a 4x4 keypad behind one ams
//! AS1115 LED driver with key scan, on I2C.
//!
//! The issue guessed a Holtek HT16K33 (16x8 LED RAM, address 0x70); the original
//! firmware's Retro Click driver (`Drivers/CLICK_8800_RETRO_AS1115/as1115.c`, used by
//! `FrontPanels/front_panel_retro_click.c`) talks to an AS1115 at address 0x00, so this
//! driver is for the AS1115.
//!
//! # Hardware facts this driver relies on (AS1115 datasheet, rev. 1.08)
//!
//! - Every AS1115 answers at I2C address 0000000 after power-up ([`DEFAULT_ADDRESS`])
//!   until a self-addressing command moves it; one chip needs no moving.
//! - A write is the register address then its data byte. A read sets the register
//!   pointer with a write, then reads; the pointer auto-increments, so KEYA (0x1C) and
//!   KEYB (0x1D) come back in one two-byte read.
//! - The chip powers up in shutdown with the display blanked. Shutdown register (0x0C)
//!   = 0x01 is normal operation with the feature register reset to its defaults, among
//!   them blinking off, which matters: the key scan is not valid while blinking.
//! - Decode-enable (0x09) = 0 makes every digit register raw: bit n drives segment
//!   line n, so each digit register (0x01..0x08) is one row of eight LEDs. Scan limit
//!   (0x0B) = 7 scans all eight. Global intensity (0x0A) takes 0..=15 ([`MAX_BRIGHTNESS`]).
//! - KEYA/KEYB hold the 16 keys, a closed key reading 0, and change only after the scan
//!   has been stable for 20 ms: the chip debounces, so this driver only looks for new
//!   presses.
//!
//! From the original driver (the board's wiring, not checked on hardware here): each
//! row reaches the LEDs rotated by one bit and each key byte arrives rotated the other
//! way, which the original undoes with a rotate (as this driver does); keys are
//! numbered 1 (top left) to 16, key n being bit 16 - n of the unrotated key word.
//!
//! # Use as a panel
//!
//! As in the original, the keypad has two modes ([`KeyMode`]), switched by the board
//! (the original uses the Avnet kit's button B):
//! - [`KeyMode::Control`]: keys 1 to 8 are STOP, SINGLE STEP, EXAMINE, DEPOSIT, RUN,
//!   (none), EXAMINE NEXT, DEPOSIT NEXT; the matrix shows the status word (row 0), the
//!   data bus (row 3) and the address bus (rows 6 and 7).
//! - [`KeyMode::Switches`]: key n toggles address/data switch 16 - n (key 1 is A15);
//!   rows 6 and 7 show the switches.
//!
//! In each row bit 7 is taken to be the leftmost LED, as the Altair shows the high bit
//! on the left; the original mirrors rows in one mode and not the other, so which way
//! round the board shows them needs checking on hardware.

use embedded_hal::i2c::I2c;

use super::{Command, Commands, Input, Lights};

/// The AS1115's I2C address after power-up.
pub const DEFAULT_ADDRESS: u8 = 0x00;
/// Rows in the matrix, one digit register each.
pub const ROWS: usize = 8;
/// The brightest global intensity.
pub const MAX_BRIGHTNESS: u8 = 15;
/// Bytes of key state: KEYA and KEYB, eight keys each.
const KEY_BYTES: usize = 2;

/// AS1115 register addresses.
mod reg {
    /// Digit 0, the first row; digits 1..7 follow.
    pub const DIGIT0: u8 = 0x01;
    /// Decode enable, one bit per digit.
    pub const DECODE_ENABLE: u8 = 0x09;
    /// Global intensity, 0..=15.
    pub const GLOBAL_INTENSITY: u8 = 0x0A;
    /// The last digit scanned.
    pub const SCAN_LIMIT: u8 = 0x0B;
    /// Shutdown / normal operation.
    pub const SHUTDOWN: u8 = 0x0C;
    /// The first key register; KEYB follows.
    pub const KEY_A: u8 = 0x1C;
}

/// Shutdown register: normal operation, feature register back to its defaults.
const NORMAL_DEFAULT_FEATURES: u8 = 0x01;
/// Decode enable: no digit decoded, every register raw LEDs.
const DECODE_NONE: u8 = 0x00;
/// Scan limit: digits 0 to 7.
const SCAN_ALL_ROWS: u8 = (ROWS - 1) as u8;

/// The rows the control mode uses, as in the original's layout.
const STATUS_ROW: usize = 0;
const DATA_ROW: usize = 3;
const ADDRESS_HIGH_ROW: usize = 6;
const ADDRESS_LOW_ROW: usize = 7;

/// What keys 1 to 8 do in control mode; key 6 has no command in the original.
const CONTROL_KEYS: [Option<Command>; 8] = [
    Some(Command::Stop),
    Some(Command::SingleStep),
    Some(Command::Examine),
    Some(Command::Deposit),
    Some(Command::Run),
    None,
    Some(Command::ExamineNext),
    Some(Command::DepositNext),
];

/// What the keypad does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum KeyMode {
    /// Keys are the command switches; the matrix shows the lights.
    #[default]
    Control,
    /// Keys toggle the 16 address/data switches; the matrix shows them.
    Switches,
}

/// The Retro Click on an I2C bus.
pub struct RetroClick<I2C> {
    i2c: I2C,
    address: u8,
    mode: KeyMode,
    switches: u16,
    /// Keys down at the last poll, key n at bit 16 - n.
    keys: u16,
    /// The rows on the chip; `None` when unknown (before init, after a failed write).
    shown: Option<[u8; ROWS]>,
}

impl<I2C: I2c> RetroClick<I2C> {
    /// A driver for the chip at `address` (normally [`DEFAULT_ADDRESS`]), in control
    /// mode with all switches down.
    pub fn new(i2c: I2C, address: u8) -> Self {
        RetroClick {
            i2c,
            address,
            mode: KeyMode::Control,
            switches: 0,
            keys: 0,
            shown: None,
        }
    }

    /// Wakes the chip with raw rows, all eight scanned, at `brightness` (clamped to
    /// [`MAX_BRIGHTNESS`]), and clears the matrix.
    pub fn init(&mut self, brightness: u8) -> Result<(), I2C::Error> {
        self.write(reg::SHUTDOWN, NORMAL_DEFAULT_FEATURES)?;
        self.write(reg::DECODE_ENABLE, DECODE_NONE)?;
        self.write(reg::SCAN_LIMIT, SCAN_ALL_ROWS)?;
        self.set_brightness(brightness)?;
        self.shown = None;
        self.write_rows(&[0; ROWS])
    }

    /// Sets the global intensity, clamped to [`MAX_BRIGHTNESS`].
    pub fn set_brightness(&mut self, brightness: u8) -> Result<(), I2C::Error> {
        self.write(reg::GLOBAL_INTENSITY, brightness.min(MAX_BRIGHTNESS))
    }

    /// The keypad's mode.
    pub fn mode(&self) -> KeyMode {
        self.mode
    }

    /// Changes the keypad's mode; the next [`RetroClick::show`] redraws for it.
    pub fn set_mode(&mut self, mode: KeyMode) {
        self.mode = mode;
    }

    /// The switches as the keypad has set them.
    pub fn switches(&self) -> u16 {
        self.switches
    }

    /// Sets the switches the keypad toggles from (to follow the monitor's `SW`).
    pub fn set_switches(&mut self, switches: u16) {
        self.switches = switches;
    }

    /// Shows `lights` (control mode) or the switches (switch mode), writing only the
    /// rows that changed.
    pub fn show(&mut self, lights: &Lights) -> Result<(), I2C::Error> {
        let mut rows = [0u8; ROWS];
        match self.mode {
            KeyMode::Control => {
                let [high, low] = lights.address.to_be_bytes();
                rows[STATUS_ROW] = lights.status;
                rows[DATA_ROW] = lights.data;
                rows[ADDRESS_HIGH_ROW] = high;
                rows[ADDRESS_LOW_ROW] = low;
            }
            KeyMode::Switches => {
                let [high, low] = self.switches.to_be_bytes();
                rows[ADDRESS_HIGH_ROW] = high;
                rows[ADDRESS_LOW_ROW] = low;
            }
        }
        self.write_rows(&rows)
    }

    /// Reads the keys and reports presses since the last poll: commands in control
    /// mode, the toggled switches in switch mode. A held key counts once.
    pub fn poll(&mut self) -> Result<Input, I2C::Error> {
        let mut raw = [0u8; KEY_BYTES];
        self.i2c.write_read(self.address, &[reg::KEY_A], &mut raw)?;
        let [a, b] = raw;
        let keys = !u16::from_be_bytes([a.rotate_left(1), b.rotate_left(1)]);
        let pressed = keys & !self.keys;
        self.keys = keys;
        if pressed == 0 {
            return Ok(Input::default());
        }
        Ok(match self.mode {
            KeyMode::Control => Input {
                switches: None,
                commands: CONTROL_KEYS.iter().enumerate().fold(
                    Commands::NONE,
                    |set, (index, key)| match *key {
                        Some(command) if pressed & key_bit(index) != 0 => set.with(command),
                        _ => set,
                    },
                ),
            },
            KeyMode::Switches => {
                // Key n is bit 16 - n, and so is switch 16 - n.
                self.switches ^= pressed;
                Input {
                    switches: Some(self.switches),
                    commands: Commands::NONE,
                }
            }
        })
    }

    /// Gives the bus back.
    pub fn release(self) -> I2C {
        self.i2c
    }

    fn write(&mut self, register: u8, value: u8) -> Result<(), I2C::Error> {
        self.i2c.write(self.address, &[register, value])
    }

    /// Writes the rows that differ from what the chip shows.
    fn write_rows(&mut self, rows: &[u8; ROWS]) -> Result<(), I2C::Error> {
        let before = self.shown.take();
        for (row, &bits) in rows.iter().enumerate() {
            if before.is_some_and(|shown| shown[row] == bits) {
                continue;
            }
            // Undo the board's one-bit twist between digit register and LEDs. On an
            // error `shown` stays `None`, so the next call rewrites every row.
            self.write(reg::DIGIT0 + row as u8, bits.rotate_right(1))?;
        }
        self.shown = Some(*rows);
        Ok(())
    }
}

/// The key-word bit of the key at `index` (0 for key 1).
const fn key_bit(index: usize) -> u16 {
    0x8000 >> index
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec;
    use std::vec::Vec;

    use embedded_hal::i2c::ErrorKind;
    use embedded_hal_mock::eh1::i2c::{Mock, Transaction};

    use super::*;
    use crate::panel::tests::EXAMINED_MVI;

    const ADDR: u8 = DEFAULT_ADDRESS;

    fn write(register: u8, value: u8) -> Transaction {
        Transaction::write(ADDR, vec![register, value])
    }

    /// The key read answering `bytes` (KEYA, KEYB as the chip sends them).
    fn keys(bytes: [u8; 2]) -> Transaction {
        Transaction::write_read(ADDR, vec![0x1C], bytes.to_vec())
    }

    /// What the chip sends with no key down.
    const NO_KEY: [u8; 2] = [0xFF, 0xFF];
    /// Key 3 (EXAMINE) down: key word 2000, inverted DFFF, KEYA rotated back: EF.
    const KEY_3: [u8; 2] = [0xEF, 0xFF];
    /// Key 1 down: key word 8000, inverted 7FFF, KEYA rotated back: BF.
    const KEY_1: [u8; 2] = [0xBF, 0xFF];

    fn init_traffic(brightness: u8) -> Vec<Transaction> {
        let mut t = vec![
            write(0x0C, 0x01),
            write(0x09, 0x00),
            write(0x0B, 0x07),
            write(0x0A, brightness),
        ];
        t.extend((0x01..=0x08).map(|digit| write(digit, 0x00)));
        t
    }

    fn finish(click: RetroClick<Mock>) {
        click.release().done();
    }

    #[test]
    fn init_wakes_the_chip_raw_all_rows_then_clears_them() {
        let mut click = RetroClick::new(Mock::new(&init_traffic(8)), ADDR);
        click.init(8).unwrap();
        finish(click);
    }

    #[test]
    fn brightness_is_clamped_to_fifteen() {
        let mut click = RetroClick::new(Mock::new(&init_traffic(15)), ADDR);
        click.init(200).unwrap();
        finish(click);
    }

    #[test]
    fn lights_frame_writes_the_changed_rows_rotated() {
        let mut traffic = init_traffic(8);
        // Row 0: A2 -> 51, row 3: 3E -> 1F, row 6: 01 -> 80; row 7 stays 00.
        traffic.extend([write(0x01, 0x51), write(0x04, 0x1F), write(0x07, 0x80)]);
        let mut click = RetroClick::new(Mock::new(&traffic), ADDR);
        click.init(8).unwrap();
        click.show(&EXAMINED_MVI).unwrap();
        click.show(&EXAMINED_MVI).unwrap(); // unchanged: no traffic
        finish(click);
    }

    #[test]
    fn a_control_key_press_is_one_command_however_long_held() {
        let traffic = [keys(NO_KEY), keys(KEY_3), keys(KEY_3), keys(NO_KEY)];
        let mut click = RetroClick::new(Mock::new(&traffic), ADDR);
        assert!(click.poll().unwrap().commands.is_empty());
        let pressed = click.poll().unwrap();
        assert_eq!(pressed.commands.collect::<Vec<_>>(), [Command::Examine]);
        assert_eq!(pressed.switches, None);
        assert_eq!(click.poll().unwrap(), Input::default(), "held");
        assert_eq!(click.poll().unwrap(), Input::default(), "released");
        finish(click);
    }

    #[test]
    fn every_control_key_maps_to_its_command() {
        for (index, expected) in CONTROL_KEYS.iter().enumerate() {
            let word = !key_bit(index);
            let [a, b] = word.to_be_bytes();
            let traffic = [keys([a.rotate_right(1), b.rotate_right(1)])];
            let mut click = RetroClick::new(Mock::new(&traffic), ADDR);
            let got: Vec<Command> = click.poll().unwrap().commands.collect();
            assert_eq!(
                got,
                expected.iter().copied().collect::<Vec<_>>(),
                "key {}",
                index + 1
            );
            finish(click);
        }
    }

    #[test]
    fn switch_mode_keys_toggle_switches_and_show_them() {
        let mut traffic = init_traffic(8);
        traffic.extend([keys(KEY_1), keys(NO_KEY), keys(KEY_1)]);
        // Switches 8000: row 6 = 80 -> rotated 40.
        traffic.push(write(0x07, 0x40));
        let mut click = RetroClick::new(Mock::new(&traffic), ADDR);
        click.init(8).unwrap();
        click.set_mode(KeyMode::Switches);
        let first = click.poll().unwrap();
        assert_eq!(first.switches, Some(0x8000));
        assert!(first.commands.is_empty());
        assert_eq!(click.poll().unwrap(), Input::default());
        assert_eq!(click.poll().unwrap().switches, Some(0x0000), "toggled back");
        click.set_switches(0x8000);
        click.show(&Lights::default()).unwrap();
        finish(click);
    }

    #[test]
    fn bus_errors_are_returned_and_a_failed_frame_is_rewritten() {
        let traffic = [
            keys(NO_KEY).with_error(ErrorKind::Other),
            write(0x01, 0x00).with_error(ErrorKind::Other),
            // After the failure every row is written again.
            write(0x01, 0x00),
            write(0x02, 0x00),
            write(0x03, 0x00),
            write(0x04, 0x00),
            write(0x05, 0x00),
            write(0x06, 0x00),
            write(0x07, 0x00),
            write(0x08, 0x00),
        ];
        let mut click = RetroClick::new(Mock::new(&traffic), ADDR);
        assert_eq!(click.poll(), Err(ErrorKind::Other));
        assert_eq!(click.show(&Lights::default()), Err(ErrorKind::Other));
        click.show(&Lights::default()).unwrap();
        finish(click);
    }
}
