//! The device's run loop: the guest in batches, the terminal session and the virtual disk
//! through the link, reconnecting with backoff. It follows host-sim's `mqtt` loop step
//! for step, without an OS: where host-sim sleeps in `poll`, this one polls the UART.

use altair_sphere::config::{CHANNEL, MQTT_HOST};
use altair_sphere::firmware::machine::{Altair, Stop};
use altair_sphere::firmware::net::{
    Backoff, Connected, Credentials, Inbound, Link, LinkBuffers, LinkConfig, LinkError, QoS,
    Received, Reconnect, block_on,
};
use altair_sphere::firmware::session::{self, Outgoing, Session, Transmit};
use altair_sphere::firmware::vdisk::VirtualDisk;
use embassy_time::{Duration, Instant};
use rand_chacha::ChaCha20Rng;

use crate::board::{Uart0, UartStream};

/// The bound on one TLS handshake, CONNECT exchange, subscribe or publish: long, since
/// the UART carries about 30 KB/s and a handshake moves a few kilobytes.
const IO_TIMEOUT: Duration = Duration::from_secs(20);
/// The MQTT keepalive: a dead link (QEMU reconnecting gives the guest no signal) is
/// noticed within one and a half of these.
const KEEPALIVE_SECS: u16 = 10;
/// How long the broker keeps the session after the link drops.
const SESSION_EXPIRY_SECS: u32 = 3_600;
/// 8080 states per batch between looks at the link: 5 ms of a 2 MHz Altair.
const BATCH: u64 = 10_000;
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
    let mut guest = Guest {
        machine,
        session,
        reported: false,
    };
    let mut reconnect = Reconnect::new(Backoff::DEFAULT);
    loop {
        while Instant::now() < reconnect.not_before() {
            guest.step();
        }
        drain(uart);
        log::info!("connecting to {MQTT_HOST} over UART0");
        match connect(&mut link, uart, rng) {
            Ok(mut conn) => {
                reconnect.connected(Instant::now());
                log::info!("connected; terminal on altair/{CHANNEL}/web");
                guest.connected();
                let e = serve(&mut conn, &mut guest);
                drop(conn);
                guest.disconnected();
                log::warn!("link lost: {e}; output is buffered");
                report_footprint();
            }
            Err(e) => log::warn!("cannot connect: {e}"),
        }
        reconnect.failed(rng, Instant::now());
        settle(uart);
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
) -> Result<Connected<'l, 'b, UartStream<'u>>, LinkError> {
    if link.will_clean_start() {
        clean_start(link, uart, rng)?;
    }
    block_on(link.connect(UartStream(uart), rng, IO_TIMEOUT))
}

/// The first connection after boot, left at once. Out of line, so that its handshake's
/// future and the next one's share the same stack instead of taking two frames' worth.
#[inline(never)]
fn clean_start(
    link: &mut Link<'_>,
    uart: &mut Uart0,
    rng: &mut ChaCha20Rng,
) -> Result<(), LinkError> {
    let conn = block_on(link.connect(UartStream(&mut *uart), rng, IO_TIMEOUT))?;
    block_on(conn.leave(IO_TIMEOUT))?;
    log::info!("left the clean-start session; reconnecting to resume one");
    settle(uart);
    Ok(())
}

/// Serves one connection until it fails.
fn serve(conn: &mut Connected<'_, '_, UartStream<'_>>, guest: &mut Guest<'_>) -> LinkError {
    let mut inbound = Inbound::<128, 512>::new();
    loop {
        guest.step();
        if let Err(e) = guest.flush(conn) {
            return e;
        }
        for _ in 0..MESSAGES_PER_POLL {
            match block_on(conn.poll(&mut inbound, Duration::from_ticks(0))) {
                Ok(Received::Message) => guest.on_message(&inbound.topic, &inbound.payload),
                Ok(Received::Dropped { .. }) => {}
                Ok(Received::Idle) => break,
                Err(e) => return e,
            }
        }
    }
}

/// Sends one transmit; [`LinkError::Busy`] if the link has no room now.
fn send(conn: &mut Connected<'_, '_, UartStream<'_>>, t: Transmit<'_>) -> Result<(), LinkError> {
    match t {
        Transmit::Subscribe(subscriptions) => {
            let topics: heapless::Vec<&str, { session::MAX_FILTERS }> =
                subscriptions.iter().map(|s| s.topic).collect();
            block_on(conn.subscribe(&topics, IO_TIMEOUT)).map(drop)
        }
        Transmit::Publish(p) => {
            let qos = match p.qos {
                session::QoS::AtMostOnce => QoS::AtMostOnce,
                session::QoS::AtLeastOnce => QoS::AtLeastOnce,
            };
            if !conn.can_publish(qos) {
                return Err(LinkError::Busy);
            }
            block_on(conn.publish(p.topic, p.payload, qos, p.retain, IO_TIMEOUT)).map(drop)
        }
    }
}

/// The machine and its terminal session; the virtual disk is drive A.
struct Guest<'d> {
    machine: &'d mut Altair<&'static mut VirtualDisk>,
    session: &'d mut Session,
    /// The footprint was logged (at the first idle).
    reported: bool,
}

impl Guest<'_> {
    fn disk(&mut self) -> Option<&mut VirtualDisk> {
        self.machine.devices.disks.storage_mut(0).map(|d| &mut **d)
    }

    fn connected(&mut self) {
        self.session.connected();
        if let Some(disk) = self.disk() {
            disk.connected();
        }
    }

    fn disconnected(&mut self) {
        self.session.disconnected();
        if let Some(disk) = self.disk() {
            disk.disconnected();
            log::info!("virtual disk: {:?}", disk.stats());
        }
    }

    /// One batch, unless the CPU is stopped for the monitor.
    fn step(&mut self) {
        if self.session.in_monitor() {
            return;
        }
        let stop = self.machine.run(BATCH);
        self.session.after_run(stop, self.machine, now_ms());
        if stop == Stop::Idle && !self.reported {
            // The first wait for a key: booted, with TLS, MQTT and the disk all used.
            self.reported = true;
            report_footprint();
        }
        if stop == Stop::Halted && !self.machine.cpu.inte {
            log::warn!("the CPU halted with interrupts off");
        }
    }

    /// The disk's transmits, then the session's; a busy link keeps them for later.
    fn flush(&mut self, conn: &mut Connected<'_, '_, UartStream<'_>>) -> Result<(), LinkError> {
        let now = now_ms();
        let disk = match self.disk() {
            Some(disk) => disk.flush(now, |t| send(conn, t)).map(drop),
            None => Ok(()),
        };
        match disk.and_then(|()| self.session.flush(now, |t| send(conn, t)).map(drop)) {
            Ok(()) | Err(LinkError::Busy) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn on_message(&mut self, topic: &str, payload: &[u8]) {
        if let Some(disk) = self.disk()
            && disk.on_message(topic, payload)
        {
            return;
        }
        self.session
            .on_message(topic, payload, self.machine, now_ms());
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
