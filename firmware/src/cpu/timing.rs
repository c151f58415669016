//! The one cycle model: machine states (clock periods) of every 8080 opcode.
//!
//! Source: Intel 8080 Microcomputer Systems User's Manual (1975), chapter 4, the "States"
//! column. The table holds the cost of the not-taken path; the execute loop adds
//! [`BRANCH_TAKEN_EXTRA`] when a conditional CALL or RET is taken (CALL 11 -> 17,
//! RET 5 -> 11). Conditional jumps cost 10 states either way.

/// Extra states when a conditional CALL or RET takes its branch.
pub const BRANCH_TAKEN_EXTRA: i64 = 6;

/// States per opcode, not-taken path for conditional CALL/RET.
#[rustfmt::skip]
pub const STATES: [u8; 256] = [
//  x0  x1  x2  x3  x4  x5  x6  x7  x8  x9  xA  xB  xC  xD  xE  xF
     4, 10,  7,  5,  5,  5,  7,  4,  4, 10,  7,  5,  5,  5,  7,  4, // 0x
     4, 10,  7,  5,  5,  5,  7,  4,  4, 10,  7,  5,  5,  5,  7,  4, // 1x
     4, 10, 16,  5,  5,  5,  7,  4,  4, 10, 16,  5,  5,  5,  7,  4, // 2x
     4, 10, 13,  5, 10, 10, 10,  4,  4, 10, 13,  5,  5,  5,  7,  4, // 3x
     5,  5,  5,  5,  5,  5,  7,  5,  5,  5,  5,  5,  5,  5,  7,  5, // 4x MOV
     5,  5,  5,  5,  5,  5,  7,  5,  5,  5,  5,  5,  5,  5,  7,  5, // 5x MOV
     5,  5,  5,  5,  5,  5,  7,  5,  5,  5,  5,  5,  5,  5,  7,  5, // 6x MOV
     7,  7,  7,  7,  7,  7,  7,  7,  5,  5,  5,  5,  5,  5,  7,  5, // 7x MOV M,r / HLT
     4,  4,  4,  4,  4,  4,  7,  4,  4,  4,  4,  4,  4,  4,  7,  4, // 8x ADD/ADC
     4,  4,  4,  4,  4,  4,  7,  4,  4,  4,  4,  4,  4,  4,  7,  4, // 9x SUB/SBB
     4,  4,  4,  4,  4,  4,  7,  4,  4,  4,  4,  4,  4,  4,  7,  4, // Ax ANA/XRA
     4,  4,  4,  4,  4,  4,  7,  4,  4,  4,  4,  4,  4,  4,  7,  4, // Bx ORA/CMP
     5, 10, 10, 10, 11, 11,  7, 11,  5, 10, 10, 10, 11, 17,  7, 11, // Cx
     5, 10, 10, 10, 11, 11,  7, 11,  5, 10, 10, 10, 11, 17,  7, 11, // Dx
     5, 10, 10, 18, 11, 11,  7, 11,  5,  5, 10,  4, 11, 17,  7, 11, // Ex
     5, 10, 10,  4, 11, 11,  7, 11,  5,  5, 10,  4, 11, 17,  7, 11, // Fx
];

/// Low bits of a [`Meter`] that count instructions: room for the most one batch can run,
/// `MAX_BATCH / 4 + 2`. No more than that, so that a taken conditional CALL or RET charges
/// its extra states with a 32-bit immediate (`6 << 16`); with 32 count bits LLVM kept
/// `6 << 32` in a host register through the whole loop, and 8080EXM ran 7% more host
/// instructions (docs/cpu-performance.md, session 10).
const COUNT_BITS: u32 = 16;

/// The largest budget of one batch; [`Cpu::run`](super::Cpu::run) splits a larger one.
/// It bounds how far straight-line code can run past 0xFFFF before the batch ends and
/// the PC wraps ([`FETCH_OVERRUN`](super::FETCH_OVERRUN)), so memory's copy of itself
/// past 0xFFFF stays within one address space, and the instructions a [`Meter`] counts
/// fit its [`COUNT_BITS`]. A batch of 65,536 states is 3,640 instructions or more (18
/// states at most each), so the cost of starting one is lost in the noise.
pub(super) const MAX_BATCH: u64 = 1 << 16;
const _: () = assert!(MAX_BATCH / 4 + 2 < 1 << COUNT_BITS);

/// What one instruction costs a [`Meter`]: its states above the count bits, plus one
/// instruction below them.
const COST: [i64; 256] = {
    let mut table = [0i64; 256];
    let mut op = 0;
    while op < 256 {
        table[op] = ((STATES[op] as i64) << COUNT_BITS) + 1;
        op += 1;
    }
    table
};

/// The state budget of one batch and the number of instructions executed in it, packed
/// in one integer so each instruction pays for both with a single subtraction:
/// `(states left << COUNT_BITS) - instructions - 1`. Since the count stays below
/// `1 << COUNT_BITS`, the value is negative exactly when no states are left: one sign
/// test, which the execute loop's dispatch turns into a `cmov`.
#[derive(Clone, Copy)]
pub(super) struct Meter(i64);

impl Meter {
    /// A meter with `budget` states (at most [`MAX_BATCH`]) and no instructions yet.
    #[inline(always)]
    pub(super) fn new(budget: u64) -> Self {
        debug_assert!(budget <= MAX_BATCH);
        Meter(((budget as i64) << COUNT_BITS) - 1)
    }

    /// The packed value: negative exactly when the budget is spent.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(super) fn packed(self) -> i64 {
        self.0
    }

    /// Whether the budget is spent.
    #[inline(always)]
    pub(super) fn spent(self) -> bool {
        self.0 < 0
    }

    /// Charges one instruction with opcode `op` at its [`STATES`].
    #[inline(always)]
    pub(super) fn charge(&mut self, op: u8) {
        self.0 -= COST[op as usize];
    }

    /// Takes back the charge of opcode `op`, whose instruction did not run.
    #[inline(always)]
    pub(super) fn refund(&mut self, op: u8) {
        // From STATES, not COST: LLVM sees that a refund from COST restores the value
        // before the charge, and then keeps that value in one more register through the
        // whole dispatch (CPUTEST 13.08 -> 12.08 host instructions per 8080 instruction,
        // measured with the check in the first copy of the pair).
        self.0 += ((STATES[op as usize] as i64) << COUNT_BITS) + 1;
    }

    /// Charges `states` more to the current instruction (a taken conditional CALL/RET).
    #[inline(always)]
    pub(super) fn charge_extra(&mut self, states: i64) {
        self.0 -= states << COUNT_BITS;
    }

    /// States left in the budget (negative after an overshoot).
    #[inline(always)]
    pub(super) fn left(self) -> i64 {
        // The count is below 1 << COUNT_BITS, so rounding up recovers the states.
        (self.0 + (1 << COUNT_BITS)) >> COUNT_BITS
    }

    /// Instructions charged so far.
    #[inline(always)]
    pub(super) fn instructions(self) -> u64 {
        ((self.left() << COUNT_BITS) - self.0 - 1) as u64
    }
}
