//! The board module for QEMU's `mps2-an386` (a Cortex-M4): what the firmware needs from a
//! device, on this board (docs/reference.md section 6 has the verified facts).
//!
//! - [`Uart0`]: the CMSDK APB UART at 0x4000_4000, in the `nb` style, and [`UartStream`],
//!   the firmware's byte stream over it. QEMU connects the UART to Mosquitto's device
//!   listener (`-serial tcp:...`), so TLS runs straight over it.
//! - The clock: the dual timer's timer 1 at 0x4000_2000, a 32-bit down counter at 25 MHz,
//!   extended to 64 bits in software, registered as embassy-time's driver (1 MHz ticks).
//! - Semihosting: the log (on QEMU's stderr), the exit code, and the entropy seed.
//!
//! **The entropy seed is for tests only.** mps2-an386 has no random number generator, so
//! [`TestEntropy`] seeds ChaCha20 from the host's `/dev/urandom` through semihosting. A
//! device uses its hardware TRNG (the MT3620's) instead; a seed baked in at build time is
//! never acceptable.

use core::cell::Cell;
use core::convert::Infallible;
use core::fmt::Write as _;
use core::task::Poll;

use critical_section::Mutex;
use embedded_io_async::{ErrorKind, ErrorType};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use altair_sphere::firmware::platform::nb;

/// UART0's registers.
mod uart_reg {
    pub const BASE: usize = 0x4000_4000;
    pub const DATA: usize = BASE;
    pub const STATE: usize = BASE + 0x04;
    pub const CTRL: usize = BASE + 0x08;
    pub const BAUDDIV: usize = BASE + 0x10;
    /// STATE: the transmit holding register is full.
    pub const TX_FULL: u32 = 1 << 0;
    /// STATE: a received byte waits in DATA.
    pub const RX_FULL: u32 = 1 << 1;
    /// STATE: transmit and receive overrun flags (write 1 to clear).
    pub const OVERRUN: u32 = 0b11 << 2;
    /// CTRL: transmitter and receiver enabled, no interrupts (the loop polls).
    pub const ENABLE: u32 = 0b11;
    /// The smallest divider the UART accepts at 25 MHz; QEMU ignores the rate anyway.
    pub const MIN_BAUDDIV: u32 = 16;
}

/// Timer 1 of the dual timer.
mod timer_reg {
    pub const BASE: usize = 0x4000_2000;
    pub const LOAD: usize = BASE;
    pub const VALUE: usize = BASE + 0x04;
    pub const CTRL: usize = BASE + 0x08;
    /// CTRL: enabled, 32-bit, free-running, no prescaler, no interrupt.
    pub const RUN_32BIT: u32 = (1 << 7) | (1 << 1);
    /// The timer's clock: 25 MHz.
    pub const HZ: u64 = 25_000_000;
}

#[allow(unsafe_code)]
fn read(addr: usize) -> u32 {
    // SAFETY: `addr` is one of this board's memory-mapped registers above, always
    // mapped on mps2-an386; a volatile 32-bit read has no other effect on them.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

#[allow(unsafe_code)]
fn write(addr: usize, value: u32) {
    // SAFETY: as in `read`; the values written are the ones the registers document.
    unsafe { core::ptr::write_volatile(addr as *mut u32, value) }
}

/// The UART lost received bytes (its overrun flag was set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overrun;

/// UART0, polled.
pub struct Uart0 {
    _private: (),
}

impl Uart0 {
    /// Enables the UART. Only [`init`] makes one.
    fn new() -> Uart0 {
        write(uart_reg::BAUDDIV, uart_reg::MIN_BAUDDIV);
        write(uart_reg::CTRL, uart_reg::ENABLE);
        Uart0 { _private: () }
    }

    /// The next received byte, `WouldBlock` if none is there.
    pub fn read(&mut self) -> nb::Result<u8, Overrun> {
        let state = read(uart_reg::STATE);
        if state & uart_reg::OVERRUN != 0 {
            write(uart_reg::STATE, uart_reg::OVERRUN);
            return Err(nb::Error::Other(Overrun));
        }
        if state & uart_reg::RX_FULL == 0 {
            return Err(nb::Error::WouldBlock);
        }
        let now = now_us();
        critical_section::with(|cs| LAST_RX.borrow(cs).set(now));
        Ok(read(uart_reg::DATA) as u8)
    }

    /// Sends one byte, `WouldBlock` while the transmitter is busy.
    pub fn write(&mut self, byte: u8) -> nb::Result<(), Infallible> {
        if read(uart_reg::STATE) & uart_reg::TX_FULL != 0 {
            return Err(nb::Error::WouldBlock);
        }
        write(uart_reg::DATA, u32::from(byte));
        Ok(())
    }
}

/// A UART error, for the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UartError;

impl core::fmt::Display for UartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("UART overrun: received bytes were lost")
    }
}

impl core::error::Error for UartError {}

impl embedded_io_async::Error for UartError {
    fn kind(&self) -> ErrorKind {
        // Bytes were lost: the TLS record stream is broken, as after a reset connection.
        ErrorKind::ConnectionReset
    }
}

/// The firmware's byte stream over UART0: a read takes what has arrived (`Pending` when
/// nothing has), a write what the transmitter takes. Made once per connection attempt.
pub struct UartStream<'u>(pub &'u mut Uart0);

impl ErrorType for UartStream<'_> {
    type Error = UartError;
}

impl embedded_io_async::Read for UartStream<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, UartError> {
        core::future::poll_fn(|_| {
            let mut n = 0;
            while n < buf.len() {
                match self.0.read() {
                    Ok(byte) => {
                        buf[n] = byte;
                        n += 1;
                    }
                    Err(nb::Error::WouldBlock) => break,
                    Err(nb::Error::Other(Overrun)) => return Poll::Ready(Err(UartError)),
                }
            }
            if n == 0 && !buf.is_empty() {
                Poll::Pending
            } else {
                Poll::Ready(Ok(n))
            }
        })
        .await
    }
}

impl embedded_io_async::Write for UartStream<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, UartError> {
        core::future::poll_fn(|_| {
            let mut n = 0;
            for &byte in buf {
                if self.0.write(byte).is_err() {
                    break;
                }
                n += 1;
            }
            if n == 0 && !buf.is_empty() {
                Poll::Pending
            } else {
                Poll::Ready(Ok(n))
            }
        })
        .await
    }

    async fn flush(&mut self) -> Result<(), UartError> {
        Ok(())
    }
}

/// When the last byte arrived, in microseconds since boot: QEMU says nothing when the
/// socket behind the UART drops, so silence is the only sign of a dead link.
static LAST_RX: Mutex<Cell<u64>> = Mutex::new(Cell::new(0));

/// Microseconds since UART0 last received a byte (since boot if none has). A free
/// function: the UART itself is lent to the link while connected.
pub fn uart_quiet_for_us() -> u64 {
    let last = critical_section::with(|cs| LAST_RX.borrow(cs).get());
    now_us().saturating_sub(last)
}

/// The 64-bit count of 25 MHz ticks and the last 32-bit reading it was extended from.
static CLOCK: Mutex<Cell<(u64, u32)>> = Mutex::new(Cell::new((0, u32::MAX)));

/// Microseconds since boot, from timer 1. The counter wraps every 171.8 s; every call
/// notes how far it moved, so it must be read more often than that (the run loop reads it
/// many times a second).
pub fn now_us() -> u64 {
    critical_section::with(|cs| {
        let cell = CLOCK.borrow(cs);
        let (total, last) = cell.get();
        let value = read(timer_reg::VALUE);
        // A down counter: elapsed ticks are the decrease, modulo 2^32.
        let total = total + u64::from(last.wrapping_sub(value));
        cell.set((total, value));
        total * 1_000_000 / timer_reg::HZ
    })
}

/// embassy-time's driver: the timer, in microseconds (embassy-time's default 1 MHz tick).
struct TimerDriver;

impl embassy_time_driver::Driver for TimerDriver {
    fn now(&self) -> u64 {
        now_us()
    }

    fn schedule_wake(&self, _at: u64, _waker: &core::task::Waker) {
        // The firmware polls its futures in a loop (`net::block_on`, `poll_once`), so no
        // wake-up is needed (net/mod.rs).
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: TimerDriver = TimerDriver);

/// The board's peripherals, made once.
pub struct Board {
    /// The network byte stream.
    pub uart: Uart0,
}

/// SysTick's reload for a 1 ms tick at the core's 25 MHz.
const TICK_RELOAD: u32 = 25_000 - 1;

/// Starts the timer, the 1 ms tick that ends [`idle`], and the UART.
pub fn init() -> Board {
    write(timer_reg::LOAD, u32::MAX);
    write(timer_reg::CTRL, timer_reg::RUN_32BIT);
    if let Some(mut core) = cortex_m::Peripherals::take() {
        core.SYST
            .set_clock_source(cortex_m::peripheral::syst::SystClkSource::Core);
        core.SYST.set_reload(TICK_RELOAD);
        core.SYST.clear_current();
        core.SYST.enable_interrupt();
        core.SYST.enable_counter();
    }
    Board { uart: Uart0::new() }
}

/// The tick: its only job is to end a [`idle`] within a millisecond.
#[cortex_m_rt::exception]
fn SysTick() {}

/// Sleeps until the next interrupt (the 1 ms tick at the latest), so QEMU gives the
/// host's core back while the guest waits for a key. The UART is polled, not
/// interrupt-driven: a byte that arrives meanwhile waits at most a tick.
pub fn idle() {
    cortex_m::asm::wfi();
}

/// The semihosting handle of QEMU's stderr, opened once: every open takes one of the
/// host's handles for good.
static STDERR: Mutex<Cell<Option<cortex_m_semihosting::hio::HostStream>>> =
    Mutex::new(Cell::new(None));

/// Writes to QEMU's stderr through semihosting.
pub struct HostStderr;

impl core::fmt::Write for HostStderr {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let stream = critical_section::with(|cs| {
            let cell = STDERR.borrow(cs);
            if cell.get().is_none() {
                cell.set(cortex_m_semihosting::hio::hstderr().ok());
            }
            cell.get()
        });
        match stream {
            Some(mut out) => out.write_all(s.as_bytes()).map_err(|_| core::fmt::Error),
            None => Err(core::fmt::Error),
        }
    }
}

/// The `log` backend: one line per record on QEMU's stderr, with the time since boot.
struct SemihostingLog;

impl log::Log for SemihostingLog {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            let ms = now_us() / 1_000;
            let _ = writeln!(
                HostStderr,
                "[{}.{:03} {} {}] {}",
                ms / 1_000,
                ms % 1_000,
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

static LOGGER: SemihostingLog = SemihostingLog;

/// Routes the firmware's log to QEMU's stderr.
pub fn init_log() {
    // Fails only if a logger is set already, which then stays.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Info);
}

/// Ends QEMU with `code` as its exit status.
pub fn exit(code: i32) -> ! {
    let status = if code == 0 {
        cortex_m_semihosting::debug::EXIT_SUCCESS
    } else {
        cortex_m_semihosting::debug::EXIT_FAILURE
    };
    cortex_m_semihosting::debug::exit(status);
    loop {
        cortex_m::asm::wfi();
    }
}

/// The command line QEMU was given (`-append`), read through semihosting into `buf`;
/// `None` if there is none.
#[allow(unsafe_code)]
pub fn command_line(buf: &mut [u8]) -> Option<&str> {
    // GET_CMDLINE takes a block of (buffer address, buffer length) and writes the length
    // used back into it.
    let mut block = [buf.as_mut_ptr() as usize, buf.len()];
    // SAFETY: the block and the buffer it points to are alive and exclusively borrowed for
    // the call; the host writes at most `buf.len()` bytes.
    let status =
        unsafe { cortex_m_semihosting::syscall(cortex_m_semihosting::nr::GET_CMDLINE, &mut block) };
    let len = block[1].min(buf.len());
    if status != 0 || len == 0 {
        return None;
    }
    let text = core::str::from_utf8(&buf[..len]).ok()?;
    Some(text.trim_end_matches('\0'))
}

/// TEST-ONLY randomness: ChaCha20 seeded with 32 bytes of the host's `/dev/urandom`, read
/// through semihosting. See the module doc: a device uses its hardware TRNG.
pub struct TestEntropy;

impl TestEntropy {
    /// The generator, or `None` if the host would not give a seed.
    #[allow(unsafe_code)]
    pub fn rng() -> Option<ChaCha20Rng> {
        let path = b"/dev/urandom\0";
        // SAFETY: semihosting OPEN takes a pointer to a NUL-terminated name, a mode and
        // the name's length without the NUL; the name outlives the call.
        let fd = unsafe {
            cortex_m_semihosting::syscall!(
                OPEN,
                path.as_ptr(),
                cortex_m_semihosting::nr::open::R_BINARY,
                path.len() - 1
            )
        } as isize;
        if fd < 0 {
            return None;
        }
        let mut seed = [0u8; 32];
        // SAFETY: READ writes at most `seed.len()` bytes into `seed`, which is alive and
        // exclusively borrowed; it returns the number of bytes NOT read.
        let missing =
            unsafe { cortex_m_semihosting::syscall!(READ, fd, seed.as_mut_ptr(), seed.len()) };
        // SAFETY: CLOSE takes the handle OPEN returned.
        unsafe {
            cortex_m_semihosting::syscall!(CLOSE, fd);
        }
        (missing == 0).then(|| ChaCha20Rng::from_seed(seed))
    }
}
