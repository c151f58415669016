//! [`RecordStream`]: the platform's byte stream, cut into whole TLS records so that the
//! TLS reads above it can be cancelled safely.
//!
//! embedded-tls 0.19 reads each record's 5-byte header (RFC 8446 section 5.1) into a
//! local variable and then the body into its own buffer. If that read future is dropped
//! after the header but before the body is complete (minimq does this at every keepalive
//! deadline, and callers do it with timeouts) the header is lost and the next read takes
//! body bytes for a header. This wrapper reads a record's header and body into its own
//! stash first, where the progress survives any cancellation, and only then hands the
//! record up in one piece, without ever returning `Pending` inside a record.
//!
//! A record larger than the stash (the server's certificate during the handshake, which is
//! never cancelled part way, or a peer that ignores the negotiated sizes) is passed
//! through directly. If such a pass-through read is cancelled, the stream is poisoned:
//! every later read fails with [`StreamError::Cancelled`], so the link reconnects
//! instead of misreading.
//!
//! A failed write is not reported at once: the peer usually says why it closed the
//! connection (a TLS alert: in TLS 1.3 a rejected client certificate is only reported
//! that way, after the client has started writing) and that is more useful than the
//! broken pipe. So the write reports success, and reads go on returning what already
//! arrived; the first read that would have to wait fails with
//! [`StreamError::WriteFailed`] instead. Platform reads MUST therefore be cancel-safe
//! (a dropped pending read loses no data), as socket reads are.
//!
//! Writes otherwise pass straight through; a write dropped while the platform stream was busy
//! poisons the stream too, since the peer would see a record cut short.

use core::future::Future as _;
use embassy_time::Instant;

use embedded_io_async::{Error as _, ErrorKind, ErrorType, Read, Write};

/// Bytes in a TLS record header: type, legacy version (2), length (2).
pub const RECORD_HEADER: usize = 5;

/// What a [`RecordStream`] read or write can fail with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamError<E> {
    /// The platform's stream failed.
    Inner(E),
    /// A read of a record too large for the stash was cancelled half way, so the record
    /// boundaries are lost; the connection must be dropped.
    Cancelled,
    /// An earlier write failed with this kind (reported by the first read that finds
    /// nothing more to read; see [`RecordStream`]).
    WriteFailed(ErrorKind),
}

impl<E: embedded_io_async::Error> embedded_io_async::Error for StreamError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            StreamError::Inner(e) => e.kind(),
            StreamError::Cancelled => ErrorKind::Interrupted,
            StreamError::WriteFailed(kind) => *kind,
        }
    }
}

impl<E: core::fmt::Debug> core::fmt::Display for StreamError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StreamError::Inner(e) => write!(f, "transport: {e:?}"),
            StreamError::Cancelled => f.write_str("a large TLS record read was cancelled"),
            StreamError::WriteFailed(kind) => write!(f, "write failed: {kind:?}"),
        }
    }
}

impl<E: core::fmt::Debug> core::error::Error for StreamError<E> {}

/// Where the stream is within the current record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the header into `stash[..5]`; `have` bytes so far.
    Header { have: usize },
    /// Reading the body into `stash[5..end]`; `have` is the end of what is there.
    Body { have: usize, end: usize },
    /// Handing `stash[pos..end]` (a whole record) up.
    Deliver { pos: usize, end: usize },
    /// Handing up the header of a record too large for the stash, then `left` body
    /// bytes read straight from the platform stream.
    PassHeader { pos: usize, left: usize },
    /// Passing `left` body bytes of a large record straight through.
    Pass { left: usize },
}

/// The platform's stream `S`, delivering TLS records whole (see the module docs).
pub struct RecordStream<'a, S> {
    inner: S,
    stash: &'a mut [u8],
    phase: Phase,
    /// Set while a pass-through read is awaiting the platform stream; still set when the
    /// next read starts means the last one was dropped.
    passing: bool,
    /// The same for writes: a TLS record half written cannot be finished.
    writing: bool,
    poisoned: bool,
    write_error: Option<ErrorKind>,
    last_rx: Option<Instant>,
}

impl<'a, S> RecordStream<'a, S> {
    /// Wraps `inner`, stashing records of up to `stash.len()` bytes (header included).
    /// The stash SHOULD hold the largest post-handshake record the peer sends (see
    /// [`crate::net::STASH_BYTES`]).
    pub fn new(inner: S, stash: &'a mut [u8]) -> Self {
        Self {
            inner,
            stash,
            phase: Phase::Header { have: 0 },
            passing: false,
            writing: false,
            poisoned: false,
            write_error: None,
            last_rx: None,
        }
    }

    /// When bytes last arrived from the platform stream (`None`: not yet).
    pub fn last_rx(&self) -> Option<Instant> {
        self.last_rx
    }

    /// Whether a cancelled pass-through read made the stream unusable.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// The wrapped stream.
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S: ErrorType> ErrorType for RecordStream<'_, S> {
    type Error = StreamError<S::Error>;
}

impl<S: Read> RecordStream<'_, S> {
    /// Reads into `buf` from the platform stream, noting the time of arrival. After a
    /// failed write it only takes what is already there.
    async fn fill(
        inner: &mut S,
        last_rx: &mut Option<Instant>,
        write_error: Option<ErrorKind>,
        buf: &mut [u8],
    ) -> Result<usize, StreamError<S::Error>> {
        let read = match write_error {
            None => inner.read(buf).await.map_err(StreamError::Inner),
            Some(kind) => {
                let mut read = core::pin::pin!(inner.read(buf));
                core::future::poll_fn(|cx| match read.as_mut().poll(cx) {
                    core::task::Poll::Ready(r) => {
                        core::task::Poll::Ready(r.map_err(StreamError::Inner))
                    }
                    core::task::Poll::Pending => {
                        core::task::Poll::Ready(Err(StreamError::WriteFailed(kind)))
                    }
                })
                .await
            }
        };
        let n = read?;
        if n > 0 {
            *last_rx = Some(Instant::now());
        }
        Ok(n)
    }
}

impl<S: Read> Read for RecordStream<'_, S> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if self.passing {
            // The previous pass-through read was dropped mid-record.
            self.poisoned = true;
        }
        if self.poisoned {
            return Err(StreamError::Cancelled);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.phase {
                Phase::Header { have } => {
                    let n = Self::fill(
                        &mut self.inner,
                        &mut self.last_rx,
                        self.write_error,
                        &mut self.stash[have..RECORD_HEADER],
                    )
                    .await?;
                    if n == 0 {
                        return Ok(0);
                    }
                    let have = have + n;
                    self.phase = if have < RECORD_HEADER {
                        Phase::Header { have }
                    } else {
                        let len = usize::from(u16::from_be_bytes([self.stash[3], self.stash[4]]));
                        let end = RECORD_HEADER + len;
                        if end <= self.stash.len() {
                            Phase::Body {
                                have: RECORD_HEADER,
                                end,
                            }
                        } else {
                            Phase::PassHeader { pos: 0, left: len }
                        }
                    };
                }
                Phase::Body { have, end } if have < end => {
                    let n = Self::fill(
                        &mut self.inner,
                        &mut self.last_rx,
                        self.write_error,
                        &mut self.stash[have..end],
                    )
                    .await?;
                    if n == 0 {
                        return Ok(0);
                    }
                    self.phase = Phase::Body {
                        have: have + n,
                        end,
                    };
                }
                Phase::Body { end, .. } => self.phase = Phase::Deliver { pos: 0, end },
                Phase::Deliver { pos, end } => {
                    let n = buf.len().min(end - pos);
                    buf[..n].copy_from_slice(&self.stash[pos..pos + n]);
                    let pos = pos + n;
                    self.phase = if pos == end {
                        Phase::Header { have: 0 }
                    } else {
                        Phase::Deliver { pos, end }
                    };
                    return Ok(n);
                }
                Phase::PassHeader { pos, left } => {
                    let n = buf.len().min(RECORD_HEADER - pos);
                    buf[..n].copy_from_slice(&self.stash[pos..pos + n]);
                    let pos = pos + n;
                    self.phase = if pos < RECORD_HEADER {
                        Phase::PassHeader { pos, left }
                    } else if left == 0 {
                        Phase::Header { have: 0 }
                    } else {
                        Phase::Pass { left }
                    };
                    return Ok(n);
                }
                Phase::Pass { left } => {
                    let want = buf.len().min(left);
                    self.passing = true;
                    let n = Self::fill(
                        &mut self.inner,
                        &mut self.last_rx,
                        self.write_error,
                        &mut buf[..want],
                    )
                    .await;
                    self.passing = false;
                    let n = n?;
                    let left = left - n;
                    self.phase = if left == 0 {
                        Phase::Header { have: 0 }
                    } else {
                        Phase::Pass { left }
                    };
                    return Ok(n);
                }
            }
        }
    }
}

impl<S: Write> Write for RecordStream<'_, S> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        if self.writing || self.poisoned {
            // A write was dropped while the platform stream was busy: the record on the
            // wire may be cut short, and the peer will reject the rest.
            self.poisoned = true;
            return Err(StreamError::Cancelled);
        }
        if self.write_error.is_some() {
            return Ok(buf.len());
        }
        self.writing = true;
        let n = self.inner.write(buf).await;
        self.writing = false;
        match n {
            Ok(n) => Ok(n),
            Err(e) => {
                self.write_error = Some(e.kind());
                Ok(buf.len())
            }
        }
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        if self.writing || self.poisoned {
            self.poisoned = true;
            return Err(StreamError::Cancelled);
        }
        if self.write_error.is_some() {
            return Ok(());
        }
        self.writing = true;
        let r = self.inner.flush().await;
        self.writing = false;
        if let Err(e) = r {
            self.write_error = Some(e.kind());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::exec::{block_on, poll_once};
    use core::convert::Infallible;
    use core::pin::pin;
    use core::task::Poll;

    /// Serves `data` `chunk` bytes at a time, `Pending` before every chunk.
    struct Trickle<'d> {
        data: &'d [u8],
        chunk: usize,
        ready: bool,
    }

    impl ErrorType for Trickle<'_> {
        type Error = Infallible;
    }

    impl Read for Trickle<'_> {
        async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
            core::future::poll_fn(|_| {
                if self.ready {
                    self.ready = false;
                    Poll::Ready(())
                } else {
                    self.ready = true;
                    Poll::Pending
                }
            })
            .await;
            let n = buf.len().min(self.chunk).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn record(len: u8, fill: u8) -> [u8; 37] {
        let mut r = [fill; 37];
        r[..5].copy_from_slice(&[23, 3, 3, 0, len]);
        r
    }

    /// Reads one whole record the way embedded-tls does: header, then body.
    async fn read_record<S: Read>(s: &mut S, out: &mut [u8]) -> usize
    where
        S::Error: core::fmt::Debug,
    {
        let mut got = 0;
        while got < RECORD_HEADER {
            got += s.read(&mut out[got..RECORD_HEADER]).await.unwrap();
        }
        let end = RECORD_HEADER + usize::from(out[4]);
        while got < end {
            got += s.read(&mut out[got..end]).await.unwrap();
        }
        got
    }

    #[test]
    fn cancelling_between_polls_never_loses_a_byte() {
        let a = record(32, 0xaa);
        let b = record(32, 0xbb);
        let mut data = [0u8; 74];
        data[..37].copy_from_slice(&a);
        data[37..].copy_from_slice(&b);
        let mut stash = [0u8; 64];
        let mut s = RecordStream::new(
            Trickle {
                data: &data,
                chunk: 3,
                ready: false,
            },
            &mut stash,
        );
        // Start a record read, then drop it after every single poll, as a timeout would.
        let mut out = [0u8; 37];
        let mut cancellations = 0;
        for expected in [a, b] {
            loop {
                let mut fut = pin!(read_record(&mut s, &mut out));
                if let Poll::Ready(n) = poll_once(fut.as_mut()) {
                    assert_eq!(n, 37);
                    break;
                }
                cancellations += 1;
            }
            assert_eq!(out, expected);
        }
        assert!(cancellations > 10, "{cancellations}");
        assert!(!s.is_poisoned());
    }

    #[test]
    fn large_records_pass_through_and_poison_on_cancel() {
        let a = record(32, 0xcc);
        let mut stash = [0u8; 16];
        let mut s = RecordStream::new(
            Trickle {
                data: &a,
                chunk: 4,
                ready: false,
            },
            &mut stash,
        );
        let mut out = [0u8; 37];
        assert_eq!(block_on(read_record(&mut s, &mut out)), 37);
        assert_eq!(out, a);

        let mut stash = [0u8; 16];
        let mut s = RecordStream::new(
            Trickle {
                data: &a,
                chunk: 4,
                ready: false,
            },
            &mut stash,
        );
        // Poll until the body is being passed through, then drop the read.
        for _ in 0..6 {
            {
                let mut fut = pin!(read_record(&mut s, &mut out));
                let _ = poll_once(fut.as_mut());
            }
            if s.passing {
                break;
            }
        }
        assert!(s.passing);
        let mut one = [0u8; 1];
        assert_eq!(
            block_on(s.read(&mut one)),
            Err(StreamError::Cancelled),
            "a cancelled pass-through read must poison the stream"
        );
    }
}
