//! The panel model: lights from machine state, switches carried out on the machine.

extern crate std;

use std::string::String;
use std::vec::Vec;

use super::*;
use crate::platform::NoStorage;

/// A machine with `MVI A,07H; HLT` at 0100 and `NOP`s elsewhere.
fn machine() -> Altair<NoStorage> {
    let mut altair = Altair::new();
    altair.load(0x0100, &[0x3E, 0x07, 0x76]).unwrap();
    altair
}

/// The lights with `MVI A,07H` at 0100 examined and the CPU stopped: the frame the
/// driver tests send for a known machine state.
pub(super) const EXAMINED_MVI: Lights = Lights {
    address: 0x0100,
    data: 0x3E,
    status: status::MEMR | status::M1 | status::WO,
    inte: false,
    prot: false,
    wait: true,
};

/// A machine, its monitor and the replies written so far, for driving [`apply`].
struct Bench {
    altair: Altair<NoStorage>,
    monitor: Monitor,
    out: String,
}

impl Bench {
    fn new() -> Self {
        Bench {
            altair: machine(),
            monitor: Monitor::new(),
            out: String::new(),
        }
    }

    /// Sets the switches, then applies `command`.
    fn press(&mut self, switches: u16, command: Command, mode: Mode) -> Effect {
        self.altair.devices.switches = switches;
        apply(
            command,
            mode,
            &mut self.altair,
            &mut self.monitor,
            &mut self.out,
        )
    }

    fn handle(&mut self, input: Input, mode: Mode) -> Effect {
        handle(
            input,
            mode,
            &mut self.altair,
            &mut self.monitor,
            &mut self.out,
        )
    }
}

#[test]
fn stopped_lights_show_the_address_register_with_wait_and_fetch_status() {
    let mut bench = Bench::new();
    let _ = bench.press(0x0100, Command::Examine, Mode::Stopped);
    let lights = Lights::new(&bench.altair, &bench.monitor, Mode::Stopped);
    assert_eq!(lights, EXAMINED_MVI);
}

#[test]
fn running_lights_sample_pc_and_show_inte_and_prot() {
    let mut altair = machine();
    altair.load_rom(0xFF00, &[0xC3]).unwrap();
    altair.cpu.pc = 0xFF00;
    altair.cpu.inte = true;
    let lights = Lights::new(&altair, &Monitor::new(), Mode::Running);
    assert_eq!((lights.address, lights.data), (0xFF00, 0xC3));
    assert!(lights.inte && lights.prot && !lights.wait);
    assert!(lights.status_lit(status::FETCH));
}

#[test]
fn a_halted_cpu_shows_halt_acknowledge_at_pc_only() {
    let mut bench = Bench::new();
    bench.altair.cpu.pc = 0x0100;
    while !bench.altair.cpu.halted {
        bench.altair.step();
    }
    bench.monitor.enter(&bench.altair, &mut bench.out);
    let at_pc = Lights::new(&bench.altair, &bench.monitor, Mode::Stopped);
    assert_eq!(at_pc.status, status::HALT_ACK);
    assert!(!at_pc.status_lit(status::M1));
    let _ = bench.press(0x0000, Command::Examine, Mode::Stopped);
    let elsewhere = Lights::new(&bench.altair, &bench.monitor, Mode::Stopped);
    assert_eq!(elsewhere.status, status::FETCH);
}

#[test]
fn commands_iterate_stop_and_reset_first() {
    let set = Commands::NONE
        .with(Command::DepositNext)
        .with(Command::Run)
        .with(Command::Stop);
    assert!(set.contains(Command::Run) && !set.contains(Command::Reset));
    assert_eq!(
        set.collect::<Vec<_>>(),
        [Command::Stop, Command::Run, Command::DepositNext]
    );
    assert_eq!(Commands::NONE.count(), 0);
}

#[test]
fn examine_and_deposit_use_the_switches_through_the_monitor() {
    let mut bench = Bench::new();
    let effects = [
        bench.press(0x0200, Command::Examine, Mode::Stopped),
        bench.press(0x02AA, Command::Deposit, Mode::Stopped),
        bench.press(0x0255, Command::DepositNext, Mode::Stopped),
        bench.press(0x0000, Command::ExamineNext, Mode::Stopped),
    ];
    assert_eq!(effects, [Effect::Stay; 4]);
    let memory = &bench.altair.devices.memory;
    assert_eq!((memory.read(0x0200), memory.read(0x0201)), (0xAA, 0x55));
    assert_eq!(bench.monitor.address(), 0x0202);
    // The replies are the monitor's panel lines, one per switch.
    assert_eq!(bench.out.lines().count(), 4);
    assert!(bench.out.starts_with("0200 "), "{}", bench.out);
}

#[test]
fn run_and_single_step_continue_from_the_address_shown() {
    let mut bench = Bench::new();
    let _ = bench.press(0x0100, Command::Examine, Mode::Stopped);
    let step = bench.press(0x0100, Command::SingleStep, Mode::Stopped);
    let cpu = &bench.altair.cpu;
    assert_eq!((step, cpu.a, cpu.pc), (Effect::Stay, 0x07, 0x0102));
    assert_eq!(bench.monitor.address(), 0x0102);

    let _ = bench.press(0x0100, Command::Examine, Mode::Stopped);
    let run = bench.press(0x0100, Command::Run, Mode::Stopped);
    assert_eq!((run, bench.altair.cpu.pc), (Effect::Run, 0x0100));
}

#[test]
fn while_running_only_stop_and_reset_act() {
    let mut bench = Bench::new();
    bench.altair.cpu.pc = 0x0100;
    for command in Command::ALL {
        if matches!(command, Command::Stop | Command::Reset) {
            continue;
        }
        let effect = bench.press(0x0200, command, Mode::Running);
        assert_eq!(effect, Effect::Stay, "{command:?}");
    }
    assert_eq!((bench.altair.cpu.pc, bench.monitor.address()), (0x0100, 0));
    assert_eq!(bench.altair.devices.memory.read(0x0200), 0x00);
    assert!(bench.out.is_empty());

    assert_eq!(bench.press(0, Command::Stop, Mode::Running), Effect::Stop);
    assert_eq!(bench.press(0, Command::Reset, Mode::Running), Effect::Stay);
    assert_eq!(bench.altair.cpu.pc, 0x0000);
    assert_eq!(bench.press(0, Command::Stop, Mode::Stopped), Effect::Stay);
}

#[test]
fn handle_stores_switches_only_when_they_changed_and_follows_stop() {
    let mut bench = Bench::new();
    bench.altair.devices.switches = 0x1234;
    let quiet = bench.handle(Input::default(), Mode::Running);
    assert_eq!(
        (quiet, bench.altair.devices.switches),
        (Effect::Stay, 0x1234)
    );

    bench.altair.cpu.pc = 0x0100;
    let input = Input {
        switches: Some(0x0100),
        commands: Commands::NONE.with(Command::Stop).with(Command::SingleStep),
    };
    assert_eq!(bench.handle(input, Mode::Running), Effect::Stop);
    assert_eq!(bench.altair.devices.switches, 0x0100);
    // STOP came first, so SINGLE STEP ran stopped, at PC.
    let cpu = &bench.altair.cpu;
    assert_eq!((cpu.a, cpu.pc), (0x07, 0x0102));
}
