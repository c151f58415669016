//! The fetch-decode-execute loop: one `match` over the opcode, one arm per instruction.
//!
//! Each arm is the instruction's whole effect; states come from [`STATES`] before the
//! arm runs, so only the taken conditional CALL/RET add to it here. Immediate operands
//! are fetched through the bus like any other read, so a machine can map ROM anywhere.

use super::flags::{CY, P, S, Z};
use super::timing::{BRANCH_TAKEN_EXTRA, STATES};
use super::{Bus, Cpu, Exit};

/// Reads the byte at PC and moves PC past it.
#[inline(always)]
fn imm8<B: Bus>(bus: &mut B, pc: &mut u16) -> u8 {
    let v = bus.read(*pc);
    *pc = pc.wrapping_add(1);
    v
}

/// Reads the little-endian word at PC and moves PC past it.
#[inline(always)]
fn imm16<B: Bus>(bus: &mut B, pc: &mut u16) -> u16 {
    let v = bus.read_word(*pc);
    *pc = pc.wrapping_add(2);
    v
}

#[inline(always)]
fn write16<B: Bus>(bus: &mut B, addr: u16, v: u16) {
    let [lo, hi] = v.to_le_bytes();
    bus.write(addr, lo);
    bus.write(addr.wrapping_add(1), hi);
}

/// JMP/Jcc: the address is always fetched; 10 states either way.
#[inline(always)]
fn jump_if<B: Bus>(bus: &mut B, pc: &mut u16, taken: bool) {
    let target = imm16(bus, pc);
    if taken {
        *pc = target;
    }
}

impl Cpu {
    /// CALL/Ccc: 11 states not taken, 17 taken.
    #[inline(always)]
    fn call_if<B: Bus>(&mut self, bus: &mut B, pc: &mut u16, left: &mut i64, taken: bool) {
        let target = imm16(bus, pc);
        if taken {
            *left -= BRANCH_TAKEN_EXTRA;
            self.push(bus, *pc);
            *pc = target;
        }
    }

    /// Rcc: 5 states not taken, 11 taken.
    #[inline(always)]
    fn ret_if<B: Bus>(&mut self, bus: &mut B, pc: &mut u16, left: &mut i64, taken: bool) {
        if taken {
            *left -= BRANCH_TAKEN_EXTRA;
            *pc = self.pop(bus);
        }
    }

    /// Runs instructions until `cycles` reaches `end`, a HLT, or a bus yield.
    ///
    /// PC, the states left in the batch and the instruction count live in locals: they
    /// change every instruction, and keeping them out of `self` keeps them in host
    /// registers (measured with callgrind on CPUTEST; figures in the README).
    #[inline(always)]
    pub(super) fn execute<B: Bus>(&mut self, bus: &mut B, end: u64) -> Exit {
        let mut end = end;
        let mut left = end.saturating_sub(self.cycles).min(i64::MAX as u64) as i64;
        let mut pc = self.pc;
        let mut count = 0u64;
        let exit = loop {
            if left <= 0 {
                break Exit::Budget;
            }
            let op = imm8(bus, &mut pc);
            left -= STATES[op as usize] as i64;
            count += 1;
            match op {
                // --- 0x00-0x3F: loads, increments, rotates, 16-bit arithmetic ---
                0x00 => {}                                           // NOP
                0x08 | 0x10 | 0x18 | 0x20 | 0x28 | 0x30 | 0x38 => {} // *NOP (undocumented)
                0x01 => {
                    let v = imm16(bus, &mut pc);
                    self.set_bc(v)
                } // LXI B
                0x11 => {
                    let v = imm16(bus, &mut pc);
                    self.set_de(v)
                } // LXI D
                0x21 => {
                    let v = imm16(bus, &mut pc);
                    self.set_hl(v)
                } // LXI H
                0x31 => self.sp = imm16(bus, &mut pc),               // LXI SP
                0x02 => bus.write(self.bc(), self.a),                // STAX B
                0x12 => bus.write(self.de(), self.a),                // STAX D
                0x0A => self.a = bus.read(self.bc()),                // LDAX B
                0x1A => self.a = bus.read(self.de()),                // LDAX D
                0x22 => {
                    let addr = imm16(bus, &mut pc);
                    write16(bus, addr, self.hl())
                } // SHLD
                0x2A => {
                    let addr = imm16(bus, &mut pc);
                    let v = bus.read_word(addr);
                    self.set_hl(v)
                } // LHLD
                0x32 => {
                    let addr = imm16(bus, &mut pc);
                    bus.write(addr, self.a)
                } // STA
                0x3A => {
                    let addr = imm16(bus, &mut pc);
                    self.a = bus.read(addr)
                } // LDA
                0x03 => self.set_bc(self.bc().wrapping_add(1)),      // INX B
                0x13 => self.set_de(self.de().wrapping_add(1)),      // INX D
                0x23 => self.set_hl(self.hl().wrapping_add(1)),      // INX H
                0x33 => self.sp = self.sp.wrapping_add(1),           // INX SP
                0x0B => self.set_bc(self.bc().wrapping_sub(1)),      // DCX B
                0x1B => self.set_de(self.de().wrapping_sub(1)),      // DCX D
                0x2B => self.set_hl(self.hl().wrapping_sub(1)),      // DCX H
                0x3B => self.sp = self.sp.wrapping_sub(1),           // DCX SP
                0x09 => self.dad(self.bc()),                         // DAD B
                0x19 => self.dad(self.de()),                         // DAD D
                0x29 => self.dad(self.hl()),                         // DAD H
                0x39 => self.dad(self.sp),                           // DAD SP
                0x04 => self.b = self.inr(self.b),                   // INR B
                0x0C => self.c = self.inr(self.c),                   // INR C
                0x14 => self.d = self.inr(self.d),                   // INR D
                0x1C => self.e = self.inr(self.e),                   // INR E
                0x24 => self.h = self.inr(self.h),                   // INR H
                0x2C => self.l = self.inr(self.l),                   // INR L
                0x34 => {
                    let hl = self.hl();
                    let v = self.inr(bus.read(hl));
                    bus.write(hl, v)
                } // INR M
                0x3C => self.a = self.inr(self.a),                   // INR A
                0x05 => self.b = self.dcr(self.b),                   // DCR B
                0x0D => self.c = self.dcr(self.c),                   // DCR C
                0x15 => self.d = self.dcr(self.d),                   // DCR D
                0x1D => self.e = self.dcr(self.e),                   // DCR E
                0x25 => self.h = self.dcr(self.h),                   // DCR H
                0x2D => self.l = self.dcr(self.l),                   // DCR L
                0x35 => {
                    let hl = self.hl();
                    let v = self.dcr(bus.read(hl));
                    bus.write(hl, v)
                } // DCR M
                0x3D => self.a = self.dcr(self.a),                   // DCR A
                0x06 => self.b = imm8(bus, &mut pc),                 // MVI B
                0x0E => self.c = imm8(bus, &mut pc),                 // MVI C
                0x16 => self.d = imm8(bus, &mut pc),                 // MVI D
                0x1E => self.e = imm8(bus, &mut pc),                 // MVI E
                0x26 => self.h = imm8(bus, &mut pc),                 // MVI H
                0x2E => self.l = imm8(bus, &mut pc),                 // MVI L
                0x36 => {
                    let v = imm8(bus, &mut pc);
                    bus.write(self.hl(), v)
                } // MVI M
                0x3E => self.a = imm8(bus, &mut pc),                 // MVI A
                0x07 => {
                    let cy = self.a >> 7;
                    self.a = self.a.rotate_left(1);
                    self.f = (self.f & !CY) | cy
                } // RLC
                0x0F => {
                    let cy = self.a & 1;
                    self.a = self.a.rotate_right(1);
                    self.f = (self.f & !CY) | cy
                } // RRC
                0x17 => {
                    let cy = self.a >> 7;
                    self.a = (self.a << 1) | (self.f & CY);
                    self.f = (self.f & !CY) | cy
                } // RAL
                0x1F => {
                    let cy = self.a & 1;
                    self.a = (self.a >> 1) | ((self.f & CY) << 7);
                    self.f = (self.f & !CY) | cy
                } // RAR
                0x27 => self.daa(),                                  // DAA
                0x2F => self.a = !self.a,                            // CMA
                0x37 => self.f |= CY,                                // STC
                0x3F => self.f ^= CY,                                // CMC

                // --- 0x40-0x7F: MOV dst,src and HLT ---
                0x76 => {
                    // HLT: PC stays past the HLT, as on the chip.
                    self.halted = true;
                    break Exit::Halt;
                }
                0x40 => {}                                               // MOV B,B
                0x41 => self.b = self.c,                                 // MOV B,C
                0x42 => self.b = self.d,                                 // MOV B,D
                0x43 => self.b = self.e,                                 // MOV B,E
                0x44 => self.b = self.h,                                 // MOV B,H
                0x45 => self.b = self.l,                                 // MOV B,L
                0x46 => self.b = bus.read(self.hl()),                    // MOV B,M
                0x47 => self.b = self.a,                                 // MOV B,A
                0x48 => self.c = self.b,                                 // MOV C,B
                0x49 => {}                                               // MOV C,C
                0x4A => self.c = self.d,                                 // MOV C,D
                0x4B => self.c = self.e,                                 // MOV C,E
                0x4C => self.c = self.h,                                 // MOV C,H
                0x4D => self.c = self.l,                                 // MOV C,L
                0x4E => self.c = bus.read(self.hl()),                    // MOV C,M
                0x4F => self.c = self.a,                                 // MOV C,A
                0x50 => self.d = self.b,                                 // MOV D,B
                0x51 => self.d = self.c,                                 // MOV D,C
                0x52 => {}                                               // MOV D,D
                0x53 => self.d = self.e,                                 // MOV D,E
                0x54 => self.d = self.h,                                 // MOV D,H
                0x55 => self.d = self.l,                                 // MOV D,L
                0x56 => self.d = bus.read(self.hl()),                    // MOV D,M
                0x57 => self.d = self.a,                                 // MOV D,A
                0x58 => self.e = self.b,                                 // MOV E,B
                0x59 => self.e = self.c,                                 // MOV E,C
                0x5A => self.e = self.d,                                 // MOV E,D
                0x5B => {}                                               // MOV E,E
                0x5C => self.e = self.h,                                 // MOV E,H
                0x5D => self.e = self.l,                                 // MOV E,L
                0x5E => self.e = bus.read(self.hl()),                    // MOV E,M
                0x5F => self.e = self.a,                                 // MOV E,A
                0x60 => self.h = self.b,                                 // MOV H,B
                0x61 => self.h = self.c,                                 // MOV H,C
                0x62 => self.h = self.d,                                 // MOV H,D
                0x63 => self.h = self.e,                                 // MOV H,E
                0x64 => {}                                               // MOV H,H
                0x65 => self.h = self.l,                                 // MOV H,L
                0x66 => self.h = bus.read(self.hl()),                    // MOV H,M
                0x67 => self.h = self.a,                                 // MOV H,A
                0x68 => self.l = self.b,                                 // MOV L,B
                0x69 => self.l = self.c,                                 // MOV L,C
                0x6A => self.l = self.d,                                 // MOV L,D
                0x6B => self.l = self.e,                                 // MOV L,E
                0x6C => self.l = self.h,                                 // MOV L,H
                0x6D => {}                                               // MOV L,L
                0x6E => self.l = bus.read(self.hl()),                    // MOV L,M
                0x6F => self.l = self.a,                                 // MOV L,A
                0x70 => bus.write(self.hl(), self.b),                    // MOV M,B
                0x71 => bus.write(self.hl(), self.c),                    // MOV M,C
                0x72 => bus.write(self.hl(), self.d),                    // MOV M,D
                0x73 => bus.write(self.hl(), self.e),                    // MOV M,E
                0x74 => bus.write(self.hl(), self.h),                    // MOV M,H
                0x75 => bus.write(self.hl(), self.l),                    // MOV M,L
                0x77 => bus.write(self.hl(), self.a),                    // MOV M,A
                0x78 => self.a = self.b,                                 // MOV A,B
                0x79 => self.a = self.c,                                 // MOV A,C
                0x7A => self.a = self.d,                                 // MOV A,D
                0x7B => self.a = self.e,                                 // MOV A,E
                0x7C => self.a = self.h,                                 // MOV A,H
                0x7D => self.a = self.l,                                 // MOV A,L
                0x7E => self.a = bus.read(self.hl()),                    // MOV A,M
                0x7F => {}                                               // MOV A,A
                0x80 => self.add_with(self.b, 0),                        // ADD B
                0x81 => self.add_with(self.c, 0),                        // ADD C
                0x82 => self.add_with(self.d, 0),                        // ADD D
                0x83 => self.add_with(self.e, 0),                        // ADD E
                0x84 => self.add_with(self.h, 0),                        // ADD H
                0x85 => self.add_with(self.l, 0),                        // ADD L
                0x86 => self.add_with(bus.read(self.hl()), 0),           // ADD M
                0x87 => self.add_with(self.a, 0),                        // ADD A
                0x88 => self.add_with(self.b, self.f & CY),              // ADC B
                0x89 => self.add_with(self.c, self.f & CY),              // ADC C
                0x8A => self.add_with(self.d, self.f & CY),              // ADC D
                0x8B => self.add_with(self.e, self.f & CY),              // ADC E
                0x8C => self.add_with(self.h, self.f & CY),              // ADC H
                0x8D => self.add_with(self.l, self.f & CY),              // ADC L
                0x8E => self.add_with(bus.read(self.hl()), self.f & CY), // ADC M
                0x8F => self.add_with(self.a, self.f & CY),              // ADC A
                0x90 => self.a = self.sub_with(self.b, 0),               // SUB B
                0x91 => self.a = self.sub_with(self.c, 0),               // SUB C
                0x92 => self.a = self.sub_with(self.d, 0),               // SUB D
                0x93 => self.a = self.sub_with(self.e, 0),               // SUB E
                0x94 => self.a = self.sub_with(self.h, 0),               // SUB H
                0x95 => self.a = self.sub_with(self.l, 0),               // SUB L
                0x96 => self.a = self.sub_with(bus.read(self.hl()), 0),  // SUB M
                0x97 => self.a = self.sub_with(self.a, 0),               // SUB A
                0x98 => self.a = self.sub_with(self.b, self.f & CY),     // SBB B
                0x99 => self.a = self.sub_with(self.c, self.f & CY),     // SBB C
                0x9A => self.a = self.sub_with(self.d, self.f & CY),     // SBB D
                0x9B => self.a = self.sub_with(self.e, self.f & CY),     // SBB E
                0x9C => self.a = self.sub_with(self.h, self.f & CY),     // SBB H
                0x9D => self.a = self.sub_with(self.l, self.f & CY),     // SBB L
                0x9E => self.a = self.sub_with(bus.read(self.hl()), self.f & CY), // SBB M
                0x9F => self.a = self.sub_with(self.a, self.f & CY),     // SBB A
                0xA0 => self.and(self.b),                                // ANA B
                0xA1 => self.and(self.c),                                // ANA C
                0xA2 => self.and(self.d),                                // ANA D
                0xA3 => self.and(self.e),                                // ANA E
                0xA4 => self.and(self.h),                                // ANA H
                0xA5 => self.and(self.l),                                // ANA L
                0xA6 => self.and(bus.read(self.hl())),                   // ANA M
                0xA7 => self.and(self.a),                                // ANA A
                0xA8 => self.xor(self.b),                                // XRA B
                0xA9 => self.xor(self.c),                                // XRA C
                0xAA => self.xor(self.d),                                // XRA D
                0xAB => self.xor(self.e),                                // XRA E
                0xAC => self.xor(self.h),                                // XRA H
                0xAD => self.xor(self.l),                                // XRA L
                0xAE => self.xor(bus.read(self.hl())),                   // XRA M
                0xAF => self.xor(self.a),                                // XRA A
                0xB0 => self.or(self.b),                                 // ORA B
                0xB1 => self.or(self.c),                                 // ORA C
                0xB2 => self.or(self.d),                                 // ORA D
                0xB3 => self.or(self.e),                                 // ORA E
                0xB4 => self.or(self.h),                                 // ORA H
                0xB5 => self.or(self.l),                                 // ORA L
                0xB6 => self.or(bus.read(self.hl())),                    // ORA M
                0xB7 => self.or(self.a),                                 // ORA A
                0xB8 => {
                    self.sub_with(self.b, 0);
                } // CMP B
                0xB9 => {
                    self.sub_with(self.c, 0);
                } // CMP C
                0xBA => {
                    self.sub_with(self.d, 0);
                } // CMP D
                0xBB => {
                    self.sub_with(self.e, 0);
                } // CMP E
                0xBC => {
                    self.sub_with(self.h, 0);
                } // CMP H
                0xBD => {
                    self.sub_with(self.l, 0);
                } // CMP L
                0xBE => {
                    self.sub_with(bus.read(self.hl()), 0);
                } // CMP M
                0xBF => {
                    self.sub_with(self.a, 0);
                } // CMP A

                // --- 0xC0-0xFF: branches, stack, immediates, I/O, interrupts ---
                0xC3 | 0xCB => jump_if(bus, &mut pc, true), // JMP, *JMP (0xCB)
                0xC2 => jump_if(bus, &mut pc, self.f & Z == 0), // JNZ
                0xCA => jump_if(bus, &mut pc, self.f & Z != 0), // JZ
                0xD2 => jump_if(bus, &mut pc, self.f & CY == 0), // JNC
                0xDA => jump_if(bus, &mut pc, self.f & CY != 0), // JC
                0xE2 => jump_if(bus, &mut pc, self.f & P == 0), // JPO
                0xEA => jump_if(bus, &mut pc, self.f & P != 0), // JPE
                0xF2 => jump_if(bus, &mut pc, self.f & S == 0), // JP
                0xFA => jump_if(bus, &mut pc, self.f & S != 0), // JM
                // CALL is 17 states in the table, so call_if's taken path must not add again.
                0xCD | 0xDD | 0xED | 0xFD => {
                    let target = imm16(bus, &mut pc);
                    self.push(bus, pc);
                    pc = target
                } // CALL, *CALL
                0xC4 => self.call_if(bus, &mut pc, &mut left, self.f & Z == 0), // CNZ
                0xCC => self.call_if(bus, &mut pc, &mut left, self.f & Z != 0), // CZ
                0xD4 => self.call_if(bus, &mut pc, &mut left, self.f & CY == 0), // CNC
                0xDC => self.call_if(bus, &mut pc, &mut left, self.f & CY != 0), // CC
                0xE4 => self.call_if(bus, &mut pc, &mut left, self.f & P == 0), // CPO
                0xEC => self.call_if(bus, &mut pc, &mut left, self.f & P != 0), // CPE
                0xF4 => self.call_if(bus, &mut pc, &mut left, self.f & S == 0), // CP
                0xFC => self.call_if(bus, &mut pc, &mut left, self.f & S != 0), // CM
                0xC9 | 0xD9 => pc = self.pop(bus),                              // RET, *RET (0xD9)
                0xC0 => self.ret_if(bus, &mut pc, &mut left, self.f & Z == 0),  // RNZ
                0xC8 => self.ret_if(bus, &mut pc, &mut left, self.f & Z != 0),  // RZ
                0xD0 => self.ret_if(bus, &mut pc, &mut left, self.f & CY == 0), // RNC
                0xD8 => self.ret_if(bus, &mut pc, &mut left, self.f & CY != 0), // RC
                0xE0 => self.ret_if(bus, &mut pc, &mut left, self.f & P == 0),  // RPO
                0xE8 => self.ret_if(bus, &mut pc, &mut left, self.f & P != 0),  // RPE
                0xF0 => self.ret_if(bus, &mut pc, &mut left, self.f & S == 0),  // RP
                0xF8 => self.ret_if(bus, &mut pc, &mut left, self.f & S != 0),  // RM
                0xC7 => {
                    self.push(bus, pc);
                    pc = 0x00
                } // RST 0
                0xCF => {
                    self.push(bus, pc);
                    pc = 0x08
                } // RST 1
                0xD7 => {
                    self.push(bus, pc);
                    pc = 0x10
                } // RST 2
                0xDF => {
                    self.push(bus, pc);
                    pc = 0x18
                } // RST 3
                0xE7 => {
                    self.push(bus, pc);
                    pc = 0x20
                } // RST 4
                0xEF => {
                    self.push(bus, pc);
                    pc = 0x28
                } // RST 5
                0xF7 => {
                    self.push(bus, pc);
                    pc = 0x30
                } // RST 6
                0xFF => {
                    self.push(bus, pc);
                    pc = 0x38
                } // RST 7
                0xC1 => {
                    let v = self.pop(bus);
                    self.set_bc(v)
                } // POP B
                0xD1 => {
                    let v = self.pop(bus);
                    self.set_de(v)
                } // POP D
                0xE1 => {
                    let v = self.pop(bus);
                    self.set_hl(v)
                } // POP H
                0xF1 => {
                    let v = self.pop(bus);
                    self.set_psw(v)
                } // POP PSW
                0xC5 => self.push(bus, self.bc()),                              // PUSH B
                0xD5 => self.push(bus, self.de()),                              // PUSH D
                0xE5 => self.push(bus, self.hl()),                              // PUSH H
                0xF5 => self.push(bus, self.psw()),                             // PUSH PSW
                0xE3 => {
                    // XTHL
                    let top = bus.read_word(self.sp);
                    write16(bus, self.sp, self.hl());
                    self.set_hl(top);
                }
                0xE9 => pc = self.hl(),      // PCHL
                0xF9 => self.sp = self.hl(), // SPHL
                0xEB => {
                    core::mem::swap(&mut self.d, &mut self.h);
                    core::mem::swap(&mut self.e, &mut self.l)
                } // XCHG
                0xC6 => {
                    let v = imm8(bus, &mut pc);
                    self.add_with(v, 0)
                } // ADI
                0xCE => {
                    let v = imm8(bus, &mut pc);
                    self.add_with(v, self.f & CY)
                } // ACI
                0xD6 => {
                    let v = imm8(bus, &mut pc);
                    self.a = self.sub_with(v, 0)
                } // SUI
                0xDE => {
                    let v = imm8(bus, &mut pc);
                    self.a = self.sub_with(v, self.f & CY)
                } // SBI
                0xE6 => {
                    let v = imm8(bus, &mut pc);
                    self.and(v)
                } // ANI
                0xEE => {
                    let v = imm8(bus, &mut pc);
                    self.xor(v)
                } // XRI
                0xF6 => {
                    let v = imm8(bus, &mut pc);
                    self.or(v)
                } // ORI
                0xFE => {
                    let v = imm8(bus, &mut pc);
                    self.sub_with(v, 0);
                } // CPI
                0xD3 => {
                    // OUT port
                    let port = imm8(bus, &mut pc);
                    let start = (end as i64 - left) as u64 - STATES[0xD3] as u64;
                    bus.output(port, self.a, start);
                    if bus.yield_requested() {
                        break Exit::Yield;
                    }
                }
                0xDB => {
                    // IN port
                    let port = imm8(bus, &mut pc);
                    let start = (end as i64 - left) as u64 - STATES[0xDB] as u64;
                    self.a = bus.input(port, start);
                    if bus.yield_requested() {
                        break Exit::Yield;
                    }
                }
                0xF3 => self.inte = false, // DI
                0xFB => {
                    // EI: interrupts are accepted after the next instruction.
                    self.inte = true;
                    if self.pending_interrupt.is_some() && left > 1 {
                        // Shrink the batch to one more instruction, keeping end - left
                        // (the state count) unchanged.
                        let cut = left - 1;
                        left -= cut;
                        end -= cut as u64;
                    }
                }
            }
        };
        self.pc = pc;
        self.cycles = (end as i64 - left) as u64;
        self.instructions += count;
        exit
    }
}
