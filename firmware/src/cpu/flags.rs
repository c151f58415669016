//! The 8080 flag register and the arithmetic that sets it.
//!
//! [`Cpu::f`](super::Cpu::f) holds the flags packed in the PSW layout (S Z 0 AC 0 P 1 CY).
//! During a batch the execute loop keeps A and the flags in an `Alu` (in host registers),
//! with CY apart so that INR and DCR, which keep CY, set the others with one table load.
//! Sign, zero and parity come from one 256-entry table ([`SZP`]); carry and auxiliary
//! carry are computed per operation as the 8080 does them (8080 User's Manual chapter 4,
//! and the traps listed in reference.md section 1).

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

/// Flags INR sets for each result (all but CY): SZP plus AC when the low nibble wrapped
/// to 0. A table turns INR's flag work into one load.
pub const INR_FLAGS: [u8; 256] = {
    let mut table = SZP;
    let mut r = 0;
    while r < 256 {
        if r & 0x0F == 0 {
            table[r] |= AC;
        }
        r += 1;
    }
    table
};

/// Flags DCR sets for each result (all but CY). The 8080 adds 0xFF, so AC is set unless
/// the low nibble borrowed (result's low nibble 0xF).
pub const DCR_FLAGS: [u8; 256] = {
    let mut table = SZP;
    let mut r = 0;
    while r < 256 {
        if r & 0x0F != 0x0F {
            table[r] |= AC;
        }
        r += 1;
    }
    table
};

/// The accumulator and flags as the execute loop keeps them: in locals, so they live in
/// host registers for a whole batch, with carry apart from the other flags so that INR
/// and DCR (which keep CY) set theirs with one table load.
#[derive(Clone, Copy)]
pub(super) struct Alu {
    /// Accumulator.
    pub(super) a: u8,
    /// S, Z, AC and P in their PSW bits; the CY bit is always 0 here.
    pub(super) f: u8,
    /// Carry: 0 or 1.
    pub(super) cy: u8,
}

impl Alu {
    /// Splits a PSW-layout flag byte.
    #[inline(always)]
    pub(super) fn new(a: u8, f: u8) -> Self {
        Alu {
            a,
            f: f & MASK & !CY,
            cy: f & CY,
        }
    }

    /// The flags in PSW layout, as [`super::Cpu::f`] holds them.
    #[inline(always)]
    pub(super) fn flags(self) -> u8 {
        self.f | self.cy
    }

    /// A + v + carry_in; sets all flags.
    #[inline(always)]
    pub(super) fn add(&mut self, v: u8, carry_in: u8) {
        let a = self.a;
        let wide = a as u16 + v as u16 + carry_in as u16;
        let r = wide as u8;
        self.f = SZP[r as usize] | ((a ^ v ^ r) & AC);
        self.cy = (wide >> 8) as u8;
        self.a = r;
    }

    /// A - v - borrow_in as the 8080 computes it (A + !v + !borrow); sets all flags,
    /// returns the result without storing it so CMP can share it.
    #[inline(always)]
    pub(super) fn sub(&mut self, v: u8, borrow_in: u8) -> u8 {
        let a = self.a;
        let inverted = !v;
        let wide = a as u16 + inverted as u16 + (borrow_in ^ 1) as u16;
        let r = wide as u8;
        self.f = SZP[r as usize] | ((a ^ inverted ^ r) & AC);
        // The adder's carry out is the inverse of the borrow the 8080 reports in CY.
        self.cy = (wide >> 8) as u8 ^ 1;
        r
    }

    /// ANA/ANI: AC takes bit 3 of (A | operand), CY clears.
    #[inline(always)]
    pub(super) fn and(&mut self, v: u8) {
        let r = self.a & v;
        self.f = SZP[r as usize] | (((self.a | v) << 1) & AC);
        self.cy = 0;
        self.a = r;
    }

    /// XRA/XRI: AC and CY clear.
    #[inline(always)]
    pub(super) fn xor(&mut self, v: u8) {
        self.a ^= v;
        self.f = SZP[self.a as usize];
        self.cy = 0;
    }

    /// ORA/ORI: AC and CY clear.
    #[inline(always)]
    pub(super) fn or(&mut self, v: u8) {
        self.a |= v;
        self.f = SZP[self.a as usize];
        self.cy = 0;
    }

    /// INR: all flags but CY (see [`INR_FLAGS`]).
    #[inline(always)]
    pub(super) fn inr(&mut self, v: u8) -> u8 {
        let r = v.wrapping_add(1);
        self.f = INR_FLAGS[r as usize];
        r
    }

    /// DCR: all flags but CY (see [`DCR_FLAGS`]).
    #[inline(always)]
    pub(super) fn dcr(&mut self, v: u8) -> u8 {
        let r = v.wrapping_sub(1);
        self.f = DCR_FLAGS[r as usize];
        r
    }

    /// DAA: decimal adjust by adding 0x06 and/or 0x60; CY is sticky.
    #[inline(always)]
    pub(super) fn daa(&mut self) {
        let low = self.a & 0x0F;
        let high = self.a >> 4;
        let mut correction = 0;
        let mut carry = self.cy;
        if self.f & AC != 0 || low > 9 {
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
        *self = Alu::new(a, f);
    }
}
