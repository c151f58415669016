//! The device's run loop: the guest in batches, the terminal session and the virtual disk
//! through the link, reconnecting with backoff. It follows host-sim's `mqtt` loop step
//! for step, without an OS: where host-sim sleeps in `poll`, this one polls the UART.

use altair_sphere::config::{CHANNEL, MQTT_HOST};
use altair_sphere::firmware::guest::{Guest, Ran};
use altair_sphere::firmware::machine::{Altair, Stop};
use altair_sphere::firmware::net::{
    Backoff, Connected, Credentials, Inbound, Link, LinkBuffers, LinkConfig, LinkError, Received,
    Reconnect, block_on,
};
use altair_sphere::firmware::session::{self, Session, Transmit};
use altair_sphere::firmware::vdisk::VirtualDisk;
use embassy_time::{Duration, Instant};
use rand_chacha::ChaCha20Rng;

use crate::board::{Uart0, UartStream};

/// The bound on one subscribe, publish or DISCONNECT.
const IO_TIMEOUT: Duration = Duration::from_secs(20);
/// The first bound on a TLS handshake and CONNECT exchange, which take about 0.3 s here:
/// short, so that a ClientHello lost while QEMU had no socket (the broker was down) is
/// sent again soon after the broker is back. It doubles with each failure in a row, up
/// to [`IO_TIMEOUT`], so a slow host still gets there.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1_000);
/// The MQTT keepalive. QEMU gives the guest no signal when the socket behind UART0
/// drops, so silence for this long is how the firmware notices: 2 s keeps a broker
/// restart under 5 s of outage, for a ping of a few bytes each second.
const KEEPALIVE_SECS: u16 = 2;
/// Silence on the UART after which the link counts as dead: the broker answers each
/// keepalive ping, so in one and a half keepalives at least one byte must have come.
/// (minimq's own limit adds 5 s to the ping, too long to notice a broker restart.)
const LINK_SILENCE_US: u64 = KEEPALIVE_SECS as u64 * 1_500_000;
/// How long the broker keeps the session after the link drops.
const SESSION_EXPIRY_SECS: u32 = 3_600;
/// 8080 states per batch between looks at the link: 5 ms of a 2 MHz Altair.
const BATCH: u64 = 10_000;
/// The batch while bytes are arriving. UART0 holds one received byte and QEMU hands the
/// next only after it is read, so the link reads about one byte per look: short batches
/// keep acknowledgements and replies flowing while the guest is busy.
const BUSY_LINK_BATCH: u64 = 500;
/// How long the UART must have been quiet before the loop sleeps between looks: 5 ms,
/// far longer than the gap between bytes of one burst (about 33 us at QEMU's rate).
const IDLE_AFTER_QUIET_US: u64 = 5_000;
/// Inbound messages taken per look, before the guest runs again.
const MESSAGES_PER_POLL: usize = 16;
/// The MQTT client id's capacity.
const CLIENT_ID_LEN: usize = 72;
/// How long QEMU takes to reopen the socket behind UART0 after the broker closes it
/// (`reconnect=1` waits one second): bytes written meanwhile are lost, so a handshake
/// started sooner would wait for a reply to a ClientHello nobody received.
const RECONNECT_SETTLE: Duration = Duration::from_millis(1_500);

/// Everything the loop drives.
pub struct Device<'d> {
    /// The network.
    pub uart: &'d mut Uart0,
    /// TEST-ONLY randomness (see `board::TestEntropy`).
    pub rng: &'d mut ChaCha20Rng,
    /// The Altair, drive A on the disk server.
    pub machine: &'d mut Altair<&'static mut VirtualDisk>,
    /// The terminal session.
    pub session: &'d mut Session,
    /// The link's buffers.
    pub buffers: &'d mut LinkBuffers,
    /// The baked certificates.
    pub credentials: Credentials<'d>,
    /// Nothing to boot: open the monitor first.
    pub start_in_monitor: bool,
    /// The clock rate to pace the guest at, in Hz; `None` runs flat out.
    pub hz: Option<u64>,
}

/// The `mhz=F` word of QEMU's command line (`-append mhz=2`, or `mhz=0.5`), as a clock
/// rate in Hz, if any and valid. Parsed by hand: core's float parsing would add 16 KiB
/// of tables to a flash budget with little room.
pub fn mhz_option(line: &str) -> Option<u64> {
    let text = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("mhz="))?;
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    // Up to 999,999 MHz, to the Hz.
    if whole.len() > 6 || fraction.len() > 6 {
        return None;
    }
    let mut hz: u64 = 0;
    for c in whole.chars().chain(fraction.chars()) {
        hz = hz * 10 + u64::from(c.to_digit(10)?);
    }
    for _ in fraction.len()..6 {
        hz *= 10;
    }
    (hz > 0).then_some(hz)
}

fn now_ms() -> u64 {
    Instant::now().as_millis()
}

/// Runs for ever.
pub fn run(device: Device<'_>) -> ! {
    let Device {
        uart,
        rng,
        machine,
        session,
        buffers,
        credentials,
        start_in_monitor,
        hz,
    } = device;
    if start_in_monitor {
        session.enter_monitor(machine, now_ms());
    }
    let mut client_id = heapless::String::<CLIENT_ID_LEN>::new();
    let _ = client_id.push_str("altair-");
    let _ = client_id.push_str(CHANNEL);
    let status =
        heapless::String::<{ session::MAX_TOPIC_LEN }>::try_from(session.topics().status())
            .unwrap_or_default();
    let mut link = match Link::new(
        buffers,
        LinkConfig {
            host: MQTT_HOST,
            client_id: &client_id,
            status_topic: &status,
            keepalive_secs: KEEPALIVE_SECS,
            session_expiry_secs: SESSION_EXPIRY_SECS,
            credentials,
        },
    ) {
        Ok(link) => link,
        Err(e) => crate::fail("MQTT link", &e),
    };
    let mut guest = BoardGuest {
        guest: Guest::new(machine, session, hz),
        reported: false,
    };
    let mut reconnect = Reconnect::new(Backoff::DEFAULT);
    loop {
        while Instant::now() < reconnect.not_before() {
            if guest.step() {
                crate::board::idle();
            }
        }
        drain(uart);
        log::info!("connecting to {MQTT_HOST} over UART0");
        let timeout = CONNECT_TIMEOUT * (1 << reconnect.failures().min(5));
        match connect(&mut link, uart, rng, timeout.min(IO_TIMEOUT)) {
            Ok(mut conn) => {
                reconnect.connected(Instant::now());
                log::info!("connected; terminal on altair/{CHANNEL}/web");
                guest.guest.connected();
                let e = serve(&mut conn, &mut guest);
                drop(conn);
                guest.guest.disconnected();
                log::warn!("link lost: {e}; output is buffered");
                report_footprint();
            }
            Err(e) => log::warn!("cannot connect: {e}"),
        }
        reconnect.failed(rng, Instant::now());
        drain(uart);
    }
}

/// Throws away bytes left from a dead connection, so a new handshake starts clean.
fn drain(uart: &mut Uart0) {
    while uart.read().is_ok() {}
}

/// Waits [`RECONNECT_SETTLE`] for QEMU to reopen the socket, then drains the UART.
fn settle(uart: &mut Uart0) {
    let until = Instant::now() + RECONNECT_SETTLE;
    while Instant::now() < until {
        drain(uart);
    }
}

/// TLS and MQTT over the UART; first a clean-start session traded for a resumable one
/// (as host-sim does, see `Link::will_clean_start`).
fn connect<'l, 'b, 'u>(
    link: &'l mut Link<'b>,
    uart: &'u mut Uart0,
    rng: &mut ChaCha20Rng,
    timeout: Duration,
) -> Result<Connected<'l, 'b, UartStream<'u>>, LinkError> {
    if link.will_clean_start() {
        clean_start(link, uart, rng, timeout)?;
    }
    block_on(link.connect(UartStream(uart), rng, timeout))
}

/// The first connection after boot, left at once. Out of line, so that its handshake's
/// future and the next one's share the same stack instead of taking two frames' worth.
#[inline(never)]
fn clean_start(
    link: &mut Link<'_>,
    uart: &mut Uart0,
    rng: &mut ChaCha20Rng,
    timeout: Duration,
) -> Result<(), LinkError> {
    let conn = block_on(link.connect(UartStream(&mut *uart), rng, timeout))?;
    block_on(conn.leave(IO_TIMEOUT))?;
    log::info!("left the clean-start session; reconnecting to resume one");
    settle(uart);
    Ok(())
}

/// Serves one connection until it fails.
fn serve(conn: &mut Connected<'_, '_, UartStream<'_>>, guest: &mut BoardGuest<'_>) -> LinkError {
    let mut inbound = Inbound::<128, 512>::new();
    loop {
        if crate::board::uart_quiet_for_us() > LINK_SILENCE_US {
            return LinkError::Timeout;
        }
        let waiting = guest.step();
        if let Err(e) = guest.flush(conn) {
            return e;
        }
        let mut quiet = true;
        for _ in 0..MESSAGES_PER_POLL {
            match block_on(conn.poll(&mut inbound, Duration::from_ticks(0))) {
                Ok(Received::Message) => {
                    quiet = false;
                    guest.on_message(&inbound.topic, &inbound.payload);
                }
                Ok(Received::Dropped { .. }) => quiet = false,
                Ok(Received::Idle) => break,
                Err(e) => return e,
            }
        }
        // The UART holds one byte: sleeping while bytes still flow would read one per
        // tick. Sleep only once the line has been quiet for a while.
        if waiting
            && quiet
            && crate::board::uart_quiet_for_us() > IDLE_AFTER_QUIET_US
            && !guest.due()
        {
            crate::board::idle();
        }
    }
}

/// Sends one transmit; [`LinkError::Busy`] if the link has no room now.
fn send(conn: &mut Connected<'_, '_, UartStream<'_>>, t: Transmit<'_>) -> Result<(), LinkError> {
    block_on(conn.send(t, IO_TIMEOUT))
}

/// The firmware's [`Guest`] with the board's batch sizes; the virtual disk is drive A.
struct BoardGuest<'d> {
    guest: Guest<'d, &'static mut VirtualDisk>,
    /// The footprint was logged (at the first idle).
    reported: bool,
}

impl BoardGuest<'_> {
    /// One batch, unless the CPU is stopped for the monitor. `true` when the guest waits
    /// (for a key, the disk, the monitor or real time), so the loop may sleep.
    fn step(&mut self) -> bool {
        let batch = if crate::board::uart_quiet_for_us() < IDLE_AFTER_QUIET_US {
            BUSY_LINK_BATCH
        } else {
            BATCH
        };
        let ran = self.guest.step(batch);
        if ran == Ran::Stopped(Stop::Idle) && !self.reported {
            // The first wait for a key: booted, with TLS, MQTT and the disk all used.
            self.reported = true;
            report_footprint();
        }
        ran.waits()
    }

    /// The disk's transmits, then the session's; a busy link keeps them for later.
    fn flush(&mut self, conn: &mut Connected<'_, '_, UartStream<'_>>) -> Result<(), LinkError> {
        self.guest.flush(|t| send(conn, t)).map(drop)
    }

    /// Whether the session or the disk has something to send now.
    fn due(&mut self) -> bool {
        self.guest
            .next_deadline_ms()
            .is_some_and(|at| at <= now_ms())
    }

    fn on_message(&mut self, topic: &str, payload: &[u8]) {
        self.guest.on_message(topic, payload);
    }
}

/// The value the stack is painted with at boot.
const PAINT: u32 = 0xA5A5_A5A5;

unsafe extern "C" {
    static mut _stack_start: u32;
    static mut __ebss: u32;
}

/// Fills the free stack (between the end of .bss and the current stack pointer, less a
/// margin for this function) with [`PAINT`], so [`stack_used`] can find the deepest use.
#[allow(unsafe_code)]
pub fn paint_stack() {
    let here = cortex_m::register::msp::read() as usize - 64;
    // Only the address of the linker's symbol is taken (no `unsafe` needed for that).
    let bottom = core::ptr::addr_of!(__ebss) as usize;
    let mut addr = (bottom + 3) & !3;
    while addr < here {
        // SAFETY: [end of .bss, current SP - 64) is RAM that nothing uses yet: the stack
        // grows down from `_stack_start` and has not reached it.
        unsafe { core::ptr::write_volatile(addr as *mut u32, PAINT) };
        addr += 4;
    }
}

/// The deepest the stack has reached since [`paint_stack`], in bytes.
#[allow(unsafe_code)]
pub fn stack_used() -> usize {
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let bottom = (core::ptr::addr_of!(__ebss) as usize + 3) & !3;
    let mut addr = bottom;
    // SAFETY: [bottom, top) is the stack region, always readable RAM.
    while addr < top && unsafe { core::ptr::read_volatile(addr as *const u32) } == PAINT {
        addr += 4;
    }
    top - addr
}

/// Logs the measured stack peak (the footprint script reads it).
pub fn report_footprint() {
    log::info!("footprint: stack peak {} bytes", stack_used());
}
