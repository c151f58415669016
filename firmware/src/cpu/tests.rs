//! Instruction-level tests. The conformance programs (CPUTEST, 8080EXM, ...) run as
//! host-sim integration tests; these pin the traps those programs do not isolate.

extern crate std;

use super::flags::{AC, CY, P, S, Z};
use super::timing::STATES;
use super::{Bus, Cpu, Exit};
use crate::machine::memory::Memory;

/// Memory plus a log of port writes; IN returns the port number.
struct TestBus {
    memory: Memory,
    outputs: std::vec::Vec<(u8, u8)>,
    yield_on_io: bool,
}

impl TestBus {
    fn with_program(at: u16, program: &[u8]) -> Self {
        let mut memory = Memory::new();
        memory.load(at, program).unwrap();
        TestBus {
            memory,
            outputs: std::vec::Vec::new(),
            yield_on_io: false,
        }
    }
}

impl Bus for TestBus {
    fn read(&mut self, addr: u16) -> u8 {
        self.memory.read(addr)
    }
    // Memory's own word and operand accesses, as the machine's bus uses them.
    fn read_word(&mut self, addr: u16) -> u16 {
        self.memory.read_word(addr)
    }
    fn fetch(&mut self, at: usize) -> u8 {
        self.memory.fetch(at)
    }
    fn read_after(&mut self, at: usize) -> u8 {
        self.memory.read_after(at)
    }
    fn read_word_after(&mut self, at: usize) -> u16 {
        self.memory.read_word_after(at)
    }
    fn write(&mut self, addr: u16, value: u8) {
        self.memory.write(addr, value)
    }
    fn write_word(&mut self, addr: u16, value: u16) {
        self.memory.write_word(addr, value)
    }
    fn input(&mut self, port: u8, _cycle: u64) -> u8 {
        port
    }
    fn output(&mut self, port: u8, value: u8, _cycle: u64) {
        self.outputs.push((port, value));
    }
    fn yield_requested(&mut self) -> bool {
        self.yield_on_io
    }
}

fn cpu_at(pc: u16) -> Cpu {
    let mut cpu = Cpu::new();
    cpu.pc = pc;
    cpu.sp = 0x8000;
    cpu
}

/// Runs one instruction placed at 0x0100 and returns the CPU and the states it took.
fn one(program: &[u8], setup: impl FnOnce(&mut Cpu)) -> (Cpu, TestBus, u64) {
    let mut bus = TestBus::with_program(0x0100, program);
    let mut cpu = cpu_at(0x0100);
    setup(&mut cpu);
    let states = cpu.step(&mut bus);
    (cpu, bus, states)
}

#[test]
fn every_opcode_uses_its_table_states_on_the_not_taken_path() {
    for op in 0..=255u8 {
        if op == 0x76 {
            continue;
        }
        // Flags all clear: every conditional CALL/RET whose condition needs a set flag
        // is not taken; the others are checked in the next test.
        let (_, _, states) = one(&[op, 0x00, 0x00], |cpu| cpu.f = 0);
        let not_taken_when_clear =
            matches!(op, 0xC8 | 0xD8 | 0xE8 | 0xF8 | 0xCC | 0xDC | 0xEC | 0xFC);
        let conditional = matches!(op & 0xC7, 0xC0 | 0xC4);
        if conditional && !not_taken_when_clear {
            assert_eq!(
                states,
                STATES[op as usize] as u64 + 6,
                "opcode {op:#04X} taken"
            );
        } else {
            assert_eq!(states, STATES[op as usize] as u64, "opcode {op:#04X}");
        }
    }
}

#[test]
fn taken_conditional_call_and_return_cost_six_more_states() {
    let (cpu, _, states) = one(&[0xCC, 0x00, 0x20], |cpu| cpu.f = Z); // CZ 2000H
    assert_eq!((cpu.pc, states), (0x2000, 17));
    let (cpu, _, states) = one(&[0xC4, 0x00, 0x20], |cpu| cpu.f = Z); // CNZ not taken
    assert_eq!((cpu.pc, states), (0x0103, 11));
    let (_, _, states) = one(&[0xC8], |cpu| cpu.f = Z); // RZ taken
    assert_eq!(states, 11);
    let (cpu, _, states) = one(&[0xC0], |cpu| cpu.f = Z); // RNZ not taken
    assert_eq!((cpu.pc, states), (0x0101, 5));
}

#[test]
fn push_psw_stores_bit_1_set_and_bits_3_and_5_clear() {
    let (cpu, bus, _) = one(&[0xF5], |cpu| {
        cpu.a = 0x12;
        cpu.f = 0xFF;
    });
    assert_eq!(bus.memory.read(cpu.sp + 1), 0x12);
    assert_eq!(bus.memory.read(cpu.sp), 0xD7);
    // POP PSW keeps only the five real flags.
    let mut bus = TestBus::with_program(0x0100, &[0xF1]);
    bus.memory.load(0x7000, &[0xFF, 0x34]).unwrap();
    let mut cpu = cpu_at(0x0100);
    cpu.sp = 0x7000;
    cpu.step(&mut bus);
    assert_eq!(
        (cpu.a, cpu.f, cpu.psw()),
        (0x34, S | Z | AC | P | CY, 0x34D7)
    );
}

#[test]
fn ana_sets_aux_carry_from_bit_3_of_the_operands_or() {
    let (cpu, _, _) = one(&[0xA0], |cpu| {
        cpu.a = 0x08;
        cpu.b = 0x00;
        cpu.f = CY;
    });
    assert_eq!(cpu.a, 0);
    assert_eq!(cpu.f, Z | P | AC, "AC from A bit 3, CY cleared");
    let (cpu, _, _) = one(&[0xE6, 0x0F], |cpu| cpu.a = 0xF0); // ANI 0FH
    assert_eq!(cpu.f, Z | P | AC);
    let (cpu, _, _) = one(&[0xE6, 0x07], |cpu| cpu.a = 0xF0);
    assert_eq!(cpu.f, Z | P, "neither operand has bit 3");
}

#[test]
fn sub_reports_borrow_in_carry_and_the_adders_half_carry_in_ac() {
    let (cpu, _, _) = one(&[0x90], |cpu| {
        cpu.a = 0x00;
        cpu.b = 0x01;
    }); // SUB B: 0 - 1
    assert_eq!((cpu.a, cpu.f), (0xFF, S | P | CY));
    let (cpu, _, _) = one(&[0x90], |cpu| {
        cpu.a = 0x10;
        cpu.b = 0x01;
    });
    assert_eq!(
        (cpu.a, cpu.f & (CY | AC)),
        (0x0F, 0),
        "low nibble borrowed: AC clear"
    );
    let (cpu, _, _) = one(&[0xB8], |cpu| {
        cpu.a = 0x05;
        cpu.b = 0x05;
    }); // CMP B leaves A
    assert_eq!((cpu.a, cpu.f), (0x05, Z | P | AC));
}

#[test]
fn daa_adjusts_bcd_and_keeps_carry() {
    let (cpu, _, _) = one(&[0x27], |cpu| {
        cpu.a = 0x9B;
        cpu.f = 0;
    });
    assert_eq!(cpu.a, 0x01);
    assert_eq!(cpu.f & (CY | AC), CY | AC);
}

#[test]
fn inr_and_dcr_leave_carry_and_set_aux_carry_like_the_8080() {
    let (cpu, _, _) = one(&[0x04], |cpu| {
        cpu.b = 0x0F;
        cpu.f = CY;
    });
    assert_eq!((cpu.b, cpu.f), (0x10, CY | AC));
    let (cpu, _, _) = one(&[0x05], |cpu| cpu.b = 0x10);
    assert_eq!((cpu.b, cpu.f & AC), (0x0F, 0));
    let (cpu, _, _) = one(&[0x05], |cpu| cpu.b = 0x01);
    assert_eq!((cpu.b, cpu.f), (0x00, Z | P | AC));
}

#[test]
fn undocumented_opcodes_alias_nop_jmp_ret_and_call() {
    for op in [0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38] {
        let (cpu, _, states) = one(&[op], |_| {});
        assert_eq!((cpu.pc, states), (0x0101, 4), "{op:#04X}");
    }
    let (cpu, _, _) = one(&[0xCB, 0x34, 0x12], |_| {});
    assert_eq!(cpu.pc, 0x1234);
    for op in [0xDD, 0xED, 0xFD] {
        let (cpu, bus, states) = one(&[op, 0x34, 0x12], |_| {});
        assert_eq!((cpu.pc, states), (0x1234, 17));
        assert_eq!(bus.memory.read_word(cpu.sp), 0x0103);
    }
    let mut bus = TestBus::with_program(0x0100, &[0xD9]);
    bus.memory.load(0x7FFE, &[0x78, 0x56]).unwrap();
    let mut cpu = cpu_at(0x0100);
    cpu.sp = 0x7FFE;
    cpu.step(&mut bus);
    assert_eq!((cpu.pc, cpu.sp), (0x5678, 0x8000));
}

#[test]
fn hlt_stops_the_batch_and_an_interrupt_wakes_it() {
    // EI; HLT at 0x0100, an ISR at 0x0038 (RST 7) that does OUT 0x42.
    let mut bus = TestBus::with_program(0x0100, &[0xFB, 0x76]);
    bus.memory.load(0x0038, &[0xD3, 0x42, 0xC9]).unwrap();
    let mut cpu = cpu_at(0x0100);
    assert_eq!(cpu.run(&mut bus, 1000), Exit::Halt);
    assert!(cpu.halted);
    assert_eq!(cpu.pc, 0x0102, "PC stays past the HLT");
    // Halted with nothing to take: the batch's time passes, nothing executes.
    let before = cpu.instructions;
    assert_eq!(cpu.run(&mut bus, 100), Exit::Halt);
    assert_eq!(cpu.instructions, before);
    cpu.interrupt(0xFF);
    cpu.run(&mut bus, 40);
    assert!(!cpu.halted);
    assert!(!cpu.inte, "taking an interrupt clears INTE");
    assert_eq!(bus.outputs, [(0x42, 0)]);
    assert_eq!(
        bus.memory.read_word(0x7FFE),
        0x0102,
        "return address is past the HLT"
    );
}

#[test]
fn interrupts_wait_for_ei_and_one_more_instruction() {
    // DI; NOP; EI; MVI A,1; MVI A,2 ...
    let mut bus = TestBus::with_program(0x0100, &[0xF3, 0x00, 0xFB, 0x3E, 0x01, 0x3E, 0x02]);
    let mut cpu = cpu_at(0x0100);
    cpu.interrupt(0xCF); // RST 1
    cpu.step(&mut bus); // DI
    cpu.step(&mut bus); // NOP
    assert!(cpu.interrupt_pending());
    assert_eq!(cpu.step(&mut bus), 4); // EI
    assert_eq!(cpu.step(&mut bus), 7); // MVI A,1: not interrupted yet
    assert_eq!(cpu.step(&mut bus), 11); // the interrupt, not MVI A,2
    assert_eq!((cpu.a, cpu.pc), (0x01, 0x0008));
    assert_eq!(bus.memory.read_word(cpu.sp), 0x0105);
}

#[test]
fn ei_waits_exactly_one_instruction_wherever_it_falls_in_a_batch() {
    // NOP x n; EI; MVI A,1; MVI A,2, with an interrupt waiting: EI is the first or the
    // second of a pair of instructions between two budget checks.
    for nops in 0..4u16 {
        let mut program = std::vec![0x00; usize::from(nops)];
        program.extend([0xFB, 0x3E, 0x01, 0x3E, 0x02]);
        let mut bus = TestBus::with_program(0x0100, &program);
        let mut cpu = cpu_at(0x0100);
        cpu.interrupt(0xCF); // RST 1
        assert_eq!(cpu.run(&mut bus, 1000), Exit::Budget);
        // The NOPs, EI, MVI A,1, RST 1 (11 states), then NOPs from 0x0008 on.
        let before_vector = 4 * u64::from(nops) + 4 + 7 + 11;
        let at_vector = cpu.instructions - u64::from(nops) - 3;
        assert_eq!(cpu.a, 0x01, "{nops} NOPs before EI: MVI A,2 ran");
        assert_eq!(
            bus.memory.read_word(cpu.sp),
            0x0100 + nops + 3,
            "{nops} NOPs"
        );
        assert_eq!(cpu.pc, 0x0008 + at_vector as u16, "{nops} NOPs");
        assert_eq!(cpu.cycles, before_vector + 4 * at_vector, "{nops} NOPs");
        assert!(
            cpu.cycles >= 1000 && cpu.cycles < 1000 + 2 * 4,
            "{nops} NOPs"
        );
    }
}

#[test]
fn io_passes_the_start_cycle_and_the_bus_can_yield() {
    let mut bus = TestBus::with_program(0x0100, &[0xDB, 0x10, 0xD3, 0x11, 0x00]);
    bus.yield_on_io = true;
    let mut cpu = cpu_at(0x0100);
    assert_eq!(cpu.run(&mut bus, 1000), Exit::Yield);
    assert_eq!((cpu.a, cpu.pc, cpu.cycles), (0x10, 0x0102, 10));
    assert_eq!(cpu.run(&mut bus, 1000), Exit::Yield);
    assert_eq!(bus.outputs, [(0x11, 0x10)]);
    assert_eq!(cpu.cycles, 20);
}

#[test]
fn run_counts_states_and_instructions_and_overshoots_by_under_two_instructions() {
    // A loop of JMP 0100H (10 states each). The budget is checked before the second
    // instruction of a batch and before every second one after it.
    let mut bus = TestBus::with_program(0x0100, &[0xC3, 0x00, 0x01]);
    let mut cpu = cpu_at(0x0100);
    // 5 states left at the check before the 10th: it runs, then the 11th, 15 states over.
    assert_eq!(cpu.run(&mut bus, 95), Exit::Budget);
    assert_eq!((cpu.cycles, cpu.instructions), (110, 11));
    // 15 states left at the check before the batch's 8th: it and the 9th run, 5 over.
    assert_eq!(cpu.run(&mut bus, 85), Exit::Budget);
    assert_eq!((cpu.cycles, cpu.instructions), (200, 20));
    // A budget spent by the first instruction of a batch ends it at the first check.
    assert_eq!(cpu.run(&mut bus, 1), Exit::Budget);
    assert_eq!((cpu.cycles, cpu.instructions), (210, 21));
    // No budget, no instruction.
    assert_eq!(cpu.run(&mut bus, 0), Exit::Budget);
    assert_eq!((cpu.cycles, cpu.instructions, cpu.pc), (210, 21, 0x0100));
}

#[test]
fn step_runs_exactly_one_instruction() {
    let mut bus = TestBus::with_program(0x0100, &[0x00, 0x00, 0x00]);
    let mut cpu = cpu_at(0x0100);
    assert_eq!(cpu.step(&mut bus), 4);
    assert_eq!((cpu.pc, cpu.instructions), (0x0101, 1));
}

#[test]
fn memory_full_of_nops_still_ends_each_batch() {
    // Straight-line code wraps from 0xFFFF to 0 with no jump: the batch must still end.
    let mut bus = TestBus::with_program(0x0000, &[]);
    let mut cpu = cpu_at(0x0000);
    assert_eq!(cpu.run(&mut bus, 4 * 0x1_0000 + 4), Exit::Budget);
    // The budget holds 0x1_0001 NOPs; checking once per pair may run one more.
    assert!(
        (0x1_0001..=0x1_0002).contains(&cpu.instructions),
        "{}",
        cpu.instructions
    );
    assert_eq!(cpu.pc, cpu.instructions as u16);
}

#[test]
fn straight_line_code_runs_across_the_top_of_memory_in_either_copy_of_the_loop() {
    // The loop wraps its PC only when a batch ends (execute.rs) and reads past 0xFFFF
    // from memory's copy of itself. Each case runs after 1 to 4 NOPs, which puts each of
    // its instructions in either copy of the loop, and ends with 8 NOPs and a HLT.
    // (bytes ending at 0xFFFF, bytes from 0x0000, instructions in them, A, B, HL)
    type Case = (&'static [u8], &'static [u8], u64, (u8, u8, u16));
    let cases: [Case; 4] = [
        // INR A at 0xFFFF; MVI B,42H.
        (&[0x3C], &[0x06, 0x42], 2, (0x01, 0x42, 0x0000)),
        // MVI A,3CH at 0xFFFF, its operand at 0x0000; MVI B,42H.
        (&[0x3E], &[0x3C, 0x06, 0x42], 2, (0x3C, 0x42, 0x0000)),
        // LXI H,1234H at 0xFFFF, its operand at 0x0000; MVI B,42H.
        (&[0x21], &[0x34, 0x12, 0x06, 0x42], 2, (0x00, 0x42, 0x1234)),
        // CALL 0100H ending at 0xFFFF pushes 0x0000; there POP H and PCHL go back to it.
        (&[0xCD, 0x00, 0x01], &[], 3, (0x00, 0x00, 0x0000)),
    ];
    for (top, bottom, count, (a, b, hl)) in cases {
        for nops in 1..=4u16 {
            let top_at = (0x1_0000 - top.len()) as u16;
            let start = top_at - nops;
            let hlt_at = bottom.len() as u16 + 8;
            let mut bus = TestBus::with_program(start, &[0; 4][..nops as usize]);
            bus.memory.load(top_at, top).unwrap();
            bus.memory.load(0x0000, bottom).unwrap();
            bus.memory.load(hlt_at, &[0x76]).unwrap();
            bus.memory.load(0x0100, &[0xE1, 0xE9]).unwrap();
            let mut cpu = cpu_at(start);
            let exit = cpu.run(&mut bus, 1000);
            assert_eq!(
                (exit, cpu.a, cpu.b, cpu.hl(), cpu.pc, cpu.instructions),
                (
                    Exit::Halt,
                    a,
                    b,
                    hl,
                    hlt_at + 1,
                    u64::from(nops) + count + 9
                ),
                "{top:02X?} after {nops} NOPs"
            );
        }
    }
}

#[test]
fn straight_line_code_runs_a_whole_batch_past_0xffff_and_wraps() {
    // Memory full of LXI B,0101H (3 bytes in 10 states, the most bytes per state):
    // from 0xFFF0 one batch runs about 19,660 bytes past 0xFFFF before it ends.
    let mut bus = TestBus::with_program(0x0000, &[0x01; 0x1_0000]);
    let mut cpu = cpu_at(0xFFF0);
    for budget in [super::timing::MAX_BATCH, 3 * super::timing::MAX_BATCH + 7] {
        let (start, before) = (cpu.pc, cpu.instructions);
        assert_eq!(cpu.run(&mut bus, budget), Exit::Budget);
        let ran = cpu.instructions - before;
        assert!(
            ran * 10 >= budget && ran * 10 < budget + 30,
            "{ran} for {budget}"
        );
        assert_eq!(cpu.pc, start.wrapping_add((3 * ran) as u16));
        assert_eq!(cpu.bc(), 0x0101);
    }
}

#[test]
fn code_written_while_running_past_0xffff_is_the_code_that_runs() {
    // NOPs up to 0xFFFF, then from 0x0000 (reached past 0xFFFF, from memory's copy):
    // MVI A,3CH; STA 0010H; NOPs; at 0x0010 a NOP that the STA turns into INR A; HLT.
    let mut program = [0u8; 0x12];
    program[..5].copy_from_slice(&[0x3E, 0x3C, 0x32, 0x10, 0x00]);
    program[0x11] = 0x76;
    for stepped in [false, true] {
        let mut bus = TestBus::with_program(0xFF00, &[0; 0x100]);
        bus.memory.load(0x0000, &program).unwrap();
        let mut cpu = cpu_at(0xFF00);
        if stepped {
            while !cpu.halted {
                cpu.step(&mut bus);
            }
        } else {
            assert_eq!(cpu.run(&mut bus, 10_000), Exit::Halt);
        }
        assert_eq!((cpu.a, cpu.pc), (0x3D, 0x0012), "stepped: {stepped}");
    }
}

#[test]
fn sixteen_bit_accesses_wrap_at_the_top_of_memory() {
    // LHLD 0FFFFH reads L from 0xFFFF and H from 0x0000.
    let mut bus = TestBus::with_program(0x0100, &[0x2A, 0xFF, 0xFF]);
    bus.memory.load(0xFFFF, &[0xAA]).unwrap();
    bus.memory.load(0x0000, &[0xBB]).unwrap();
    let mut cpu = cpu_at(0x0100);
    cpu.step(&mut bus);
    assert_eq!(cpu.hl(), 0xBBAA);
}

#[test]
fn operands_wrap_at_the_top_of_memory_and_see_writes_to_address_zero() {
    // STA 0000H (A = 06H); JMP 0FFFEH. At 0xFFFE: LXI H, whose operand is in 0xFFFF and
    // in 0x0000, just written by STA.
    let mut bus = TestBus::with_program(0x0100, &[0x32, 0x00, 0x00, 0xC3, 0xFE, 0xFF]);
    bus.memory.load(0xFFFE, &[0x21, 0x77]).unwrap();
    let mut cpu = cpu_at(0x0100);
    cpu.a = 0x06;
    for _ in 0..3 {
        cpu.step(&mut bus);
    }
    assert_eq!((cpu.hl(), cpu.pc), (0x0677, 0x0001));

    // MVI A at 0xFFFF: its operand is in 0x0000.
    bus.write(0xFFFF, 0x3E);
    cpu.pc = 0xFFFF;
    cpu.step(&mut bus);
    assert_eq!((cpu.a, cpu.pc), (0x06, 0x0001));

    // JMP at 0xFFFF: its address is in 0x0000 (low) and 0x0001 (high).
    bus.write(0xFFFF, 0xC3);
    bus.write(0x0001, 0x12);
    cpu.pc = 0xFFFF;
    cpu.step(&mut bus);
    assert_eq!(cpu.pc, 0x1206);
}

#[test]
fn push_and_call_store_words_that_wrap_or_cross_into_rom() {
    // PUSH B with SP = 0x0001: C goes to 0xFFFF, B to 0x0000; POP D reads them back
    // through the copy of 0x0000 kept past 0xFFFF.
    let mut bus = TestBus::with_program(0x0100, &[0xC5, 0xD1]);
    let mut cpu = cpu_at(0x0100);
    cpu.sp = 0x0001;
    cpu.set_bc(0x1234);
    cpu.step(&mut bus);
    assert_eq!(
        (cpu.sp, bus.read(0xFFFF), bus.read(0x0000)),
        (0xFFFF, 0x34, 0x12)
    );
    cpu.step(&mut bus);
    assert_eq!((cpu.de(), cpu.sp), (0x1234, 0x0001));

    // CALL with SP = 0x2001 and ROM from 0x2000: the return address's low byte lands
    // in RAM at 0x1FFF, its high byte is dropped by the ROM.
    let mut bus = TestBus::with_program(0x0100, &[0xCD, 0x00, 0x03]);
    bus.memory.protect(0x2000, 0x100, true);
    let mut cpu = cpu_at(0x0100);
    cpu.sp = 0x2001;
    cpu.step(&mut bus);
    assert_eq!((cpu.pc, cpu.sp), (0x0300, 0x1FFF));
    assert_eq!((bus.read(0x1FFF), bus.read(0x2000)), (0x03, 0x00));
}

#[test]
fn pop_psw_then_push_psw_keeps_every_flag_combination() {
    // POP PSW; PUSH PSW; then the four flag-testing jumps read the popped flags.
    for f in 0..=255u8 {
        let mut bus = TestBus::with_program(0x0100, &[0xF1, 0xF5]);
        bus.memory.load(0x7000, &[f, 0x5A]).unwrap();
        let mut cpu = cpu_at(0x0100);
        cpu.sp = 0x7000;
        cpu.run(&mut bus, 21); // POP PSW (10) + PUSH PSW (11)
        let stored = (f & (S | Z | AC | P | CY)) | 0x02;
        assert_eq!(
            bus.memory.read_word(0x7000),
            0x5A00 | stored as u16,
            "{f:#04X}"
        );
        for (op, flag) in [(0xCA, Z), (0xDA, CY), (0xEA, P), (0xFA, S)] {
            // JZ / JC / JPE / JM 2000H, taken exactly when the flag is set.
            let (cpu, _, _) = one(&[op, 0x00, 0x20], |cpu| cpu.f = f);
            let taken = cpu.pc == 0x2000;
            assert_eq!(taken, f & flag != 0, "opcode {op:#04X} with flags {f:#04X}");
        }
    }
}
