//! The guest as a platform's run loop drives it: the machine, its terminal session, the
//! virtual disk when a drive is one, and real-speed pacing.
//!
//! A run loop (host-sim's `mqtt` mode, the device's) owns the link; each turn it calls
//! [`Guest::step`] to run a batch, [`Guest::flush`] to hand what is due to the link, and
//! [`Guest::on_message`] for each message received, then waits for the network for as
//! long as [`Guest::step`]'s [`Ran`] and [`Guest::next_deadline_ms`] allow. What is
//! common to every platform is here, so that no loop has its own copy.
//!
//! Time is embassy-time's, as for the rest of the firmware (the link's timeouts,
//! minimq): the platform registers its driver, and the deadlines here are on that clock.

use crate::machine::{Altair, Stop};
use crate::net::LinkError;
use crate::pace::Pacer;
use crate::platform::BlockStorage;
use crate::session::{Outgoing, Session, Transmit};
use crate::vdisk::VirtualDisk;
use embassy_time::Instant;

/// A drive's storage that may be the virtual disk.
pub trait VirtualDrive {
    /// The virtual disk, if this storage is it.
    fn virtual_disk(&mut self) -> Option<&mut VirtualDisk>;
}

impl VirtualDrive for &mut VirtualDisk {
    fn virtual_disk(&mut self) -> Option<&mut VirtualDisk> {
        Some(self)
    }
}

/// What one [`Guest::step`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ran {
    /// The CPU is stopped for the monitor.
    Monitor,
    /// A paced guest is ahead of real time.
    Paced,
    /// It ran a batch, which ended for this reason.
    Stopped(Stop),
}

impl Ran {
    /// Whether the guest now waits for something from outside (a key, the disk server,
    /// the monitor) or for real time, so the loop may sleep until the network wakes it.
    pub fn waits(self) -> bool {
        matches!(
            self,
            Ran::Monitor | Ran::Paced | Ran::Stopped(Stop::Idle | Stop::Halted | Stop::Storage)
        )
    }
}

/// The machine, its session and its pacing, borrowed for a run loop.
pub struct Guest<'a, S> {
    machine: &'a mut Altair<S>,
    session: &'a mut Session,
    /// The drive whose storage is the virtual disk, if any (the first such drive).
    disk_drive: Option<usize>,
    /// Real-speed pacing, if asked for.
    pacer: Option<Pacer>,
    /// The guest waited (idle, monitor): the pacer starts afresh when it runs.
    rebase: bool,
}

impl<'a, S: BlockStorage + VirtualDrive> Guest<'a, S> {
    /// The guest of `machine` and `session`, paced to `hz` states per second if given
    /// (flat out otherwise).
    pub fn new(machine: &'a mut Altair<S>, session: &'a mut Session, hz: Option<u64>) -> Self {
        let pacer = hz.map(|hz| Pacer::new(hz, Instant::now().as_micros(), machine.cpu.cycles));
        let disk_drive = (0..crate::machine::disk::DRIVES).find(|&n| {
            machine
                .devices
                .disks
                .storage_mut(n)
                .is_some_and(|storage| storage.virtual_disk().is_some())
        });
        Guest {
            machine,
            session,
            disk_drive,
            pacer,
            rebase: false,
        }
    }

    /// The machine.
    pub fn machine(&self) -> &Altair<S> {
        self.machine
    }

    /// The pacing, if any (its microseconds are embassy-time's).
    pub fn pacer(&self) -> Option<&Pacer> {
        self.pacer.as_ref()
    }

    /// The virtual disk, if a drive is one.
    pub fn virtual_disk(&mut self) -> Option<&mut VirtualDisk> {
        self.machine
            .devices
            .disks
            .storage_mut(self.disk_drive?)?
            .virtual_disk()
    }

    /// The link is up: the session and the virtual disk subscribe and resend.
    pub fn connected(&mut self) {
        self.session.connected();
        if let Some(disk) = self.virtual_disk() {
            disk.connected();
        }
    }

    /// The link is down: both buffer until it is back.
    pub fn disconnected(&mut self) {
        self.session.disconnected();
        if let Some(disk) = self.virtual_disk() {
            disk.disconnected();
            info!("virtual disk: {:?}", disk.stats());
        }
    }

    /// Runs one batch of at most `max_batch` states (less when pacing allows less),
    /// unless the CPU is stopped for the monitor or a paced guest is ahead of real time.
    pub fn step(&mut self, max_batch: u64) -> Ran {
        let now = Instant::now();
        if self.session.in_monitor() {
            self.rebase = true;
            return Ran::Monitor;
        }
        let cycles = self.machine.cpu.cycles;
        let mut batch = max_batch;
        if let Some(pacer) = self.pacer.as_mut() {
            if core::mem::take(&mut self.rebase) {
                pacer.rebase(now.as_micros(), cycles);
            }
            batch = batch.min(pacer.allowance(now.as_micros(), cycles));
        }
        if batch == 0 {
            return Ran::Paced;
        }
        let stop = self.machine.run(batch);
        self.session.after_run(stop, self.machine, now.as_millis());
        if stop == Stop::Idle {
            self.rebase = true;
        }
        Ran::Stopped(stop)
    }

    /// Hands the virtual disk's transmits, then the session's, to `send` (the disk's
    /// first: the guest waits on them). `Ok(true)` when the link had no room for one
    /// ([`LinkError::Busy`]; it stays due); any other error means the connection failed.
    pub fn flush(
        &mut self,
        mut send: impl FnMut(Transmit<'_>) -> Result<(), LinkError>,
    ) -> Result<bool, LinkError> {
        let now_ms = Instant::now().as_millis();
        let disk = match self.virtual_disk() {
            Some(disk) => disk.flush(now_ms, &mut send).map(drop),
            None => Ok(()),
        };
        match disk.and_then(|()| self.session.flush(now_ms, &mut send).map(drop)) {
            Ok(()) => Ok(false),
            Err(LinkError::Busy) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// The earlier of the session's and the virtual disk's next deadlines, in
    /// milliseconds on embassy-time's clock.
    pub fn next_deadline_ms(&mut self) -> Option<u64> {
        let session = self.session.next_deadline_ms();
        let disk = self.virtual_disk().and_then(|d| d.next_deadline_ms());
        session.into_iter().chain(disk).min()
    }

    /// A message from the link: the virtual disk's, or else the session's.
    pub fn on_message(&mut self, topic: &str, payload: &[u8]) {
        let now_ms = Instant::now().as_millis();
        if let Some(disk) = self.virtual_disk()
            && disk.on_message(topic, payload)
        {
            return;
        }
        self.session
            .on_message(topic, payload, self.machine, now_ms);
    }
}
