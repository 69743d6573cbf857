//! What the four echo servers of *Multiplexing Connections* share.
//!
//! `multiplex_busy`, `multiplex_select`, `multiplex_poll` and
//! `multiplex_epoll` differ in one thing only: how they find out *which*
//! connection is ready. What they do with a ready connection is the same,
//! and lives here:
//!
//! - [`Connection`] holds one non-blocking socket and the bytes read from it
//!   that could not be written back yet. [`Connection::read_and_echo`] is
//!   Ruby's `read_nonblock` followed by a `write_nonblock` of what came in;
//!   [`Connection::write_unsent`] finishes a write the kernel cut short.
//! - [`raise_open_file_limit`] lifts `RLIMIT_NOFILE`, so that a server can
//!   hold more than the usual 1024 descriptors.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;

use nix::errno::Errno;
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use socket2::Socket;

// ANCHOR: limits
/// How much one read(2) asks for (Ruby: `read_nonblock(16 * 1024)`).
pub const READ_SIZE: usize = 16 * 1024;

/// Backpressure: while this many bytes of a connection's echo are still
/// waiting to be written, the server stops reading from that connection.
///
/// A client that sends but never reads would otherwise make the server
/// buffer everything it sends, without limit. Once we stop reading, the
/// kernel's buffers fill up and the client's own writes block, which is
/// exactly where the waiting belongs. (The kernel buffers between the two
/// processes hold megabytes already; 64 KiB more in user space is plenty.)
pub const UNSENT_LIMIT: usize = 64 * 1024;
// ANCHOR_END: limits

/// Whether a connection is still in use after it was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Keep watching it.
    Open,
    /// The client closed its side and every byte it sent has been echoed:
    /// close the socket.
    Finished,
}

/// One client of an echo server: a non-blocking socket and its unsent echo.
pub struct Connection {
    pub socket: Socket,
    pub peer: SocketAddr,
    /// Bytes read from the client that the kernel would not take back yet.
    unsent: Vec<u8>,
    /// read(2) returned 0: the client will send nothing more.
    client_closed: bool,
}

impl Connection {
    /// Wraps an accepted socket, which must already be non-blocking.
    pub fn new(socket: Socket, peer: SocketAddr) -> Connection {
        Connection {
            socket,
            peer,
            unsent: Vec::new(),
            client_closed: false,
        }
    }

    // ANCHOR: interest
    /// Should the server wait for this socket to become readable? Not once
    /// the client has closed its side, and not while too much of its echo is
    /// still unsent (backpressure, see [`UNSENT_LIMIT`]).
    pub fn wants_to_read(&self) -> bool {
        !self.client_closed && self.unsent.len() < UNSENT_LIMIT
    }

    /// Should the server wait for this socket to become writable? Only while
    /// there is something to write: an idle socket is writable nearly all
    /// the time, and asking about it would wake the server for nothing.
    pub fn wants_to_write(&self) -> bool {
        !self.unsent.is_empty()
    }
    // ANCHOR_END: interest

    /// Serves the connection after a wait said it is readable and/or
    /// writable: reads (once) if `readable`, writes what is unsent if
    /// `writable`. An error means the connection is broken (reset by the
    /// client, say) and should be dropped.
    pub fn serve(&mut self, readable: bool, writable: bool) -> io::Result<Status> {
        if readable {
            self.read_and_echo()?;
        }
        if writable {
            self.write_unsent()?;
        }
        if self.client_closed && self.unsent.is_empty() {
            Ok(Status::Finished)
        } else {
            Ok(Status::Open)
        }
    }

    // ANCHOR: read_and_echo
    /// One read(2), then as much of the echo as the kernel takes right now.
    ///
    /// Ruby: `data = connection.read_nonblock(READ_SIZE)` followed by
    /// `connection.write_nonblock(data)`, with `rescue Errno::EAGAIN` around
    /// both. Reading only once per call is deliberate: the server comes back
    /// for the rest after serving everyone else, so one busy client cannot
    /// starve the others.
    pub fn read_and_echo(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; READ_SIZE];
        match self.socket.read(&mut chunk) {
            // Ruby raises EOFError; read(2) returns 0. Anything still unsent
            // is written before the connection is closed.
            Ok(0) => self.client_closed = true,
            Ok(n) => self.unsent.extend_from_slice(&chunk[..n]),
            // EAGAIN: nothing to read after all (the busy loop asks every
            // connection every time round, so it sees this all the time).
            Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(err) if err.kind() == ErrorKind::Interrupted => return Ok(()),
            Err(err) => return Err(err),
        }
        self.write_unsent()
    }
    // ANCHOR_END: read_and_echo

    // ANCHOR: write_unsent
    /// write(2) as much of the unsent echo as the kernel accepts now, and
    /// keep the rest for when the socket is writable again.
    ///
    /// A non-blocking write takes only what fits in the socket's send buffer
    /// (Ruby's `write_nonblock` returns that count too); when the buffer is
    /// full it fails with EAGAIN instead of waiting for the client to read.
    pub fn write_unsent(&mut self) -> io::Result<()> {
        while !self.unsent.is_empty() {
            match self.socket.write(&self.unsent) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.unsent.drain(..n);
                }
                // The send buffer is full: the rest waits in `unsent` until
                // the socket is writable again.
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }
    // ANCHOR_END: write_unsent
}

/// Whether accept(2) failed for want of a file descriptor: EMFILE (this
/// process is at its limit) or ENFILE (the whole system is).
///
/// The connection stays queued and the listener stays readable, so a server
/// that simply tried again would fail again at once, in a tight loop. The
/// servers stop accepting instead, until one of their connections closes.
pub fn out_of_descriptors(err: &io::Error) -> bool {
    let errno = err.raw_os_error().map(Errno::from_raw);
    matches!(errno, Some(Errno::EMFILE | Errno::ENFILE))
}

// ANCHOR: rlimit
/// Raises this process's soft limit on open files (`RLIMIT_NOFILE`, what
/// `ulimit -n` shows) to its hard limit, and returns the new soft limit.
///
/// Every connection is a file descriptor. Many systems start processes with
/// a soft limit of 1024, after which accept(2) fails with EMFILE ("too many
/// open files"). Any process may raise its soft limit up to the hard limit,
/// which is usually far higher; only root may raise the hard limit.
pub fn raise_open_file_limit() -> nix::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(hard)
}
// ANCHOR_END: rlimit
