//! The 8080 flag register and the arithmetic that sets it.
//!
//! [`Cpu::f`](super::Cpu::f) holds the flags packed in the PSW layout (S Z 0 AC 0 P 1 CY).
//! During a batch the execute loop keeps A and the flags in an `Alu` (in host registers)
//! and works the flags out lazily: an operation records its result and what its auxiliary
//! carry depends on, and S, Z, P and AC are derived only when read (conditional branches,
//! `PUSH PSW`, DAA, the end of a batch), with [`SZP`] for parity; carry is kept as a
//! plain 0 or 1. The flag rules are the 8080's (User's Manual chapter 4, and the traps
//! listed in reference.md section 1).

/// Sign flag (bit 7 of the result).
pub const S: u8 = 0x80;
/// Zero flag.
pub const Z: u8 = 0x40;
/// Auxiliary carry: carry out of bit 3.
pub const AC: u8 = 0x10;
/// Parity flag: set when the result has an even number of one bits.
pub const P: u8 = 0x04;
/// Carry flag.
pub const CY: u8 = 0x01;
/// The bits of the flag byte that hold state; bits 1, 3 and 5 are fixed.
pub const MASK: u8 = S | Z | AC | P | CY;
/// Bit 1 of the flag byte always reads as 1 in `PUSH PSW`.
pub const ALWAYS_ONE: u8 = 0x02;

/// Sign, zero and parity flags of every byte value.
pub const SZP: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let v = i as u8;
        let mut f = v & S;
        if v == 0 {
            f |= Z;
        }
        if v.count_ones().is_multiple_of(2) {
            f |= P;
        }
        table[i] = f;
        i += 1;
    }
    table
};

/// `szp` and `aux` (see [`Alu`]) for a PSW-layout flag byte: the result byte is one whose
/// S, Z and P are the wanted ones, or 0 with S and P corrections in the high byte when no
/// byte has them (Z with S, or Z without P).
const fn lazy_form(f: u8) -> (u16, u8) {
    let result = if f & Z != 0 {
        0
    } else {
        // 0x01 has S and P clear; 0x80 sets S, 0x02 makes the parity even.
        0x01 | (f & S) | ((f & P) >> 1)
    };
    let fix = (f ^ SZP[result as usize]) & (S | P);
    (u16::from_be_bytes([fix, result]), result ^ (f & AC))
}

/// [`lazy_form`] of every flag byte, `szp` in the low 16 bits and `aux` above: `POP PSW`
/// is then one load (it took about 25 host instructions computed, and 8080EXM pops PSW
/// every 37th instruction).
const LAZY_FORM: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut f = 0;
    while f < 256 {
        let (szp, aux) = lazy_form(f as u8);
        table[f] = szp as u32 | (aux as u32) << 16;
        f += 1;
    }
    table
};

/// The accumulator and flags as the execute loop keeps them: in locals, so they live in
/// host registers for a whole batch. The flags are lazy: an operation stores what it
/// computed, and a flag is only worked out when something reads it (a conditional
/// branch, `PUSH PSW`, DAA, the end of the batch).
///
/// - S, Z and P come from `szp`: its low byte is the last result (Z when it is 0, S its
///   bit 7, P its parity), its high byte holds S and P corrections. Only `POP PSW` sets
///   corrections: it stores a byte with the wanted S, Z and P, and when no byte has
///   them (Z with S, or Z without P) it stores 0 and corrects S and P. Every other
///   operation stores its result with no corrections, so the hot `INR A` + `JNZ` pair
///   costs a copy, an increment and a zero-extension, then a one-byte test.
/// - AC is bit 4 of `aux ^ result`: an add stores `aux = a ^ operand`, so that is the
///   carry into bit 4; other operations store whatever gives their AC.
/// - CY is apart, 0 or 1, as ADC, SBB and the rotates use it.
#[derive(Clone, Copy)]
pub(super) struct Alu {
    /// Accumulator.
    pub(super) a: u8,
    /// Carry: 0 or 1.
    pub(super) cy: u8,
    /// The last result (low byte) and S/P corrections from `POP PSW` (high byte).
    szp: u16,
    /// AC is bit 4 of `aux ^ (szp as u8)`.
    aux: u8,
}

impl Alu {
    /// Takes A and a PSW-layout flag byte.
    #[inline(always)]
    pub(super) fn new(a: u8, f: u8) -> Self {
        let mut alu = Alu {
            a,
            cy: 0,
            szp: 0,
            aux: 0,
        };
        alu.set_flags(f);
        alu
    }

    /// Sets every flag from a PSW-layout byte (`POP PSW`), through [`LAZY_FORM`].
    #[inline(always)]
    fn set_flags(&mut self, f: u8) {
        let [szp_low, szp_high, aux, _] = LAZY_FORM[f as usize].to_le_bytes();
        self.szp = u16::from_le_bytes([szp_low, szp_high]);
        self.aux = aux;
        self.cy = f & CY;
    }

    /// Records a result for S, Z and P (no corrections).
    #[inline(always)]
    fn set_result(&mut self, r: u8) {
        self.szp = r as u16;
    }

    /// Zero flag.
    #[inline(always)]
    pub(super) fn zero(self) -> bool {
        self.szp as u8 == 0
    }

    /// Sign flag.
    #[inline(always)]
    pub(super) fn sign(self) -> bool {
        let [fix, result] = self.szp.to_be_bytes();
        (result ^ fix) & S != 0
    }

    /// Parity flag (even parity).
    #[inline(always)]
    pub(super) fn parity_even(self) -> bool {
        let [fix, result] = self.szp.to_be_bytes();
        (SZP[result as usize] ^ fix) & P != 0
    }

    /// The flags in PSW layout, as [`super::Cpu::f`] holds them.
    #[inline(always)]
    pub(super) fn flags(self) -> u8 {
        let [fix, result] = self.szp.to_be_bytes();
        ((SZP[result as usize] ^ fix) & (S | Z | P)) | ((self.aux ^ result) & AC) | self.cy
    }

    /// A + v + carry_in; sets all flags.
    #[inline(always)]
    pub(super) fn add(&mut self, v: u8, carry_in: u8) {
        let a = self.a;
        let wide = a as u16 + v as u16 + carry_in as u16;
        self.aux = a ^ v;
        self.cy = (wide >> 8) as u8;
        self.a = wide as u8;
        self.set_result(self.a);
    }

    /// A - v - borrow_in; sets all flags.
    #[inline(always)]
    pub(super) fn sub(&mut self, v: u8, borrow_in: u8) {
        self.a = self.subtract(v, borrow_in);
    }

    /// CMP/CPI: the flags of A - v; A keeps its value.
    #[inline(always)]
    pub(super) fn cmp(&mut self, v: u8) {
        self.subtract(v, 0);
    }

    /// A - v - borrow_in as the 8080 computes it (A + !v + !borrow): sets all flags and
    /// returns the difference.
    #[inline(always)]
    fn subtract(&mut self, v: u8, borrow_in: u8) -> u8 {
        let a = self.a;
        let inverted = !v;
        let wide = a as u16 + inverted as u16 + (borrow_in ^ 1) as u16;
        let r = wide as u8;
        self.aux = a ^ inverted;
        // The adder's carry out is the inverse of the borrow the 8080 reports in CY.
        self.cy = (wide >> 8) as u8 ^ 1;
        self.set_result(r);
        r
    }

    /// ANA/ANI: AC takes bit 3 of (A | operand), CY clears.
    #[inline(always)]
    pub(super) fn and(&mut self, v: u8) {
        let r = self.a & v;
        self.aux = r ^ (((self.a | v) << 1) & AC);
        self.cy = 0;
        self.a = r;
        self.set_result(r);
    }

    /// XRA/XRI: AC and CY clear.
    #[inline(always)]
    pub(super) fn xor(&mut self, v: u8) {
        self.a ^= v;
        self.aux = self.a;
        self.cy = 0;
        self.set_result(self.a);
    }

    /// ORA/ORI: AC and CY clear.
    #[inline(always)]
    pub(super) fn or(&mut self, v: u8) {
        self.a |= v;
        self.aux = self.a;
        self.cy = 0;
        self.set_result(self.a);
    }

    /// INR: all flags but CY. The 8080 adds 1, so AC is the carry into bit 4: `aux = v`.
    #[inline(always)]
    pub(super) fn inr(&mut self, v: u8) -> u8 {
        let r = v.wrapping_add(1);
        self.aux = v;
        self.set_result(r);
        r
    }

    /// DCR: all flags but CY. The 8080 adds 0xFF, so `aux = v ^ 0xFF`.
    #[inline(always)]
    pub(super) fn dcr(&mut self, v: u8) -> u8 {
        let r = v.wrapping_sub(1);
        self.aux = !v;
        self.set_result(r);
        r
    }

    /// RLC: rotates A left; CY takes bit 7.
    #[inline(always)]
    pub(super) fn rlc(&mut self) {
        self.cy = self.a >> 7;
        self.a = self.a.rotate_left(1);
    }

    /// RRC: rotates A right; CY takes bit 0.
    #[inline(always)]
    pub(super) fn rrc(&mut self) {
        self.cy = self.a & 1;
        self.a = self.a.rotate_right(1);
    }

    /// RAL: rotates A left through CY.
    #[inline(always)]
    pub(super) fn ral(&mut self) {
        let cy = self.a >> 7;
        self.a = (self.a << 1) | self.cy;
        self.cy = cy;
    }

    /// RAR: rotates A right through CY.
    #[inline(always)]
    pub(super) fn rar(&mut self) {
        let cy = self.a & 1;
        self.a = (self.a >> 1) | (self.cy << 7);
        self.cy = cy;
    }

    /// DAA: decimal adjust by adding 0x06 and/or 0x60; CY is sticky.
    #[inline(always)]
    pub(super) fn daa(&mut self) {
        let low = self.a & 0x0F;
        let high = self.a >> 4;
        let mut correction = 0;
        let mut carry = self.cy;
        if self.flags() & AC != 0 || low > 9 {
            correction |= 0x06;
        }
        if carry != 0 || high > 9 || (high >= 9 && low > 9) {
            correction |= 0x60;
            carry = 1;
        }
        self.add(correction, 0);
        self.cy = carry;
    }

    /// The processor status word as `PUSH PSW` stores it (see [`super::Cpu::psw`]).
    #[inline(always)]
    pub(super) fn psw(self) -> u16 {
        u16::from_be_bytes([self.a, self.flags() | ALWAYS_ONE])
    }

    /// Sets A and the flags as `POP PSW` does.
    #[inline(always)]
    pub(super) fn set_psw(&mut self, v: u16) {
        let [a, f] = v.to_be_bytes();
        self.a = a;
        self.set_flags(f);
    }
}
