//! Intel 8080 disassembler: instruction lengths and Intel-syntax mnemonics.
//!
//! This module owns the mapping from opcode bytes to what a person reads in the monitor
//! and in traces: [`length`] gives the size of any instruction from its opcode, and
//! [`Instruction`] holds one decoded instruction and prints it with `Display`. It never
//! executes anything; the CPU in [`crate::cpu`] does that on its own.
//!
//! Text follows the Intel assembler: upper case, the mnemonic padded to 5 columns and then
//! the operands (`MOV  A,M`, `LXI  H,1234H`, `RST  7`, `NOP`). Numbers are hexadecimal with
//! an `H` suffix, two digits for a byte and four for an address or 16-bit immediate, with a
//! leading `0` when the first digit is a letter (`0FFH`, `0C300H`).
//!
//! The twelve undocumented opcodes are printed as the instruction they behave as, marked
//! with `*` so the reader sees an alias: 0x08 0x10 0x18 0x20 0x28 0x30 0x38 are `*NOP`,
//! 0xCB is `*JMP`, 0xD9 is `*RET` and 0xDD 0xED 0xFD are `*CALL`.
//!
//! Every opcode decodes to something and nothing here panics, so arbitrary memory can be
//! disassembled. The text of one instruction is at most [`MAX_TEXT_LEN`] bytes of ASCII.

use core::fmt::{self, Write};

/// An upper bound, in bytes, on the text `Display` writes for one [`Instruction`] when no
/// width is requested (the longest, `LXI  SP,0FFFFH`, is 14). Size fixed buffers with it.
pub const MAX_TEXT_LEN: usize = 16;

/// One decoded 8080 instruction: its bytes and mnemonic, printable with `Display`.
///
/// The bytes past [`len`](Instruction::len) are stored as zero, so two instructions are
/// equal exactly when their meaningful bytes are. `Display` honours width, fill and
/// alignment (`{:<14}`), which keeps trace columns straight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// Opcode, then up to two operand bytes (little-endian for 16-bit operands); the bytes
    /// past `len` are zero.
    bytes: [u8; 3],
    /// 1, 2 or 3: always `length(bytes[0])`.
    len: u8,
}

impl Instruction {
    /// Decodes the instruction whose opcode is `bytes[0]`; operand bytes follow.
    ///
    /// Every opcode decodes. Bytes beyond the instruction's length are ignored, so the
    /// caller may pass whatever follows the opcode in memory.
    pub fn decode(bytes: [u8; 3]) -> Instruction {
        let len = length(bytes[0]);
        let [opcode, lo, hi] = bytes;
        let bytes = match len {
            1 => [opcode, 0, 0],
            2 => [opcode, lo, 0],
            _ => [opcode, lo, hi],
        };
        Instruction { bytes, len }
    }

    /// Length in bytes: 1, 2 or 3.
    #[allow(
        clippy::len_without_is_empty,
        reason = "an instruction always has at least its opcode byte"
    )]
    pub fn len(self) -> u8 {
        self.len
    }

    /// The opcode byte.
    pub fn opcode(self) -> u8 {
        self.bytes[0]
    }

    /// The instruction's bytes (only the first `len()` are meaningful).
    pub fn bytes(self) -> [u8; 3] {
        self.bytes
    }

    /// The 8-bit operand (second byte).
    fn imm8(self) -> u8 {
        self.bytes[1]
    }

    /// The 16-bit operand (second and third bytes, little-endian).
    fn imm16(self) -> u16 {
        u16::from_le_bytes([self.bytes[1], self.bytes[2]])
    }

    /// Mnemonic and operand shape of the opcode.
    fn parts(self) -> (&'static str, Operands) {
        use Operands::{Imm8, Imm16, Name, NameImm8, NameImm16, None, Regs};

        let op = self.opcode();
        // Fields of the opcode as laid out in the 8080 opcode chart.
        let dst = usize::from((op >> 3) & 7); // destination register, condition or ALU op
        let src = usize::from(op & 7); // source register
        let rp = usize::from((op >> 4) & 3); // register pair

        // Every arm lists its opcodes literally, so the compiler checks that all 256 are
        // covered and none twice.
        match op {
            // Control, no operands.
            0x00 => ("NOP", None),
            0x76 => ("HLT", None), // sits where MOV M,M would be
            0xF3 => ("DI", None),
            0xFB => ("EI", None),

            // Undocumented: behave as NOP.
            0x08 | 0x10 | 0x18 | 0x20 | 0x28 | 0x30 | 0x38 => ("*NOP", None),

            // 8-bit moves and loads.
            0x40..=0x75 | 0x77..=0x7F => ("MOV", Regs(REG[dst], REG[src])),
            0x06 | 0x0E | 0x16 | 0x1E | 0x26 | 0x2E | 0x36 | 0x3E => ("MVI", NameImm8(REG[dst])),
            0x02 | 0x12 => ("STAX", Name(PAIR_SP[rp])),
            0x0A | 0x1A => ("LDAX", Name(PAIR_SP[rp])),
            0x32 => ("STA", Imm16),
            0x3A => ("LDA", Imm16),

            // 16-bit loads, stores and exchanges.
            0x01 | 0x11 | 0x21 | 0x31 => ("LXI", NameImm16(PAIR_SP[rp])),
            0x22 => ("SHLD", Imm16),
            0x2A => ("LHLD", Imm16),
            0xEB => ("XCHG", None),
            0xE3 => ("XTHL", None),
            0xF9 => ("SPHL", None),

            // Stack.
            0xC5 | 0xD5 | 0xE5 | 0xF5 => ("PUSH", Name(PAIR_PSW[rp])),
            0xC1 | 0xD1 | 0xE1 | 0xF1 => ("POP", Name(PAIR_PSW[rp])),

            // 8-bit arithmetic and logic.
            0x80..=0xBF => (ALU[dst], Name(REG[src])),
            0xC6 | 0xCE | 0xD6 | 0xDE | 0xE6 | 0xEE | 0xF6 | 0xFE => (ALU_IMM[dst], Imm8),
            0x04 | 0x0C | 0x14 | 0x1C | 0x24 | 0x2C | 0x34 | 0x3C => ("INR", Name(REG[dst])),
            0x05 | 0x0D | 0x15 | 0x1D | 0x25 | 0x2D | 0x35 | 0x3D => ("DCR", Name(REG[dst])),
            0x27 => ("DAA", None),

            // 16-bit arithmetic.
            0x03 | 0x13 | 0x23 | 0x33 => ("INX", Name(PAIR_SP[rp])),
            0x0B | 0x1B | 0x2B | 0x3B => ("DCX", Name(PAIR_SP[rp])),
            0x09 | 0x19 | 0x29 | 0x39 => ("DAD", Name(PAIR_SP[rp])),

            // Rotates, complements and the carry flag.
            0x07 => ("RLC", None),
            0x0F => ("RRC", None),
            0x17 => ("RAL", None),
            0x1F => ("RAR", None),
            0x2F => ("CMA", None),
            0x37 => ("STC", None),
            0x3F => ("CMC", None),

            // Jumps (0xCB is an undocumented JMP).
            0xC3 => ("JMP", Imm16),
            0xCB => ("*JMP", Imm16),
            0xC2 | 0xCA | 0xD2 | 0xDA | 0xE2 | 0xEA | 0xF2 | 0xFA => (JUMP_IF[dst], Imm16),
            0xE9 => ("PCHL", None),

            // Calls (0xDD, 0xED and 0xFD are undocumented CALLs).
            0xCD => ("CALL", Imm16),
            0xDD | 0xED | 0xFD => ("*CALL", Imm16),
            0xC4 | 0xCC | 0xD4 | 0xDC | 0xE4 | 0xEC | 0xF4 | 0xFC => (CALL_IF[dst], Imm16),

            // Returns (0xD9 is an undocumented RET) and restarts.
            0xC9 => ("RET", None),
            0xD9 => ("*RET", None),
            0xC0 | 0xC8 | 0xD0 | 0xD8 | 0xE0 | 0xE8 | 0xF0 | 0xF8 => (RETURN_IF[dst], None),
            0xC7 | 0xCF | 0xD7 | 0xDF | 0xE7 | 0xEF | 0xF7 | 0xFF => ("RST", Name(DIGIT[dst])),

            // Input and output.
            0xDB => ("IN", Imm8),
            0xD3 => ("OUT", Imm8),
        }
    }

    /// Writes the instruction's text, without any width padding, to `w`.
    fn write_text<W: Write>(self, w: &mut W) -> fmt::Result {
        let (mnemonic, operands) = self.parts();
        if let Operands::None = operands {
            return w.write_str(mnemonic);
        }
        // Pad the mnemonic to 5 columns, always leaving at least one space (`*CALL`).
        write!(w, "{mnemonic:<4} ")?;
        match operands {
            Operands::None => Ok(()),
            Operands::Name(name) => w.write_str(name),
            Operands::Regs(dst, src) => write!(w, "{dst},{src}"),
            Operands::NameImm8(name) => {
                write!(w, "{name},")?;
                write_hex8(w, self.imm8())
            }
            Operands::NameImm16(name) => {
                write!(w, "{name},")?;
                write_hex16(w, self.imm16())
            }
            Operands::Imm8 => write_hex8(w, self.imm8()),
            Operands::Imm16 => write_hex16(w, self.imm16()),
        }
    }
}

/// Length in bytes (1-3) of the instruction whose first byte is `opcode`.
pub const fn length(opcode: u8) -> u8 {
    match opcode {
        // LXI rp,d16; SHLD, LHLD, STA, LDA addr.
        0x01 | 0x11 | 0x21 | 0x31 | 0x22 | 0x2A | 0x32 | 0x3A => 3,
        // JMP and Jcc addr, with the undocumented JMP 0xCB.
        0xC3 | 0xCB | 0xC2 | 0xCA | 0xD2 | 0xDA | 0xE2 | 0xEA | 0xF2 | 0xFA => 3,
        // CALL and Ccc addr, with the undocumented CALLs 0xDD 0xED 0xFD.
        0xCD | 0xDD | 0xED | 0xFD | 0xC4 | 0xCC | 0xD4 | 0xDC | 0xE4 | 0xEC | 0xF4 | 0xFC => 3,
        // MVI r,d8.
        0x06 | 0x0E | 0x16 | 0x1E | 0x26 | 0x2E | 0x36 | 0x3E => 2,
        // ADI ACI SUI SBI ANI XRI ORI CPI d8.
        0xC6 | 0xCE | 0xD6 | 0xDE | 0xE6 | 0xEE | 0xF6 | 0xFE => 2,
        // IN and OUT port.
        0xDB | 0xD3 => 2,
        // Everything else, including RST and the undocumented NOPs and RET.
        _ => 1,
    }
}

impl fmt::Display for Instruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Build the text first so `pad` can apply the caller's width and alignment.
        let mut text = Text::new();
        self.write_text(&mut text)?;
        f.pad(text.as_str())
    }
}

/// Operand shapes; the immediates come from the instruction's own bytes.
#[derive(Clone, Copy)]
enum Operands {
    /// No operands: `NOP`.
    None,
    /// A register, register pair or restart number: `INR  A`, `PUSH PSW`, `RST  7`.
    Name(&'static str),
    /// Destination and source registers: `MOV  A,M`.
    Regs(&'static str, &'static str),
    /// A register, then a byte: `MVI  B,3EH`.
    NameImm8(&'static str),
    /// A register pair, then a 16-bit value: `LXI  H,1234H`.
    NameImm16(&'static str),
    /// A byte: `ADI  0FFH`, `IN   10H`.
    Imm8,
    /// An address: `JMP  0C300H`.
    Imm16,
}

/// Registers by their 3-bit code.
const REG: [&str; 8] = ["B", "C", "D", "E", "H", "L", "M", "A"];
/// Register pairs by their 2-bit code, for LXI, INX, DCX, DAD, LDAX and STAX.
const PAIR_SP: [&str; 4] = ["B", "D", "H", "SP"];
/// Register pairs by their 2-bit code, for PUSH and POP.
const PAIR_PSW: [&str; 4] = ["B", "D", "H", "PSW"];
/// ALU operations with a register operand, by their 3-bit code.
const ALU: [&str; 8] = ["ADD", "ADC", "SUB", "SBB", "ANA", "XRA", "ORA", "CMP"];
/// ALU operations with an immediate operand, by their 3-bit code.
const ALU_IMM: [&str; 8] = ["ADI", "ACI", "SUI", "SBI", "ANI", "XRI", "ORI", "CPI"];
/// Conditional jumps, by condition code (NZ Z NC C PO PE P M).
const JUMP_IF: [&str; 8] = ["JNZ", "JZ", "JNC", "JC", "JPO", "JPE", "JP", "JM"];
/// Conditional calls, by condition code.
const CALL_IF: [&str; 8] = ["CNZ", "CZ", "CNC", "CC", "CPO", "CPE", "CP", "CM"];
/// Conditional returns, by condition code.
const RETURN_IF: [&str; 8] = ["RNZ", "RZ", "RNC", "RC", "RPO", "RPE", "RP", "RM"];
/// Restart numbers.
const DIGIT: [&str; 8] = ["0", "1", "2", "3", "4", "5", "6", "7"];

/// Writes a byte as Intel hex: `3EH`, `0FFH`.
fn write_hex8<W: Write>(w: &mut W, value: u8) -> fmt::Result {
    let zero = if value >= 0xA0 { "0" } else { "" };
    write!(w, "{zero}{value:02X}H")
}

/// Writes a 16-bit value as Intel hex: `1234H`, `0C300H`.
fn write_hex16<W: Write>(w: &mut W, value: u16) -> fmt::Result {
    let zero = if value >= 0xA000 { "0" } else { "" };
    write!(w, "{zero}{value:04X}H")
}

/// A fixed buffer for one instruction's text.
struct Text {
    buf: [u8; MAX_TEXT_LEN],
    len: usize,
}

impl Text {
    fn new() -> Self {
        Text {
            buf: [0; MAX_TEXT_LEN],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in, so the bytes are valid UTF-8.
        self.buf
            .get(..self.len)
            .and_then(|bytes| core::str::from_utf8(bytes).ok())
            .unwrap_or_default()
    }
}

impl Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lengths of all 256 opcodes, transcribed from the Intel 8080 opcode chart (rows are
    /// the high nibble), with the undocumented opcodes sized as the instruction they alias.
    #[rustfmt::skip]
    const OFFICIAL_LENGTHS: [u8; 256] = [
        // 0  1  2  3  4  5  6  7  8  9  A  B  C  D  E  F
        1, 3, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 2, 1, // 0x
        1, 3, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 2, 1, // 1x
        1, 3, 3, 1, 1, 1, 2, 1, 1, 1, 3, 1, 1, 1, 2, 1, // 2x
        1, 3, 3, 1, 1, 1, 2, 1, 1, 1, 3, 1, 1, 1, 2, 1, // 3x
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 4x
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 5x
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 6x
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 7x
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 8x
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 9x
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // Ax
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // Bx
        1, 1, 3, 3, 3, 1, 2, 1, 1, 1, 3, 3, 3, 3, 2, 1, // Cx
        1, 1, 3, 2, 3, 1, 2, 1, 1, 1, 3, 2, 3, 3, 2, 1, // Dx
        1, 1, 3, 1, 3, 1, 2, 1, 1, 1, 3, 1, 3, 3, 2, 1, // Ex
        1, 1, 3, 1, 3, 1, 2, 1, 1, 1, 3, 1, 3, 3, 2, 1, // Fx
    ];

    /// The undocumented opcodes and the text each prints with operands 34H 12H.
    const UNDOCUMENTED: [(u8, &str, u8); 12] = [
        (0x08, "*NOP", 1),
        (0x10, "*NOP", 1),
        (0x18, "*NOP", 1),
        (0x20, "*NOP", 1),
        (0x28, "*NOP", 1),
        (0x30, "*NOP", 1),
        (0x38, "*NOP", 1),
        (0xCB, "*JMP 1234H", 3),
        (0xD9, "*RET", 1),
        (0xDD, "*CALL 1234H", 3),
        (0xED, "*CALL 1234H", 3),
        (0xFD, "*CALL 1234H", 3),
    ];

    /// Operand bytes that hit every hex-formatting edge (leading zero or not).
    const EDGE_BYTES: [u8; 6] = [0x00, 0x09, 0x0A, 0x9F, 0xA0, 0xFF];

    /// A `fmt::Write` into a fixed 32-byte buffer; a write that does not fit fails.
    struct Buf {
        bytes: [u8; 32],
        len: usize,
    }

    impl Buf {
        fn as_str(&self) -> &str {
            core::str::from_utf8(&self.bytes[..self.len]).unwrap()
        }
    }

    impl Write for Buf {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.len + s.len();
            let dst = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
            dst.copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }

    /// Formats `args` into a fresh buffer.
    fn render(args: fmt::Arguments<'_>) -> Buf {
        let mut buf = Buf {
            bytes: [0; 32],
            len: 0,
        };
        buf.write_fmt(args).expect("text fits in 32 bytes");
        buf
    }

    /// The text of the instruction made of `bytes`.
    fn text(bytes: [u8; 3]) -> Buf {
        render(format_args!("{}", Instruction::decode(bytes)))
    }

    /// Asserts the text of each `(bytes, expected)` case.
    fn check(cases: &[([u8; 3], &str)]) {
        for &(bytes, expected) in cases {
            assert_eq!(text(bytes).as_str(), expected, "bytes {bytes:02X?}");
        }
    }

    #[test]
    fn every_opcode_has_the_official_length() {
        for op in 0..=255u8 {
            let len = Instruction::decode([op, 0, 0]).len();
            assert!((1..=3).contains(&len), "opcode {op:02X}: length {len}");
            assert_eq!(len, OFFICIAL_LENGTHS[usize::from(op)], "opcode {op:02X}");
        }
    }

    #[test]
    fn length_agrees_with_decode_for_every_opcode() {
        for op in 0..=255u8 {
            for bytes in [[op, 0, 0], [op, 0xFF, 0xFF], [op, 0x12, 0x34]] {
                assert_eq!(
                    length(op),
                    Instruction::decode(bytes).len(),
                    "opcode {op:02X}"
                );
            }
        }
    }

    #[test]
    fn length_is_usable_in_const_context() {
        const JMP_LEN: u8 = length(0xC3);
        assert_eq!(JMP_LEN, 3);
    }

    #[test]
    fn decode_keeps_the_meaningful_bytes_and_zeroes_the_rest() {
        for op in 0..=255u8 {
            let insn = Instruction::decode([op, 0xAB, 0xCD]);
            assert_eq!(insn.opcode(), op);
            let expected = match insn.len() {
                1 => [op, 0, 0],
                2 => [op, 0xAB, 0],
                _ => [op, 0xAB, 0xCD],
            };
            assert_eq!(insn.bytes(), expected, "opcode {op:02X}");
        }
    }

    #[test]
    fn instructions_are_equal_when_their_meaningful_bytes_are() {
        assert_eq!(
            Instruction::decode([0x00, 1, 2]),
            Instruction::decode([0x00, 3, 4])
        );
        assert_eq!(
            Instruction::decode([0x3E, 7, 1]),
            Instruction::decode([0x3E, 7, 2])
        );
        assert_ne!(
            Instruction::decode([0x3E, 7, 1]),
            Instruction::decode([0x3E, 8, 1])
        );
        assert_ne!(
            Instruction::decode([0xC3, 0, 1]),
            Instruction::decode([0xC3, 0, 2])
        );
    }

    #[test]
    fn text_of_control_and_misc_one_byte_instructions() {
        check(&[
            ([0x00, 0x12, 0x34], "NOP"),
            ([0x76, 0, 0], "HLT"),
            ([0xF3, 0, 0], "DI"),
            ([0xFB, 0, 0], "EI"),
            ([0x27, 0, 0], "DAA"),
            ([0x07, 0, 0], "RLC"),
            ([0x0F, 0, 0], "RRC"),
            ([0x17, 0, 0], "RAL"),
            ([0x1F, 0, 0], "RAR"),
            ([0x2F, 0, 0], "CMA"),
            ([0x37, 0, 0], "STC"),
            ([0x3F, 0, 0], "CMC"),
            ([0xEB, 0, 0], "XCHG"),
            ([0xE3, 0, 0], "XTHL"),
            ([0xF9, 0, 0], "SPHL"),
            ([0xE9, 0, 0], "PCHL"),
        ]);
    }

    #[test]
    fn text_of_mov() {
        check(&[
            ([0x40, 0, 0], "MOV  B,B"),
            ([0x41, 0, 0], "MOV  B,C"),
            ([0x4A, 0, 0], "MOV  C,D"),
            ([0x53, 0, 0], "MOV  D,E"),
            ([0x5C, 0, 0], "MOV  E,H"),
            ([0x65, 0, 0], "MOV  H,L"),
            ([0x6E, 0, 0], "MOV  L,M"),
            ([0x77, 0, 0], "MOV  M,A"),
            ([0x75, 0, 0], "MOV  M,L"),
            ([0x7E, 0, 0], "MOV  A,M"),
            ([0x7F, 0, 0], "MOV  A,A"),
        ]);
    }

    #[test]
    fn text_of_register_alu_and_inr_dcr() {
        check(&[
            ([0x80, 0, 0], "ADD  B"),
            ([0x89, 0, 0], "ADC  C"),
            ([0x92, 0, 0], "SUB  D"),
            ([0x9B, 0, 0], "SBB  E"),
            ([0xA4, 0, 0], "ANA  H"),
            ([0xAD, 0, 0], "XRA  L"),
            ([0xB6, 0, 0], "ORA  M"),
            ([0xBF, 0, 0], "CMP  A"),
            ([0x04, 0, 0], "INR  B"),
            ([0x34, 0, 0], "INR  M"),
            ([0x3C, 0, 0], "INR  A"),
            ([0x0D, 0, 0], "DCR  C"),
            ([0x35, 0, 0], "DCR  M"),
            ([0x3D, 0, 0], "DCR  A"),
        ]);
    }

    #[test]
    fn text_of_register_pair_instructions() {
        check(&[
            ([0x03, 0, 0], "INX  B"),
            ([0x13, 0, 0], "INX  D"),
            ([0x23, 0, 0], "INX  H"),
            ([0x33, 0, 0], "INX  SP"),
            ([0x0B, 0, 0], "DCX  B"),
            ([0x3B, 0, 0], "DCX  SP"),
            ([0x09, 0, 0], "DAD  B"),
            ([0x19, 0, 0], "DAD  D"),
            ([0x29, 0, 0], "DAD  H"),
            ([0x39, 0, 0], "DAD  SP"),
            ([0x02, 0, 0], "STAX B"),
            ([0x12, 0, 0], "STAX D"),
            ([0x0A, 0, 0], "LDAX B"),
            ([0x1A, 0, 0], "LDAX D"),
            ([0xC5, 0, 0], "PUSH B"),
            ([0xD5, 0, 0], "PUSH D"),
            ([0xE5, 0, 0], "PUSH H"),
            ([0xF5, 0, 0], "PUSH PSW"),
            ([0xC1, 0, 0], "POP  B"),
            ([0xD1, 0, 0], "POP  D"),
            ([0xE1, 0, 0], "POP  H"),
            ([0xF1, 0, 0], "POP  PSW"),
        ]);
    }

    #[test]
    fn text_of_returns_and_restarts() {
        check(&[
            ([0xC9, 0x12, 0x34], "RET"),
            ([0xC0, 0, 0], "RNZ"),
            ([0xC8, 0, 0], "RZ"),
            ([0xD0, 0, 0], "RNC"),
            ([0xD8, 0, 0], "RC"),
            ([0xE0, 0, 0], "RPO"),
            ([0xE8, 0, 0], "RPE"),
            ([0xF0, 0, 0], "RP"),
            ([0xF8, 0, 0], "RM"),
            ([0xC7, 0, 0], "RST  0"),
            ([0xCF, 0, 0], "RST  1"),
            ([0xD7, 0, 0], "RST  2"),
            ([0xDF, 0, 0], "RST  3"),
            ([0xE7, 0, 0], "RST  4"),
            ([0xEF, 0, 0], "RST  5"),
            ([0xF7, 0, 0], "RST  6"),
            ([0xFF, 0, 0], "RST  7"),
        ]);
    }

    #[test]
    fn text_of_two_byte_instructions() {
        check(&[
            ([0x06, 0x3E, 0x99], "MVI  B,3EH"),
            ([0x0E, 0x00, 0], "MVI  C,00H"),
            ([0x36, 0xFF, 0], "MVI  M,0FFH"),
            ([0x3E, 0xA0, 0], "MVI  A,0A0H"),
            ([0xC6, 0x01, 0], "ADI  01H"),
            ([0xCE, 0x02, 0], "ACI  02H"),
            ([0xD6, 0x9F, 0], "SUI  9FH"),
            ([0xDE, 0xA0, 0], "SBI  0A0H"),
            ([0xE6, 0x0F, 0], "ANI  0FH"),
            ([0xEE, 0x80, 0], "XRI  80H"),
            ([0xF6, 0xC0, 0], "ORI  0C0H"),
            ([0xFE, 0xFF, 0], "CPI  0FFH"),
            ([0xDB, 0x10, 0], "IN   10H"),
            ([0xDB, 0xFF, 0], "IN   0FFH"),
            ([0xD3, 0x11, 0], "OUT  11H"),
            ([0xD3, 0x0A, 0], "OUT  0AH"),
        ]);
    }

    #[test]
    fn text_of_three_byte_instructions() {
        check(&[
            ([0x01, 0x34, 0x12], "LXI  B,1234H"),
            ([0x11, 0x00, 0x00], "LXI  D,0000H"),
            ([0x21, 0x34, 0x12], "LXI  H,1234H"),
            ([0x31, 0xFF, 0xFF], "LXI  SP,0FFFFH"),
            ([0x22, 0x00, 0x01], "SHLD 0100H"),
            ([0x2A, 0x00, 0xA0], "LHLD 0A000H"),
            ([0x32, 0xFF, 0x9F], "STA  9FFFH"),
            ([0x3A, 0x05, 0x00], "LDA  0005H"),
            ([0xC3, 0x00, 0xC3], "JMP  0C300H"),
            ([0xC2, 0x00, 0x0F], "JNZ  0F00H"),
            ([0xCA, 0x34, 0x12], "JZ   1234H"),
            ([0xD2, 0x34, 0x12], "JNC  1234H"),
            ([0xDA, 0x34, 0x12], "JC   1234H"),
            ([0xE2, 0x34, 0x12], "JPO  1234H"),
            ([0xEA, 0x34, 0x12], "JPE  1234H"),
            ([0xF2, 0x34, 0x12], "JP   1234H"),
            ([0xFA, 0x34, 0x12], "JM   1234H"),
            ([0xCD, 0x05, 0x00], "CALL 0005H"),
            ([0xC4, 0x34, 0x12], "CNZ  1234H"),
            ([0xCC, 0x34, 0x12], "CZ   1234H"),
            ([0xD4, 0x34, 0x12], "CNC  1234H"),
            ([0xDC, 0x34, 0x12], "CC   1234H"),
            ([0xE4, 0x34, 0x12], "CPO  1234H"),
            ([0xEC, 0x34, 0x12], "CPE  1234H"),
            ([0xF4, 0x34, 0x12], "CP   1234H"),
            ([0xFC, 0xEF, 0xBE], "CM   0BEEFH"),
        ]);
    }

    #[test]
    fn hex_gets_a_leading_zero_only_when_it_starts_with_a_letter() {
        let bytes: [(u8, &str); 6] = [
            (0x00, "MVI  A,00H"),
            (0x09, "MVI  A,09H"),
            (0x9F, "MVI  A,9FH"),
            (0xA0, "MVI  A,0A0H"),
            (0xAF, "MVI  A,0AFH"),
            (0xFF, "MVI  A,0FFH"),
        ];
        for (value, expected) in bytes {
            assert_eq!(text([0x3E, value, 0]).as_str(), expected);
        }
        let words: [(u16, &str); 7] = [
            (0x0000, "JMP  0000H"),
            (0x000A, "JMP  000AH"),
            (0x0F00, "JMP  0F00H"),
            (0x9FFF, "JMP  9FFFH"),
            (0xA000, "JMP  0A000H"),
            (0xC300, "JMP  0C300H"),
            (0xFFFF, "JMP  0FFFFH"),
        ];
        for (value, expected) in words {
            let [lo, hi] = value.to_le_bytes();
            assert_eq!(text([0xC3, lo, hi]).as_str(), expected);
        }
    }

    #[test]
    fn undocumented_opcodes_print_as_marked_aliases() {
        for (op, expected, len) in UNDOCUMENTED {
            let insn = Instruction::decode([op, 0x34, 0x12]);
            assert_eq!(text([op, 0x34, 0x12]).as_str(), expected, "opcode {op:02X}");
            assert_eq!(insn.len(), len, "opcode {op:02X}");
        }
        check(&[
            ([0xCB, 0x00, 0xFF], "*JMP 0FF00H"),
            ([0xFD, 0xFF, 0xFF], "*CALL 0FFFFH"),
        ]);
    }

    #[test]
    fn only_the_undocumented_opcodes_are_marked() {
        for op in 0..=255u8 {
            let marked = text([op, 0, 0]).as_str().starts_with('*');
            let undocumented = UNDOCUMENTED.iter().any(|&(u, _, _)| u == op);
            assert_eq!(marked, undocumented, "opcode {op:02X}");
        }
    }

    #[test]
    fn every_text_is_short_and_well_formed() {
        for op in 0..=255u8 {
            for lo in EDGE_BYTES {
                for hi in EDGE_BYTES {
                    let buf = text([op, lo, hi]);
                    let s = buf.as_str();
                    assert!(s.len() <= MAX_TEXT_LEN, "{op:02X}: {s:?} is too long");
                    assert!(!s.is_empty(), "{op:02X}: empty text");
                    assert!(
                        s.bytes()
                            .all(|b| matches!(b, b'A'..=b'Z' | b'0'..=b'9' | b' ' | b',' | b'*')),
                        "{op:02X}: {s:?} has an unexpected character"
                    );
                    assert_eq!(s.trim(), s, "{op:02X}: {s:?} has stray spaces");
                    match s.split_once(' ') {
                        Some((mnemonic, operands)) => {
                            let operands = operands.trim_start();
                            assert!(!operands.contains(' '), "{op:02X}: {s:?}");
                            // The mnemonic is padded to 5 columns, with at least one space.
                            let column = mnemonic.len().max(4) + 1;
                            assert_eq!(s.len() - operands.len(), column, "{op:02X}: {s:?}");
                            // Operand bytes print as exactly one hex number.
                            let numbers = operands.split(',').filter(|t| is_hex_number(t)).count();
                            assert_eq!(numbers, usize::from(length(op) > 1), "{op:02X}: {s:?}");
                        }
                        None => assert_eq!(length(op), 1, "{op:02X}: {s:?} lacks its operand"),
                    }
                }
            }
        }
    }

    /// True for Intel hex like `0FFH`: starts with a digit, hex digits, `H` suffix.
    fn is_hex_number(token: &str) -> bool {
        let Some(digits) = token.strip_suffix('H') else {
            return false;
        };
        digits.starts_with(|c: char| c.is_ascii_digit())
            && (2..=5).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_hexdigit())
    }

    #[test]
    fn display_honours_width_and_alignment() {
        let mvi = Instruction::decode([0x3E, 0x3E, 0]);
        assert_eq!(render(format_args!("{mvi:<12}|")).as_str(), "MVI  A,3EH  |");
        assert_eq!(render(format_args!("{mvi:>12}|")).as_str(), "  MVI  A,3EH|");
        assert_eq!(
            render(format_args!("{:.<5}|", Instruction::decode([0; 3]))).as_str(),
            "NOP..|"
        );
        assert_eq!(render(format_args!("{mvi:3}|")).as_str(), "MVI  A,3EH|");
    }
}
