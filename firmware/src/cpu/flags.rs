//! The 8080 flag register and the arithmetic that sets it.
//!
//! [`Cpu::f`](super::Cpu::f) holds the flags packed in the PSW layout (S Z 0 AC 0 P 1 CY).
//! During a batch the execute loop keeps A and the flags in an `Alu` (in host registers)
//! and works the flags out lazily: an operation records its result and what its auxiliary
//! carry depends on, and S, Z, P and AC are derived only when read (conditional branches,
//! `PUSH PSW`, DAA, the end of a batch), with [`SZP`] for parity; carry is kept as a
//! `bool`. The flag rules are the 8080's (User's Manual chapter 4, and the traps
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

/// The high byte of `szp` (see [`Alu`]) that flips S in the flags it stands for.
const FLIP_S: u16 = 0x100;
/// The high byte of `szp` that flips P.
const FLIP_P: u16 = 0x200;

/// S, Z and P for every `szp` (see [`Alu`]): [`SZP`] of its low byte, with S and P
/// flipped as its high byte says. `PUSH PSW` then reads S, Z and P in one load, where
/// working the flips out took about 8 host instructions more.
const SZP_FLIPPED: [u8; 0x400] = {
    let mut table = [0u8; 0x400];
    let mut i = 0;
    while i < 0x400 {
        let mut f = SZP[i & 0xFF];
        if i as u16 & FLIP_S != 0 {
            f ^= S;
        }
        if i as u16 & FLIP_P != 0 {
            f ^= P;
        }
        table[i] = f;
        i += 1;
    }
    table
};

/// `szp` and `aux` (see [`Alu`]) for a PSW-layout flag byte: the result byte is one whose
/// S, Z and P are the wanted ones, or 0 with S and P flips in the high byte when no byte
/// has them (Z with S, or Z without P).
const fn lazy_form(f: u8) -> (u16, u8) {
    let result = if f & Z != 0 {
        0
    } else {
        // 0x01 has S and P clear; 0x80 sets S, 0x02 makes the parity even.
        0x01 | (f & S) | ((f & P) >> 1)
    };
    let wrong = f ^ SZP[result as usize];
    let mut szp = result as u16;
    if wrong & S != 0 {
        szp |= FLIP_S;
    }
    if wrong & P != 0 {
        szp |= FLIP_P;
    }
    (szp, result ^ (f & AC))
}

/// [`lazy_form`] of every flag byte: `szp` in the low 16 bits, `aux` and CY above. `POP PSW`
/// is then one load (it took about 25 host instructions computed, and 8080EXM pops PSW
/// every 37th instruction).
const LAZY_FORM: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut f = 0;
    while f < 256 {
        let (szp, aux) = lazy_form(f as u8);
        table[f] = szp as u32 | (aux as u32) << 16 | ((f as u8 & CY) as u32) << 24;
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
///   bit 7, P its parity), its high byte may flip S ([`FLIP_S`]) and P ([`FLIP_P`]).
///   Only `POP PSW` sets flips: it stores a byte with the wanted S, Z and P, and when
///   no byte has them (Z with S, or Z without P) it stores 0 and flips S and P. Every
///   other operation stores its result with no flips, so the hot `INR A` + `JNZ` pair
///   costs a copy, an increment and a zero-extension, then a one-byte test.
/// - AC is bit 4 of `aux ^ result`: an add stores `aux = a ^ operand`, so that is the
///   carry into bit 4; other operations store whatever gives their AC.
/// - CY is apart, a `bool`. As a `u8` (0 or 1), LLVM gave it a different host
///   register in each copy of the `match` and copied it from one to the other in
///   every arm, about one host instruction in eleven; as a `bool` it keeps one home,
///   a register or a stack slot (8080EXM 11.24 -> 10.82 host instructions per 8080
///   instruction, 8K BASIC 11.30 -> 10.23, CP/M's assemblers 15.56 -> 14.22;
///   docs/cpu-performance.md, session 10).
#[derive(Clone, Copy)]
pub(super) struct Alu {
    /// Accumulator.
    pub(super) a: u8,
    /// Carry.
    pub(super) cy: bool,
    /// The last result (low byte) and S/P flips from `POP PSW` (high byte).
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
            cy: false,
            szp: 0,
            aux: 0,
        };
        alu.set_flags(f);
        alu
    }

    /// Sets every flag from a PSW-layout byte (`POP PSW`), through [`LAZY_FORM`].
    #[inline(always)]
    fn set_flags(&mut self, f: u8) {
        let lazy = LAZY_FORM[f as usize];
        self.szp = lazy as u16;
        self.aux = (lazy >> 16) as u8;
        self.cy = lazy >> 24 != 0;
    }

    /// Records a result for S, Z and P (no flips).
    #[inline(always)]
    fn set_result(&mut self, r: u8) {
        self.szp = r as u16;
    }

    /// Zero flag.
    #[inline(always)]
    pub(super) fn zero(self) -> bool {
        self.szp as u8 == 0
    }

    /// S, Z and P in PSW layout, the others 0.
    #[inline(always)]
    fn szp_flags(self) -> u8 {
        // `szp` is below 0x400: a result byte and FLIP_S | FLIP_P at most.
        SZP_FLIPPED[self.szp as usize & 0x3FF]
    }

    /// Sign flag.
    #[inline(always)]
    pub(super) fn sign(self) -> bool {
        self.szp_flags() & S != 0
    }

    /// Parity flag (even parity).
    #[inline(always)]
    pub(super) fn parity_even(self) -> bool {
        self.szp_flags() & P != 0
    }

    /// The flags in PSW layout, as [`super::Cpu::f`] holds them.
    #[inline(always)]
    pub(super) fn flags(self) -> u8 {
        self.szp_flags() | ((self.aux ^ self.szp as u8) & AC) | self.cy as u8
    }

    /// A + v + carry_in; sets all flags.
    #[inline(always)]
    pub(super) fn add(&mut self, v: u8, carry_in: bool) {
        let a = self.a;
        // Two byte additions rather than one in 16 bits: with no carry in, the carry out
        // is the host's (`add`, `setb`).
        let (partial, carried) = a.overflowing_add(v);
        let (r, carried_again) = partial.overflowing_add(carry_in as u8);
        self.aux = a ^ v;
        self.cy = carried | carried_again;
        self.a = r;
        self.set_result(r);
    }

    /// A - v - borrow_in; sets all flags.
    #[inline(always)]
    pub(super) fn sub(&mut self, v: u8, borrow_in: bool) {
        self.a = self.subtract(v, borrow_in);
    }

    /// CMP/CPI: the flags of A - v; A keeps its value.
    #[inline(always)]
    pub(super) fn cmp(&mut self, v: u8) {
        self.subtract(v, false);
    }

    /// A - v - borrow_in: sets all flags and returns the difference.
    ///
    /// The 8080 adds `!v` and `!borrow_in` and reports its carry out inverted in CY.
    /// That is the difference and the borrow out of a subtraction, which the host
    /// computes in fewer instructions (`sub`, `setb`: 3 host instructions fewer in CPI
    /// than the 8080's way). AC is the carry into bit 4 of the 8080's addition, so `aux` is
    /// `a ^ !v`.
    #[inline(always)]
    fn subtract(&mut self, v: u8, borrow_in: bool) -> u8 {
        let a = self.a;
        let (partial, borrowed) = a.overflowing_sub(v);
        let (r, borrowed_again) = partial.overflowing_sub(borrow_in as u8);
        self.aux = a ^ !v;
        self.cy = borrowed | borrowed_again;
        self.set_result(r);
        r
    }

    /// ANA/ANI: AC takes bit 3 of (A | operand), CY clears.
    #[inline(always)]
    pub(super) fn and(&mut self, v: u8) {
        let r = self.a & v;
        self.aux = r ^ (((self.a | v) << 1) & AC);
        self.cy = false;
        self.a = r;
        self.set_result(r);
    }

    /// XRA/XRI: AC and CY clear.
    #[inline(always)]
    pub(super) fn xor(&mut self, v: u8) {
        self.a ^= v;
        self.aux = self.a;
        self.cy = false;
        self.set_result(self.a);
    }

    /// ORA/ORI: AC and CY clear.
    #[inline(always)]
    pub(super) fn or(&mut self, v: u8) {
        self.a |= v;
        self.aux = self.a;
        self.cy = false;
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
        self.cy = self.a & 0x80 != 0;
        self.a = self.a.rotate_left(1);
    }

    /// RRC: rotates A right; CY takes bit 0.
    #[inline(always)]
    pub(super) fn rrc(&mut self) {
        self.cy = self.a & 1 != 0;
        self.a = self.a.rotate_right(1);
    }

    /// RAL: rotates A left through CY.
    #[inline(always)]
    pub(super) fn ral(&mut self) {
        let cy = self.a & 0x80 != 0;
        self.a = (self.a << 1) | self.cy as u8;
        self.cy = cy;
    }

    /// RAR: rotates A right through CY.
    #[inline(always)]
    pub(super) fn rar(&mut self) {
        let cy = self.a & 1 != 0;
        self.a = (self.a >> 1) | (self.cy as u8) << 7;
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
        if carry || high > 9 || (high >= 9 && low > 9) {
            correction |= 0x60;
            carry = true;
        }
        self.add(correction, false);
        self.cy = carry;
    }

    /// The processor status word as `PUSH PSW` stores it (see [`super::Cpu::psw`]).
    #[inline(always)]
    pub(super) fn psw(self) -> u16 {
        // Shifts, not `from_be_bytes`: LLVM builds that as a byte swap of the word the
        // other way round, two host instructions more.
        (self.a as u16) << 8 | (self.flags() | ALWAYS_ONE) as u16
    }

    /// Sets A and the flags as `POP PSW` does.
    #[inline(always)]
    pub(super) fn set_psw(&mut self, v: u16) {
        self.a = (v >> 8) as u8;
        self.set_flags(v as u8);
    }
}
