//! The Altair 8800 front panel kit: LEDs behind a chain of 74HC595 shift registers and
//! switches behind a chain of 74HC165s, both on one SPI bus.
//!
//! # Hardware facts this driver relies on
//!
//! - 74HC595 (serial in, parallel out, with an output latch): bits shift in on the
//!   shift clock and reach the outputs only on a rising edge of the storage (latch)
//!   clock, so a frame written while the latch is low appears all at once when it goes
//!   high (TI SN74HC595 datasheet; the Linux `fairchild,74hc595` binding describes the
//!   same latch-as-chip-select use).
//! - 74HC165 (parallel in, serial out): SH/LD low loads the parallel inputs
//!   asynchronously; with SH/LD high and CLK INH low, each rising clock shifts one bit
//!   out of QH (TI SN74HC165 datasheet, function table).
//!
//! The board's wiring comes from the original Cloud-Enabled Altair firmware
//! (`AltairHL_emulator/FrontPanels/front_panel_kit.c` and `update_panel_leds` in
//! `main.c`, AzureSphereCloudEnabledAltair8800/AltairOnAzureSphere); it has not been
//! checked on hardware here:
//! - the bus runs SPI mode 2, MSB first (the original uses 5 MHz); the board code
//!   configures that, this driver only moves bytes;
//! - LEDs: [`LED_BYTES`] bytes, A7..A0, A15..A8, D7..D0, then the 8080 status word,
//!   each byte bit-reversed (the chain's outputs are wired LSB first), latched by a
//!   separate pin;
//! - switches: [`SWITCH_BYTES`] bytes, after a load pulse and with a select pin low:
//!   switches 7..0 and 15..8, bit-reversed and active low (a switch up reads 0), then
//!   the command switches, active high, one bit each ([`command_bit`]).
//!
//! The kit has no RESET switch in the original's command byte, so this driver never
//! reports [`Command::Reset`]; and only the status word's eight LEDs, so INTE, PROT and
//! WAIT are not shown.
//!
//! # Debouncing
//!
//! A reading (all 24 switch bits) counts only once it has stayed the same for
//! [`DEBOUNCE_SAMPLES`] polls in a row; a command fires on its switch's debounced press,
//! once however long it is held. The first settled reading is the baseline: a switch
//! held at power-on does not fire.

use embedded_hal::digital::OutputPin;
use embedded_hal::spi::SpiBus;

use super::{Command, Commands, Input, Lights};

/// Bytes in the LED chain: four 74HC595s.
pub const LED_BYTES: usize = 4;
/// Bytes in the switch chain: three 74HC165s.
pub const SWITCH_BYTES: usize = 3;
/// Polls in a row a changed reading must hold before it counts. Polled every
/// [`POLL_INTERVAL_MS`], that is 20 to 30 ms, the window the AS1115 uses to debounce
/// its keys (see [`super::retro_click`]), well past a toggle's contact bounce.
pub const DEBOUNCE_SAMPLES: u8 = 3;
/// The poll period the debounce is sized for: fast enough that a press feels immediate.
pub const POLL_INTERVAL_MS: u32 = 10;

/// The command byte's bit for each command switch on the kit (from the original's
/// `ALTAIR_COMMAND` values). Bit 2 is unassigned there.
pub const fn command_bit(command: Command) -> Option<u8> {
    match command {
        Command::Run => Some(0x01),
        Command::Stop => Some(0x02),
        Command::SingleStep => Some(0x08),
        Command::ExamineNext => Some(0x10),
        Command::Examine => Some(0x20),
        Command::DepositNext => Some(0x40),
        Command::Deposit => Some(0x80),
        Command::Reset => None,
    }
}

/// A bus or pin failure; the panel keeps its last state and the next call retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error<S, P> {
    /// The SPI bus failed.
    Spi(S),
    /// A strobe pin failed.
    Pin(P),
}

/// The bytes that light `lights` on the kit, in the order they are shifted out.
pub fn led_frame(lights: &Lights) -> [u8; LED_BYTES] {
    let [high, low] = lights.address.to_be_bytes();
    [
        low.reverse_bits(),
        high.reverse_bits(),
        lights.data.reverse_bits(),
        lights.status.reverse_bits(),
    ]
}

/// The 16 switches and the command byte in one raw reading of the chain.
fn decode(raw: [u8; SWITCH_BYTES]) -> (u16, u8) {
    let [low, high, commands] = raw;
    let switches = !u16::from_be_bytes([high.reverse_bits(), low.reverse_bits()]);
    (switches, commands)
}

/// The commands whose bits are set in a command byte.
fn commands_in(byte: u8) -> Commands {
    Command::ALL
        .iter()
        .fold(Commands::NONE, |set, &command| match command_bit(command) {
            Some(bit) if byte & bit != 0 => set.with(command),
            _ => set,
        })
}

/// Accepts a reading once it has held for [`DEBOUNCE_SAMPLES`] polls.
#[derive(Clone, Copy, Debug, Default)]
struct Debounce {
    candidate: [u8; SWITCH_BYTES],
    count: u8,
    settled: Option<[u8; SWITCH_BYTES]>,
}

impl Debounce {
    /// Feeds one raw reading; returns `(previous, new)` settled readings when a change
    /// has just settled (`previous` is `None` for the first).
    fn sample(
        &mut self,
        raw: [u8; SWITCH_BYTES],
    ) -> Option<(Option<[u8; SWITCH_BYTES]>, [u8; SWITCH_BYTES])> {
        if raw == self.candidate {
            self.count = self.count.saturating_add(1);
        } else {
            self.candidate = raw;
            self.count = 1;
        }
        if self.count < DEBOUNCE_SAMPLES || self.settled == Some(raw) {
            return None;
        }
        let previous = self.settled.replace(raw);
        Some((previous, raw))
    }
}

/// The front panel kit on an SPI bus with three strobe pins.
///
/// The driver owns the bus rather than taking an `SpiDevice`: the two chains share it
/// and need different strobes around a transfer (the 595's latch after a write, the
/// 165's load before a read and its clock inhibit during it), none of which is a plain
/// chip select.
pub struct SpiKit<SPI, LATCH, LOAD, SELECT> {
    spi: SPI,
    led_latch: LATCH,
    switch_load: LOAD,
    switch_select: SELECT,
    debounce: Debounce,
}

impl<SPI, LATCH, LOAD, SELECT, E> SpiKit<SPI, LATCH, LOAD, SELECT>
where
    SPI: SpiBus,
    LATCH: OutputPin<Error = E>,
    LOAD: OutputPin<Error = E>,
    SELECT: OutputPin<Error = E>,
{
    /// A driver for the kit: `led_latch` is the 74HC595s' storage clock, `switch_load`
    /// the 74HC165s' SH/LD, `switch_select` their clock inhibit.
    pub fn new(spi: SPI, led_latch: LATCH, switch_load: LOAD, switch_select: SELECT) -> Self {
        SpiKit {
            spi,
            led_latch,
            switch_load,
            switch_select,
            debounce: Debounce::default(),
        }
    }

    /// Puts the strobes at rest (all high: latch idle, shift mode, clock inhibited).
    pub fn init(&mut self) -> Result<(), Error<SPI::Error, E>> {
        self.led_latch.set_high().map_err(Error::Pin)?;
        self.switch_load.set_high().map_err(Error::Pin)?;
        self.switch_select.set_high().map_err(Error::Pin)
    }

    /// Shows `lights`: shifts the frame in with the latch low, then raises it.
    pub fn show(&mut self, lights: &Lights) -> Result<(), Error<SPI::Error, E>> {
        let frame = led_frame(lights);
        self.led_latch.set_low().map_err(Error::Pin)?;
        self.spi.write(&frame).map_err(Error::Spi)?;
        self.spi.flush().map_err(Error::Spi)?;
        // Only this edge changes the LEDs: after a failed write the latch stays low
        // and the old frame stays lit.
        self.led_latch.set_high().map_err(Error::Pin)
    }

    /// Reads the switches once and reports debounced changes: the 16 switches when
    /// they settle on a new value, and the command switches newly pressed. Call it
    /// every [`POLL_INTERVAL_MS`].
    pub fn poll(&mut self) -> Result<Input, Error<SPI::Error, E>> {
        let raw = self.read_chain()?;
        let Some((previous, settled)) = self.debounce.sample(raw) else {
            return Ok(Input::default());
        };
        let (switches, commands) = decode(settled);
        let (old_switches, old_commands) = match previous {
            Some(previous) => {
                let (s, c) = decode(previous);
                (Some(s), c)
            }
            // The baseline: report the switches, and nothing as pressed.
            None => (None, commands),
        };
        Ok(Input {
            switches: (old_switches != Some(switches)).then_some(switches),
            commands: commands_in(commands & !old_commands),
        })
    }

    /// Gives the bus and pins back.
    pub fn release(self) -> (SPI, LATCH, LOAD, SELECT) {
        (
            self.spi,
            self.led_latch,
            self.switch_load,
            self.switch_select,
        )
    }

    /// Loads the 165s and clocks their bytes out.
    fn read_chain(&mut self) -> Result<[u8; SWITCH_BYTES], Error<SPI::Error, E>> {
        self.switch_load.set_low().map_err(Error::Pin)?;
        self.switch_load.set_high().map_err(Error::Pin)?;
        self.switch_select.set_low().map_err(Error::Pin)?;
        let mut raw = [0u8; SWITCH_BYTES];
        let read = self
            .spi
            .read(&mut raw)
            .and_then(|()| self.spi.flush())
            .map_err(Error::Spi);
        // Inhibit the clock again even when the read failed, so the next transfer on
        // the shared bus does not shift the chain.
        let release = self.switch_select.set_high().map_err(Error::Pin);
        read.and(release).map(|()| raw)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec;
    use std::vec::Vec;

    use embedded_hal::spi::ErrorKind;
    use embedded_hal_mock::eh1::digital::{Mock as PinMock, State, Transaction as PinTransaction};
    use embedded_hal_mock::eh1::spi::{Mock as SpiMock, Transaction as SpiTransaction};

    use super::*;
    use crate::panel::tests::EXAMINED_MVI;

    /// Raw chain bytes for no switch up and no command pressed (switches read 1 when down).
    const IDLE: [u8; 3] = [0xFF, 0xFF, 0x00];

    fn pins(transactions: &[PinTransaction]) -> PinMock {
        PinMock::new(transactions)
    }

    type MockKit = SpiKit<SpiMock<u8>, PinMock, PinMock, PinMock>;

    /// Checks that the kit did all the traffic expected of it.
    fn finish(kit: MockKit) {
        let (mut spi, mut latch, mut load, mut select) = kit.release();
        spi.done();
        latch.done();
        load.done();
        select.done();
    }

    /// The strobe and bus traffic of `reads` polls.
    fn poll_traffic(
        reads: &[[u8; 3]],
    ) -> (
        Vec<SpiTransaction<u8>>,
        Vec<PinTransaction>,
        Vec<PinTransaction>,
    ) {
        let mut spi = Vec::new();
        let mut load = Vec::new();
        let mut select = Vec::new();
        for raw in reads {
            load.push(PinTransaction::set(State::Low));
            load.push(PinTransaction::set(State::High));
            select.push(PinTransaction::set(State::Low));
            select.push(PinTransaction::set(State::High));
            spi.push(SpiTransaction::read_vec(raw.to_vec()));
            spi.push(SpiTransaction::flush());
        }
        (spi, load, select)
    }

    /// Polls a kit fed `reads` and returns every poll's input, checking all traffic.
    fn poll_all(reads: &[[u8; 3]]) -> Vec<Input> {
        let (spi, load, select) = poll_traffic(reads);
        let mut kit = SpiKit::new(SpiMock::new(&spi), pins(&[]), pins(&load), pins(&select));
        let inputs = reads.iter().map(|_| kit.poll().unwrap()).collect();
        finish(kit);
        inputs
    }

    #[test]
    fn init_puts_every_strobe_high() {
        let high = [PinTransaction::set(State::High)];
        let mut kit = SpiKit::new(
            SpiMock::<u8>::new(&[]),
            pins(&high),
            pins(&high),
            pins(&high),
        );
        kit.init().unwrap();
        finish(kit);
    }

    #[test]
    fn show_shifts_the_bit_reversed_frame_between_latch_edges() {
        // A7..A0 = 00, A15..A8 = 01 -> 80, 3E -> 7C, A2 (MEMR M1 WO) -> 45.
        let spi = [
            SpiTransaction::write_vec(vec![0x00, 0x80, 0x7C, 0x45]),
            SpiTransaction::flush(),
        ];
        let latch = [
            PinTransaction::set(State::Low),
            PinTransaction::set(State::High),
        ];
        let mut kit = SpiKit::new(SpiMock::new(&spi), pins(&latch), pins(&[]), pins(&[]));
        kit.show(&EXAMINED_MVI).unwrap();
        finish(kit);
    }

    #[test]
    fn switch_bits_map_to_switches_and_commands() {
        // Switches 15 and 0 up: active low 7FFE, each byte bit-reversed: 7F -> FE, FE -> 7F.
        let examine = [0x7F, 0xFE, 0x20];
        let mut reads = vec![IDLE; 3];
        reads.extend([examine; 3]);
        let inputs = poll_all(&reads);
        assert_eq!(
            inputs[2].switches,
            Some(0x0000),
            "the baseline reports the switches"
        );
        assert!(inputs[2].commands.is_empty());
        assert_eq!(inputs[5].switches, Some(0x8001));
        assert_eq!(inputs[5].commands.collect::<Vec<_>>(), [Command::Examine]);
    }

    #[test]
    fn every_command_bit_decodes_to_its_command() {
        for command in Command::ALL {
            let Some(bit) = command_bit(command) else {
                continue;
            };
            assert_eq!(commands_in(bit).collect::<Vec<_>>(), [command]);
        }
        assert!(commands_in(0x04).is_empty(), "bit 2 is unassigned");
    }

    #[test]
    fn bounce_shorter_than_the_debounce_window_is_ignored() {
        let run = [0xFF, 0xFF, 0x01];
        // Settle idle, bounce (2 samples never hold), then settle pressed.
        let reads = [IDLE, IDLE, IDLE, run, IDLE, run, run, IDLE, run, run, run];
        let inputs = poll_all(&reads);
        let fired: Vec<(usize, Command)> = inputs
            .iter()
            .enumerate()
            .flat_map(|(i, input)| input.commands.map(move |c| (i, c)))
            .collect();
        assert_eq!(fired, [(10, Command::Run)]);
    }

    #[test]
    fn a_held_switch_fires_once_and_a_switch_held_at_start_never() {
        let step = [0xFF, 0xFF, 0x08];
        let reads = [
            step, step, step, step, step, IDLE, IDLE, IDLE, step, step, step, step,
        ];
        let inputs = poll_all(&reads);
        let fired: Vec<usize> = inputs
            .iter()
            .enumerate()
            .filter(|(_, input)| !input.commands.is_empty())
            .map(|(i, _)| i)
            .collect();
        assert_eq!(fired, [10], "only the press after the release fires");
    }

    #[test]
    fn a_pin_error_is_returned() {
        let load =
            [
                PinTransaction::set(State::Low).with_error(embedded_hal_mock::eh1::MockError::Io(
                    std::io::ErrorKind::Other,
                )),
            ];
        let mut kit = SpiKit::new(SpiMock::<u8>::new(&[]), pins(&[]), pins(&load), pins(&[]));
        assert!(matches!(kit.poll(), Err(Error::Pin(_))));
        finish(kit);
    }

    /// A bus whose every transfer fails (the mock cannot fail SPI calls).
    struct BrokenBus;

    impl embedded_hal::spi::ErrorType for BrokenBus {
        type Error = ErrorKind;
    }

    impl SpiBus for BrokenBus {
        fn read(&mut self, _: &mut [u8]) -> Result<(), ErrorKind> {
            Err(ErrorKind::Overrun)
        }
        fn write(&mut self, _: &[u8]) -> Result<(), ErrorKind> {
            Err(ErrorKind::Overrun)
        }
        fn transfer(&mut self, _: &mut [u8], _: &[u8]) -> Result<(), ErrorKind> {
            Err(ErrorKind::Overrun)
        }
        fn transfer_in_place(&mut self, _: &mut [u8]) -> Result<(), ErrorKind> {
            Err(ErrorKind::Overrun)
        }
        fn flush(&mut self) -> Result<(), ErrorKind> {
            Err(ErrorKind::Overrun)
        }
    }

    #[test]
    fn a_bus_error_is_returned_with_the_clock_inhibited_and_the_latch_untouched() {
        let load = [
            PinTransaction::set(State::Low),
            PinTransaction::set(State::High),
        ];
        let select = [
            PinTransaction::set(State::Low),
            PinTransaction::set(State::High),
        ];
        // The latch goes low for the write and is not raised after it fails.
        let latch = [PinTransaction::set(State::Low)];
        let mut kit = SpiKit::new(BrokenBus, pins(&latch), pins(&load), pins(&select));
        assert_eq!(kit.poll(), Err(Error::Spi(ErrorKind::Overrun)));
        assert_eq!(
            kit.show(&Lights::default()),
            Err(Error::Spi(ErrorKind::Overrun))
        );
        let (_, mut latch, mut load, mut select) = kit.release();
        latch.done();
        load.done();
        select.done();
    }
}
