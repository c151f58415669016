//! The host's side of the firmware's transport (`altair_firmware::net`): what the device
//! gets from its platform, provided by std.
//!
//! - the byte stream: [`Tcp`], a non-blocking `std::net::TcpStream` with `TCP_NODELAY`,
//!   reached by resolving the broker's host name (TLS checks the name, so it stays a
//!   name until here);
//! - randomness: [`Rng`], the operating system's generator;
//! - time: embassy-time's `std` driver, linked in by this crate's dependency on
//!   embassy-time with the `std` feature (its generic queue lets timers work under the
//!   no-op waker of `net::exec`); [`now_ms`] reads the same clock.
//!
//! `host-sim mqtt` and the tests that talk to Mosquitto use these, so there is one way
//! to do each.

use std::io::{self, Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::os::fd::{AsFd, BorrowedFd};
use std::task::Poll;
use std::time::Duration;

use embedded_io_async::{ErrorKind, ErrorType};
use rustix::event::{PollFd, PollFlags, Timespec};

/// The operating system's cryptographically secure generator, for the TLS handshake.
pub use rand_core::OsRng as Rng;

/// How long a read or write that would block sleeps before `Pending`, since the
/// firmware's `block_on` polls again at once.
const PENDING_SLEEP: Duration = Duration::from_micros(50);

/// Milliseconds on the clock minimq and the link read (embassy-time's std driver).
pub fn now_ms() -> u64 {
    embassy_time::Instant::now().as_millis()
}

/// A `TcpStream` as the firmware's byte stream: non-blocking, `Pending` while there is
/// nothing to read or no room to write (after [`PENDING_SLEEP`]).
#[derive(Debug)]
pub struct Tcp(TcpStream);

impl Tcp {
    /// Connects to `host:port`, trying each address the name resolves to, each for at
    /// most `timeout`; sets `TCP_NODELAY` (keystrokes are small) and non-blocking mode.
    pub fn connect(host: &str, port: u16, timeout: Duration) -> io::Result<Tcp> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"));
        for addr in (host, port).to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => return Tcp::from_stream(stream),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Wraps a connected stream: `TCP_NODELAY` and non-blocking mode.
    pub fn from_stream(stream: TcpStream) -> io::Result<Tcp> {
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        Ok(Tcp(stream))
    }

    /// A second handle on the same socket, for [`wait_readable`] while the link owns
    /// this one.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        self.0.try_clone()
    }
}

/// Waits until `fd` has something to read (data, a close or an error) or `timeout`
/// passes. Returns whether it is readable.
pub fn wait_readable(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<bool> {
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let timespec = Timespec {
        tv_sec: timeout.as_secs() as _,
        tv_nsec: timeout.subsec_nanos() as _,
    };
    match rustix::event::poll(&mut fds, Some(&timespec)) {
        Ok(n) => Ok(n > 0),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

impl AsFd for Tcp {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// A socket error, by kind.
#[derive(Debug)]
pub struct NetError(pub io::ErrorKind);

impl std::fmt::Display for NetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::error::Error for NetError {}

impl embedded_io_async::Error for NetError {
    fn kind(&self) -> ErrorKind {
        match self.0 {
            io::ErrorKind::ConnectionReset => ErrorKind::ConnectionReset,
            io::ErrorKind::ConnectionAborted => ErrorKind::ConnectionAborted,
            io::ErrorKind::BrokenPipe => ErrorKind::BrokenPipe,
            io::ErrorKind::NotConnected => ErrorKind::NotConnected,
            io::ErrorKind::TimedOut => ErrorKind::TimedOut,
            _ => ErrorKind::Other,
        }
    }
}

impl ErrorType for Tcp {
    type Error = NetError;
}

/// Turns a non-blocking socket call's `WouldBlock` (or `Interrupted`) into `Pending`.
fn nonblocking<T>(r: io::Result<T>) -> Poll<Result<T, NetError>> {
    match r {
        Ok(v) => Poll::Ready(Ok(v)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) =>
        {
            std::thread::sleep(PENDING_SLEEP);
            Poll::Pending
        }
        Err(e) => Poll::Ready(Err(NetError(e.kind()))),
    }
}

impl embedded_io_async::Read for Tcp {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        std::future::poll_fn(|_| nonblocking(self.0.read(buf))).await
    }
}

impl embedded_io_async::Write for Tcp {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, NetError> {
        std::future::poll_fn(|_| nonblocking(self.0.write(buf))).await
    }

    async fn flush(&mut self) -> Result<(), NetError> {
        Ok(())
    }
}
