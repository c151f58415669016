//! [`CutProxy`]: a TCP relay between the device and the broker that can cut the
//! connection in the middle of a TLS record, the nastiest moment for a link to drop: the
//! device has a record header promising bytes that never come.
//!
//! It relays each connection in both directions and watches the TLS record framing
//! (5-byte header, then `length` bytes). When armed with [`CutProxy::cut_next`], the next
//! record in that direction is passed on only half-way, then both sockets are shut down.
//! New connections (the device reconnecting) are relayed as before.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Which way the bytes flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the broker to the device.
    ToDevice,
    /// From the device to the broker.
    ToBroker,
}

/// Shared between the proxy's threads.
#[derive(Default)]
struct Control {
    /// A cut is wanted in this direction.
    armed: Mutex<Option<Direction>>,
    /// Cuts made so far.
    cuts: AtomicUsize,
    /// Connections accepted so far.
    connections: AtomicUsize,
    /// Live connections, to shut down when the proxy goes.
    live: Mutex<Vec<TcpStream>>,
    stopping: AtomicBool,
}

/// A relay on a loopback port to `127.0.0.1:upstream`; stops when dropped.
pub struct CutProxy {
    port: u16,
    control: Arc<Control>,
}

impl CutProxy {
    /// Listens on a free loopback port and relays every connection to `upstream`.
    pub fn start(upstream: u16) -> io::Result<CutProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        let control = Arc::new(Control::default());
        let shared = Arc::clone(&control);
        thread::spawn(move || {
            for client in listener.incoming() {
                if shared.stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                shared.connections.fetch_add(1, Ordering::SeqCst);
                relay(client, server, &shared);
            }
        });
        Ok(CutProxy { port, control })
    }

    /// The port the device should connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Arms a cut: the next TLS record flowing in `direction` is cut half-way.
    pub fn cut_next(&self, direction: Direction) {
        *lock(&self.control.armed) = Some(direction);
    }

    /// How many cuts have been made.
    pub fn cuts(&self) -> usize {
        self.control.cuts.load(Ordering::SeqCst)
    }

    /// How many connections have been relayed (the device's reconnects included).
    pub fn connections(&self) -> usize {
        self.control.connections.load(Ordering::SeqCst)
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.control.stopping.store(true, Ordering::SeqCst);
        for socket in lock(&self.control.live).drain(..) {
            let _ = socket.shutdown(Shutdown::Both);
        }
        // Wake the accept loop so it sees `stopping`.
        let _ = TcpStream::connect_timeout(
            &([127, 0, 0, 1], self.port).into(),
            Duration::from_millis(200),
        );
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Relays one connection in both directions on two threads.
fn relay(client: TcpStream, server: TcpStream, control: &Arc<Control>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let ends = || -> io::Result<[TcpStream; 4]> {
        Ok([
            client.try_clone()?,
            server.try_clone()?,
            server.try_clone()?,
            client.try_clone()?,
        ])
    };
    let Ok([c_read, s_write, s_read, c_write]) = ends() else {
        return;
    };
    {
        let mut live = lock(&control.live);
        if let (Ok(c), Ok(s)) = (client.try_clone(), server.try_clone()) {
            live.push(c);
            live.push(s);
        }
    }
    for (from, to, direction) in [
        (c_read, s_write, Direction::ToBroker),
        (s_read, c_write, Direction::ToDevice),
    ] {
        let control = Arc::clone(control);
        thread::spawn(move || pump(from, to, direction, &control));
    }
}

/// Copies `from` to `to` record by record, cutting a record when armed for `direction`.
fn pump(mut from: TcpStream, mut to: TcpStream, direction: Direction, control: &Control) {
    let mut framer = Framer::default();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut chunk = &buf[..n];
        while !chunk.is_empty() {
            let cut_here = {
                let mut armed = lock(&control.armed);
                // Cut only inside a record's body, once its header has gone out.
                if *armed == Some(direction) && framer.in_body_with(2) {
                    *armed = None;
                    true
                } else {
                    false
                }
            };
            if cut_here {
                let half = framer.body_left / 2;
                let take = half.min(chunk.len()).max(1);
                let _ = to.write_all(&chunk[..take]);
                control.cuts.fetch_add(1, Ordering::SeqCst);
                let _ = to.shutdown(Shutdown::Both);
                let _ = from.shutdown(Shutdown::Both);
                return;
            }
            let take = framer.next_step(chunk);
            if to.write_all(&chunk[..take]).is_err() {
                let _ = from.shutdown(Shutdown::Both);
                return;
            }
            chunk = &chunk[take..];
        }
    }
    let _ = to.shutdown(Shutdown::Both);
}

/// Tracks TLS record boundaries in a byte stream.
#[derive(Default)]
struct Framer {
    /// Header bytes seen of the current record (0 to 5).
    header: [u8; 5],
    header_len: usize,
    /// Body bytes still to come of the current record.
    body_left: usize,
}

impl Framer {
    /// Whether the stream is inside a record body with at least `n` bytes still to come.
    fn in_body_with(&self, n: usize) -> bool {
        self.header_len == 5 && self.body_left >= n
    }

    /// How many bytes of `chunk` belong to the current step (the rest of a header, or of
    /// a body); consumes them from the framing state.
    fn next_step(&mut self, chunk: &[u8]) -> usize {
        if self.header_len < 5 {
            let take = (5 - self.header_len).min(chunk.len());
            self.header[self.header_len..self.header_len + take].copy_from_slice(&chunk[..take]);
            self.header_len += take;
            if self.header_len == 5 {
                self.body_left = usize::from(u16::from_be_bytes([self.header[3], self.header[4]]));
                if self.body_left == 0 {
                    self.header_len = 0;
                }
            }
            take
        } else {
            let take = self.body_left.min(chunk.len());
            self.body_left -= take;
            if self.body_left == 0 {
                self.header_len = 0;
            }
            take
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_framer_follows_record_boundaries() {
        let mut f = Framer::default();
        let stream = [23, 3, 3, 0, 4, 1, 2, 3, 4, 23, 3, 3, 0, 1, 9];
        let mut steps = Vec::new();
        let mut rest = &stream[..];
        while !rest.is_empty() {
            let n = f.next_step(rest);
            steps.push((n, f.in_body_with(1)));
            rest = &rest[n..];
        }
        assert_eq!(steps, [(5, true), (4, false), (5, true), (1, false)]);
    }
}
