//! [`Terminal`]: a scenario's hands and eyes. It types on `dev`, `dev/ctrl` and
//! `dev/paste`, reads `web` and `status`, and waits for text with a deadline, printing
//! each step as it goes.
//!
//! Its MQTT session is persistent (clean session off, subscriptions at QoS 1), so output
//! the device publishes while the terminal itself is reconnecting (a broker restart) is
//! queued by the broker and still arrives; it reconnects by itself.

use std::time::{Duration, Instant};

use altair_cloud::mqtt::{Connect, Fault, QoS, Session, Transport};

use crate::{Failure, Target};

/// How long a step waits by default (CP/M's boot from a cold start through the broker
/// takes well under a second locally; a real device on a distant broker gets headroom).
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one connection attempt may take (TCP, TLS, WebSocket upgrade, CONNACK).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How many bytes of recent output a failure shows.
const TAIL: usize = 600;

type Link = Session<Box<dyn Transport + Send>>;

/// A message the device published on `status`.
#[derive(Debug, Clone)]
pub struct Status {
    /// When it arrived.
    pub at: Instant,
    /// Its payload (`online` or `offline`).
    pub state: String,
    /// Published while the terminal listened, not a retained copy replayed on subscribing.
    pub live: bool,
}

/// A terminal attached to a device through the broker.
pub struct Terminal {
    target: Target,
    client_id: String,
    link: Option<Link>,
    /// Every byte the device published on `web`, in order.
    output: Vec<u8>,
    /// Where the next [`Terminal::wait_for`] starts looking.
    cursor: usize,
    /// Every `status` message.
    statuses: Vec<Status>,
    /// Where the next status wait starts looking.
    status_cursor: usize,
    /// Every `web` message: when it arrived and where it starts in `output`.
    arrivals: Vec<(Instant, usize)>,
    /// Print each step (tests: the harness shows them when one fails).
    verbose: bool,
}

impl Terminal {
    /// Connects to the target's broker as client `client_id` and subscribes to the device's
    /// output and status.
    pub fn attach(target: &Target, client_id: &str) -> Result<Terminal, Failure> {
        let mut term = Terminal {
            target: target.clone(),
            client_id: client_id.to_owned(),
            link: None,
            output: Vec::new(),
            cursor: 0,
            statuses: Vec::new(),
            status_cursor: 0,
            arrivals: Vec::new(),
            verbose: true,
        };
        term.step(format_args!(
            "attach to {} as {client_id}",
            target.endpoint.url
        ));
        term.reconnect(Instant::now() + STEP_TIMEOUT)?;
        Ok(term)
    }

    /// Stops printing each step (a benchmark types thousands of keys).
    pub fn quiet(&mut self) {
        self.verbose = false;
    }

    /// Prints a step (a test's output shows what it was doing when it failed).
    fn step(&self, what: std::fmt::Arguments<'_>) {
        if self.verbose {
            println!("[hil] {what}");
        }
    }

    /// Prints how long the step took.
    fn done(&self, started: Instant) {
        if self.verbose {
            println!("[hil]   ok after {:.3} s", started.elapsed().as_secs_f64());
        }
    }

    /// The target this terminal drives.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Types `text` as one `dev` message (the original terminal's line mode sends a whole
    /// line ending in `\r` this way).
    pub fn type_text(&mut self, text: &str) -> Result<(), Failure> {
        self.step(format_args!("type {text:?}"));
        self.publish("dev", text.as_bytes())
    }

    /// Types `text` one key per `dev` message, as character mode does.
    pub fn type_keys(&mut self, text: &str) -> Result<(), Failure> {
        self.step(format_args!("type keys {text:?}"));
        for key in text.as_bytes() {
            self.publish("dev", std::slice::from_ref(key))?;
        }
        Ok(())
    }

    /// Presses Ctrl-`letter` (`dev/ctrl`); `M` toggles the device's front-panel monitor.
    pub fn ctrl(&mut self, letter: char) -> Result<(), Failure> {
        self.step(format_args!("press Ctrl-{letter}"));
        let mut buf = [0; 4];
        self.publish("dev/ctrl", letter.encode_utf8(&mut buf).as_bytes())
    }

    /// Pastes `text` on `dev/paste` in chunks of at most 256 bytes, as the terminals do.
    pub fn paste(&mut self, text: &str) -> Result<(), Failure> {
        self.step(format_args!("paste {} bytes", text.len()));
        for chunk in text.as_bytes().chunks(256) {
            self.publish("dev/paste", chunk)?;
        }
        Ok(())
    }

    /// Publishes raw `payload` on `altair/<ch>/<leaf>` at QoS 1: for the tests of bad input.
    pub fn send_raw(&mut self, leaf: &str, payload: &[u8]) -> Result<(), Failure> {
        self.step(format_args!("publish {} bytes on {leaf}", payload.len()));
        self.publish(leaf, payload)
    }

    /// Waits (up to [`STEP_TIMEOUT`]) until `text` appears in the output after the last
    /// match, and returns the output from there up to and including `text`.
    pub fn wait_for(&mut self, text: &str) -> Result<String, Failure> {
        self.wait_for_within(text, STEP_TIMEOUT)
    }

    /// [`Terminal::wait_for`] with its own time limit.
    pub fn wait_for_within(&mut self, text: &str, limit: Duration) -> Result<String, Failure> {
        self.step(format_args!("wait for {text:?}"));
        let started = Instant::now();
        let deadline = started + limit;
        loop {
            if let Some(at) = find(&self.output[self.cursor..], text.as_bytes()) {
                let end = self.cursor + at + text.len();
                let seen = String::from_utf8_lossy(&self.output[self.cursor..end]).into_owned();
                self.cursor = end;
                self.done(started);
                return Ok(seen);
            }
            if Instant::now() >= deadline {
                return Err(self.missed(&format!("{text:?} did not appear within {limit:?}")));
            }
            self.pump(deadline)?;
        }
    }

    /// Waits until `status` says `state` (`online` or `offline`), retained or live, after
    /// the last status matched; returns when that message arrived.
    pub fn wait_status(&mut self, state: &str, limit: Duration) -> Result<Instant, Failure> {
        self.wait_status_where(state, limit, false)
    }

    /// Waits until the device publishes `state` on `status` while this terminal listens
    /// (not the retained copy a subscription replays): proof that the device itself just
    /// said it, e.g. after reconnecting.
    pub fn wait_live_status(&mut self, state: &str, limit: Duration) -> Result<Instant, Failure> {
        self.wait_status_where(state, limit, true)
    }

    fn wait_status_where(
        &mut self,
        state: &str,
        limit: Duration,
        live_only: bool,
    ) -> Result<Instant, Failure> {
        let kind = if live_only { "live status" } else { "status" };
        self.step(format_args!("wait for {kind} {state:?}"));
        let started = Instant::now();
        let deadline = started + limit;
        loop {
            let found = self.statuses[self.status_cursor..]
                .iter()
                .position(|s| s.state == state && (s.live || !live_only));
            if let Some(i) = found {
                let at = self.statuses[self.status_cursor + i].at;
                self.status_cursor += i + 1;
                self.done(started);
                return Ok(at);
            }
            if Instant::now() >= deadline {
                return Err(self.missed(&format!(
                    "{kind} {state:?} did not arrive within {limit:?} (statuses seen: {:?})",
                    self.statuses
                )));
            }
            self.pump(deadline)?;
        }
    }

    /// Collects output until none has come for `quiet` (or `limit` passes).
    pub fn settle(&mut self, quiet: Duration, limit: Duration) -> Result<(), Failure> {
        let deadline = Instant::now() + limit;
        loop {
            let before = self.output.len();
            let until = (Instant::now() + quiet).min(deadline);
            while Instant::now() < until {
                self.pump(until)?;
            }
            if self.output.len() == before || Instant::now() >= deadline {
                return Ok(());
            }
        }
    }

    /// Gets to the CP/M prompt from wherever the device is: Ctrl-C (a warm boot at the
    /// prompt, a break in most programs), then Enter until `A>` shows.
    pub fn at_cpm_prompt(&mut self) -> Result<(), Failure> {
        self.step(format_args!("get to the CP/M prompt"));
        for _ in 0..3 {
            self.forget_so_far();
            self.ctrl('C')?;
            self.type_text("\r")?;
            if self.wait_for_within("A>", Duration::from_secs(10)).is_ok() {
                self.settle(Duration::from_millis(200), Duration::from_secs(2))?;
                self.forget_so_far();
                return Ok(());
            }
        }
        Err(self.missed("the CP/M prompt A> did not come back after Ctrl-C and Enter"))
    }

    /// Forgets the output and statuses so far: the next waits look only at what comes
    /// after.
    pub fn forget_so_far(&mut self) {
        self.cursor = self.output.len();
        self.status_cursor = self.statuses.len();
    }

    /// Every byte of output received so far.
    pub fn output(&self) -> &[u8] {
        &self.output
    }

    /// When each `web` message arrived and at which offset of [`Terminal::output`] it starts.
    pub fn arrivals(&self) -> &[(Instant, usize)] {
        &self.arrivals
    }

    /// Every `status` message so far.
    pub fn statuses(&self) -> &[Status] {
        &self.statuses
    }

    /// Receives for at most until `deadline`: one message, or nothing. A lost connection
    /// is reconnected.
    pub fn pump(&mut self, deadline: Instant) -> Result<(), Failure> {
        let link = self.link(deadline)?;
        // A keep-alive ping is due long before the next step's deadline would notice.
        let until = link.ping_due().map_or(deadline, |due| due.min(deadline));
        let result = link.receive(until).and_then(|message| {
            if message.is_none() && link.ping_due().is_some_and(|due| due <= Instant::now()) {
                link.ping(Instant::now() + CONNECT_TIMEOUT)?;
            }
            Ok(message)
        });
        match result {
            Ok(Some(message)) => {
                let web = self.target.topic("web");
                let status = self.target.topic("status");
                if message.topic == web {
                    self.arrivals.push((Instant::now(), self.output.len()));
                    self.output.extend_from_slice(&message.payload);
                } else if message.topic == status {
                    self.statuses.push(Status {
                        at: Instant::now(),
                        state: String::from_utf8_lossy(&message.payload).into_owned(),
                        live: !message.retain,
                    });
                }
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(fault) => {
                self.step(format_args!("connection lost ({fault}); reconnecting"));
                self.link = None;
                Ok(())
            }
        }
    }

    /// The connected session, reconnecting first if needed.
    fn link(&mut self, deadline: Instant) -> Result<&mut Link, Failure> {
        if self.link.is_none() {
            self.reconnect(deadline.max(Instant::now() + CONNECT_TIMEOUT))?;
        }
        Ok(self.link.as_mut().expect("connected above"))
    }

    /// Publishes at QoS 1, reconnecting and sending again once if the connection had gone.
    fn publish(&mut self, leaf: &str, payload: &[u8]) -> Result<(), Failure> {
        let topic = self.target.topic(leaf);
        for attempt in 0..2 {
            let deadline = Instant::now() + CONNECT_TIMEOUT;
            let link = self.link(Instant::now() + STEP_TIMEOUT)?;
            match link.publish(&topic, payload, QoS::AtLeastOnce, false, deadline) {
                Ok(()) => return Ok(()),
                Err(fault) if attempt == 0 => {
                    self.step(format_args!("publish failed ({fault}); reconnecting"));
                    self.link = None;
                }
                Err(fault) => return Err(Failure(format!("cannot publish on {topic}: {fault}"))),
            }
        }
        unreachable!("the second attempt returns")
    }

    /// Connects and subscribes, retrying until `deadline` while the broker is away; a
    /// refused login or certificate fails at once.
    fn reconnect(&mut self, deadline: Instant) -> Result<(), Failure> {
        let mut last = None;
        while Instant::now() < deadline {
            match self.open() {
                Ok(link) => {
                    self.link = Some(link);
                    return Ok(());
                }
                Err(fault @ (Fault::ConnAck(_) | Fault::Tls(_) | Fault::Setup(_))) => {
                    return Err(Failure(format!(
                        "cannot log in to {}: {fault}",
                        self.target.endpoint.url
                    )));
                }
                Err(fault) => last = Some(fault),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(Failure(format!(
            "cannot reach {}: {}",
            self.target.endpoint.url,
            last.map_or_else(|| "no time left".to_owned(), |f| f.to_string())
        )))
    }

    fn open(&self) -> Result<Link, Fault> {
        let mut link = Session::new(self.target.endpoint.open(CONNECT_TIMEOUT)?);
        let login = Connect {
            clean_session: false,
            credentials: self.target.endpoint.login(),
            ..Connect::new(&self.client_id)
        };
        link.connect(&login, Instant::now() + CONNECT_TIMEOUT)?;
        for leaf in ["web", "status"] {
            let filter = self.target.topic(leaf);
            link.subscribe(&filter, QoS::AtLeastOnce, Instant::now() + CONNECT_TIMEOUT)?;
        }
        Ok(link)
    }

    /// A failure for `what`, with the output since the last match.
    fn missed(&self, what: &str) -> Failure {
        let start = self.cursor.max(self.output.len().saturating_sub(TAIL));
        Failure(format!(
            "{what}\n--- output since the last step ({} bytes, last {} shown) ---\n{}\n---",
            self.output.len() - self.cursor,
            self.output.len() - start,
            String::from_utf8_lossy(&self.output[start..])
        ))
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        // Leave nothing behind on the broker: a clean-session login drops our persistent
        // session (and what it queued), then DISCONNECT.
        self.link = None;
        if let Ok(transport) = self.target.endpoint.open(CONNECT_TIMEOUT) {
            let mut link = Session::new(transport);
            let login = Connect {
                credentials: self.target.endpoint.login(),
                ..Connect::new(&self.client_id)
            };
            if link
                .connect(&login, Instant::now() + CONNECT_TIMEOUT)
                .is_ok()
            {
                let _ = link.disconnect();
            }
        }
    }
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::find;

    #[test]
    fn find_locates_the_first_occurrence() {
        assert_eq!(find(b"A>DIR\r\nA>", b"A>"), Some(0));
        assert_eq!(find(b"xxA>", b"A>"), Some(2));
        assert_eq!(find(b"A", b"A>"), None);
        assert_eq!(find(b"", b""), Some(0));
    }
}
