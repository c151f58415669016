//! The terminal side of the Altair: the 88-2SIO's first port (0x10/0x11) and the
//! 88-SIO (0x00/0x01), both wired to one terminal, as on the original cloud Altair.
//!
//! Keys wait in a receive queue; guest output waits in a transmit queue until the
//! platform drains it. When the transmit queue is full the 2SIO reports "transmit buffer
//! not empty", so a guest that polls (every CP/M BIOS and BASIC do) simply waits: output
//! is never dropped for want of room.
//!
//! Status bits (reference.md section 2):
//! - 2SIO status (IN 0x10): bit 0 receive data ready, bit 1 transmit buffer empty.
//! - SIO status (IN 0x00): active low; bit 0 = 0 when a byte is waiting, bit 7 = 0 when
//!   the transmitter can take a byte.

use heapless::Deque;

/// Keys the machine holds before the platform must wait: one 256-byte paste chunk
/// (reference.md section 3) plus room for typing on top of it.
pub const RX_CAPACITY: usize = 512;
/// Output the machine holds before the guest waits: one full 256-byte terminal message.
pub const TX_CAPACITY: usize = 256;

/// 2SIO status: receive data register full.
pub const SIO2_RDRF: u8 = 0x01;
/// 2SIO status: transmit data register empty.
pub const SIO2_TDRE: u8 = 0x02;
/// 2SIO control: receive interrupt enable.
const SIO2_RIE: u8 = 0x80;

/// The terminal's queues and the serial boards' small state.
pub struct Console {
    rx: Deque<u8, RX_CAPACITY>,
    tx: Deque<u8, TX_CAPACITY>,
    control: u8,
    /// Output bytes written while the queue was full (a guest that ignores status).
    overruns: u32,
}

impl Default for Console {
    fn default() -> Self {
        Self::new()
    }
}

impl Console {
    /// Empty queues, interrupts off.
    pub const fn new() -> Self {
        Console {
            rx: Deque::new(),
            tx: Deque::new(),
            control: 0,
            overruns: 0,
        }
    }

    /// Queues one key for the guest. Returns `false` (and keeps nothing) when the
    /// receive queue is full, so the caller can hold the key and retry.
    pub fn push_key(&mut self, key: u8) -> bool {
        self.rx.push_back(key).is_ok()
    }

    /// Queues as many of `keys` as fit and returns how many that was.
    pub fn push_keys(&mut self, keys: &[u8]) -> usize {
        keys.iter().take_while(|&&k| self.push_key(k)).count()
    }

    /// Free room in the receive queue.
    pub fn rx_space(&self) -> usize {
        RX_CAPACITY - self.rx.len()
    }

    /// Whether keys are waiting for the guest.
    pub fn has_input(&self) -> bool {
        !self.rx.is_empty()
    }

    /// Takes the next byte of guest output.
    pub fn pop_output(&mut self) -> Option<u8> {
        self.tx.pop_front()
    }

    /// Moves guest output into `out` and returns how many bytes were moved.
    pub fn drain_output(&mut self, out: &mut [u8]) -> usize {
        let mut n = 0;
        for slot in out.iter_mut() {
            match self.tx.pop_front() {
                Some(b) => {
                    *slot = b;
                    n += 1;
                }
                None => break,
            }
        }
        n
    }

    /// Bytes of guest output waiting.
    pub fn output_len(&self) -> usize {
        self.tx.len()
    }

    /// Whether the transmit queue is full (the guest is being held back).
    pub fn output_full(&self) -> bool {
        self.tx.is_full()
    }

    /// Output bytes lost because a guest wrote without waiting for room.
    pub fn overruns(&self) -> u32 {
        self.overruns
    }

    /// Whether the 2SIO would interrupt: receive interrupts on and a key waiting.
    pub fn interrupt_requested(&self) -> bool {
        self.control & SIO2_RIE != 0 && self.has_input()
    }

    /// Drops queued input and output (machine reset).
    pub fn clear(&mut self) {
        self.rx.clear();
        self.tx.clear();
        self.control = 0;
    }

    /// 2SIO status register.
    pub fn sio2_status(&self) -> u8 {
        let rx = if self.rx.is_empty() { 0 } else { SIO2_RDRF };
        let tx = if self.tx.is_full() { 0 } else { SIO2_TDRE };
        rx | tx
    }

    /// 2SIO control register write (MC6850: bits 0-1 = 0b11 is master reset).
    pub fn sio2_control(&mut self, value: u8) {
        self.control = if value & 0x03 == 0x03 { 0 } else { value };
    }

    /// 88-SIO status register (active low).
    pub fn sio_status(&self) -> u8 {
        let rx = if self.rx.is_empty() { 0x01 } else { 0 };
        let tx = if self.tx.is_full() { 0x80 } else { 0 };
        rx | tx
    }

    /// A data-port read: the next key, or 0 when none waits (the guest did not check).
    pub fn read_data(&mut self) -> u8 {
        self.rx.pop_front().unwrap_or(0)
    }

    /// A data-port write, kept byte for byte (terminals that want 7 bits mask later).
    pub fn write_data(&mut self, value: u8) {
        if self.tx.push_back(value).is_err() {
            self.overruns = self.overruns.saturating_add(1);
        }
    }
}
