//! [`Terminal`]: a scenario's hands and eyes. It types on `dev`, `dev/ctrl` and
//! `dev/paste`, reads `web` and `status`, and waits for text with a deadline, printing
//! each step as it goes.
//!
//! It talks through a [`ChannelLink`]: a persistent session, so output the device
//! publishes while the terminal itself is reconnecting (a broker restart) is queued by the
//! broker and still arrives; it reconnects by itself.

use std::time::{Duration, Instant};

use altair_cloud::channel::{CONNECT_TIMEOUT, ChannelLink, connect_failure};

use crate::{Failure, Target};

/// How long a step waits by default (CP/M's boot from a cold start through the broker
/// takes well under a second locally; a real device on a distant broker gets headroom).
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// How many bytes of recent output a failure shows.
const TAIL: usize = 600;

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
    link: ChannelLink,
    /// `altair/<ch>/web` and `altair/<ch>/status`, to sort what arrives.
    web_topic: String,
    status_topic: String,
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
            link: ChannelLink::new(
                target.endpoint.clone(),
                &target.channel,
                client_id,
                &["web", "status"],
            ),
            web_topic: target.topic("web"),
            status_topic: target.topic("status"),
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
        // Where the search resumes: output already searched is not searched again (bulk
        // output arrives 256 bytes at a time), except for a match it may end inside.
        let mut from = self.cursor;
        loop {
            if let Some(at) = find(&self.output[from..], text.as_bytes()) {
                let end = from + at + text.len();
                let seen = String::from_utf8_lossy(&self.output[self.cursor..end]).into_owned();
                self.cursor = end;
                self.done(started);
                return Ok(seen);
            }
            if Instant::now() >= deadline {
                return Err(self.missed(&format!("{text:?} did not appear within {limit:?}")));
            }
            from = self
                .output
                .len()
                .saturating_sub(text.len().saturating_sub(1))
                .max(self.cursor);
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
                // Quiet long enough for everything the Ctrl-C and the Enter give to have
                // come (two prompts, and a warm boot's disk reads between them), from a
                // device on a slow link (the QEMU image's UART) as well.
                self.settle(Duration::from_millis(1_500), Duration::from_secs(6))?;
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
        if !self.link.is_connected() {
            self.reconnect(deadline.max(Instant::now() + CONNECT_TIMEOUT))?;
        }
        match self.link.receive(deadline) {
            Ok(Some(message)) => {
                if message.topic == self.web_topic {
                    self.arrivals.push((Instant::now(), self.output.len()));
                    self.output.extend_from_slice(&message.payload);
                } else if message.topic == self.status_topic {
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
                Ok(())
            }
        }
    }

    /// Publishes at QoS 1; the link reconnects and sends again once if the connection
    /// had gone.
    fn publish(&mut self, leaf: &str, payload: &[u8]) -> Result<(), Failure> {
        self.link
            .publish(leaf, payload, Instant::now() + STEP_TIMEOUT)
            .map_err(|fault| {
                Failure(format!(
                    "cannot publish on {}: {fault}",
                    self.link.topic(leaf)
                ))
            })
    }

    /// Connects and subscribes, retrying until `deadline` while the broker is away; a
    /// refused login or certificate fails at once.
    fn reconnect(&mut self, deadline: Instant) -> Result<(), Failure> {
        self.link
            .connect(deadline)
            .map(drop)
            .map_err(|fault| Failure(connect_failure(&self.target.endpoint.url, &fault)))
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
        // Leave nothing behind on the broker.
        self.link.close();
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
