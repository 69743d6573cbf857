//! The event loop of the evented CloudHash servers: one thread, one epoll
//! instance, every connection non-blocking, each with its own buffers.
//! `cloudhash_evented` runs one of these; `cloudhash_hybrid` runs one in each
//! of its worker threads. (The rest of this crate's library is the store and
//! request language of Part 1, which these servers do not use: they speak
//! the newline-framed protocol of the `framing` crate.)
//!
//! What makes it fast is batching. When a connection is readable, the loop
//! reads everything the kernel has for it, runs every complete line in it,
//! and writes all the replies back in one write(2). A client that pipelines
//! sixteen requests costs one read and one write, not sixteen of each.
//!
//! What makes it safe is that every buffer has a cap:
//!
//! - a line may be at most `framing::MAX_LINE` bytes (64 KiB), its newline
//!   included; a longer one gets `ERR line too long…` and the connection is
//!   closed, as `newline_server` does;
//! - while more than `OUTPUT_LIMIT` bytes of replies wait to be written (a
//!   client that sends but does not read), the connection's requests wait
//!   too, and the loop stops reading from it. The client's own writes then
//!   block in its kernel, and the other connections are served as usual.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};

use anyhow::Context;
use framing::{MAX_LINE, Outcome, Store};
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use socket2::Socket;

// ANCHOR: limits
/// How much one read(2) asks for.
const READ_SIZE: usize = 64 * 1024;

/// While this many bytes of replies are unsent, a connection's requests
/// wait and the loop stops reading from it (backpressure).
const OUTPUT_LIMIT: usize = 256 * 1024;

/// The most one connection's input buffer holds: a line at its cap, plus
/// what one read may bring after it.
const INPUT_LIMIT: usize = MAX_LINE + READ_SIZE;
// ANCHOR_END: limits

/// The key of the listener on the interest list; connections use their
/// descriptor number, which is never this.
const LISTENER: u64 = u64::MAX;

/// Serves `listener` forever on the calling thread. Returns only if the
/// loop itself fails (epoll_wait(2) or epoll_ctl(2) on the listener), never
/// because of what a client did.
pub fn run(listener: Socket, store: Store) -> anyhow::Result<()> {
    listener
        .set_nonblocking(true)
        .context("fcntl(O_NONBLOCK) on the listener")?;
    // ANCHOR: setup
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create1(2)")?;
    epoll
        .add(&listener, EpollEvent::new(EpollFlags::EPOLLIN, LISTENER))
        .context("epoll_ctl(EPOLL_CTL_ADD) for the listener")?;
    let mut reactor = Reactor {
        epoll,
        listener,
        store,
        connections: HashMap::new(),
        scratch: vec![0; READ_SIZE],
        accepting: true,
    };
    // ANCHOR_END: setup

    // ANCHOR: loop
    let mut events = vec![EpollEvent::empty(); 1024];
    loop {
        let ready = match reactor.epoll.wait(&mut events, EpollTimeout::NONE) {
            Ok(ready) => ready,
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err).context("epoll_wait(2)"),
        };
        for event in &events[..ready] {
            if event.data() == LISTENER {
                reactor.accept_all()?;
            } else {
                reactor.serve(event.data() as RawFd, event.events())?;
            }
        }
    }
    // ANCHOR_END: loop
}

/// Everything one event loop owns.
struct Reactor {
    epoll: Epoll,
    listener: Socket,
    store: Store,
    /// Keyed by descriptor number, the key each event carries.
    connections: HashMap<RawFd, Connection>,
    /// Every read lands here first: one buffer for the whole loop, not one
    /// 64 KiB buffer per idle connection.
    scratch: Vec<u8>,
    /// False after accept(2) ran out of descriptors, until one closes.
    accepting: bool,
}

/// One client: its socket, the bytes read but not yet run, the replies not
/// yet written, and what it has asked for.
struct Connection {
    socket: Socket,
    /// At most one partial line, or lines waiting for room in `output`.
    input: Vec<u8>,
    /// Replies not yet written, in request order.
    output: Vec<u8>,
    /// The client closed its side: it sends nothing more.
    read_closed: bool,
    /// `exit`, or a line over the cap: close once `output` is written.
    closing: bool,
    /// The line cap was hit: half-close before closing (see `close`).
    refused: bool,
    /// What epoll watches this socket for now.
    interest: EpollFlags,
}

/// Whether a connection goes on after being served.
enum Status {
    Open,
    Finished,
}

impl Reactor {
    /// Accepts every waiting connection and puts it on the interest list.
    fn accept_all(&mut self) -> anyhow::Result<()> {
        while self.accepting {
            let socket = match self.listener.accept() {
                Ok((socket, _)) => socket,
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) if out_of_descriptors(&err) => {
                    eprintln!("accept(2): {err}; not accepting until a connection closes");
                    // Level-triggered, the listener would be reported again
                    // at once: stop watching it for now.
                    return self.set_accepting(false);
                }
                Err(err) => {
                    eprintln!("accept(2): {err}");
                    break;
                }
            };
            // On Linux an accepted socket does not inherit O_NONBLOCK.
            if let Err(err) = socket.set_nonblocking(true) {
                eprintln!("fcntl(O_NONBLOCK) on a new connection: {err}");
                continue;
            }
            // Replies are already batched into one write per read; Nagle's
            // algorithm could only hold the next batch back (Nagle's
            // Algorithm chapter). Redis sets this option too.
            if let Err(err) = socket.set_tcp_nodelay(true) {
                eprintln!("setsockopt(TCP_NODELAY) on a new connection: {err}");
            }
            let fd = socket.as_raw_fd();
            let interest = EpollFlags::EPOLLIN;
            if let Err(err) = self
                .epoll
                .add(&socket, EpollEvent::new(interest, fd as u64))
            {
                eprintln!("epoll_ctl(EPOLL_CTL_ADD) for a new connection: {err}");
                continue;
            }
            let connection = Connection {
                socket,
                input: Vec::new(),
                output: Vec::new(),
                read_closed: false,
                closing: false,
                refused: false,
                interest,
            };
            self.connections.insert(fd, connection);
        }
        Ok(())
    }

    // ANCHOR: serve
    /// Serves the connection an event is about, then closes it or updates
    /// what epoll watches it for.
    fn serve(&mut self, fd: RawFd, flags: EpollFlags) -> anyhow::Result<()> {
        // Closed earlier in this same batch of events.
        let Some(connection) = self.connections.get_mut(&fd) else {
            return Ok(());
        };
        // EPOLLERR and EPOLLHUP come unasked; the read then reports them.
        let readable =
            flags.intersects(EpollFlags::EPOLLIN | EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP);
        match connection.serve(readable, &self.store, &mut self.scratch) {
            Ok(Status::Open) => {}
            Ok(Status::Finished) => return self.close(fd),
            Err(err) => {
                eprintln!("dropping a connection: {err}");
                return self.close(fd);
            }
        }
        let interest = connection.interest();
        if interest != connection.interest {
            let mut event = EpollEvent::new(interest, fd as u64);
            if let Err(err) = self.epoll.modify(&connection.socket, &mut event) {
                eprintln!("epoll_ctl(EPOLL_CTL_MOD): {err}; dropping the connection");
                return self.close(fd);
            }
            connection.interest = interest;
        }
        Ok(())
    }
    // ANCHOR_END: serve

    /// Takes a connection off the interest list and closes it.
    fn close(&mut self, fd: RawFd) -> anyhow::Result<()> {
        if let Some(connection) = self.connections.remove(&fd) {
            let _ = self.epoll.delete(&connection.socket);
            if connection.refused {
                // Our error line, then our FIN. The close(2) below, with
                // the client's unread bytes still queued, makes Linux send a
                // RST, which stops a client that is still sending; it reads
                // the line and the FIN first.
                let _ = connection.socket.shutdown(Shutdown::Write);
            }
            // `connection` is dropped here: close(2).
        }
        if self.accepting {
            Ok(())
        } else {
            self.set_accepting(true) // a descriptor is free again
        }
    }

    /// Starts or stops watching the listener.
    fn set_accepting(&mut self, accepting: bool) -> anyhow::Result<()> {
        self.accepting = accepting;
        let flags = if accepting {
            EpollFlags::EPOLLIN
        } else {
            EpollFlags::empty()
        };
        let mut event = EpollEvent::new(flags, LISTENER);
        self.epoll
            .modify(&self.listener, &mut event)
            .context("epoll_ctl(EPOLL_CTL_MOD) for the listener")
    }
}

impl Connection {
    // ANCHOR: batch
    /// Reads what there is, runs every complete line, writes the replies.
    fn serve(
        &mut self,
        readable: bool,
        store: &Store,
        scratch: &mut [u8],
    ) -> std::io::Result<Status> {
        if readable && self.wants_to_read() {
            self.read_available(scratch)?;
        }
        loop {
            self.run_lines(store);
            self.write_output()?;
            // Lines still wait only if the output cap stopped them; if the
            // write made room, run them now rather than wait for an event
            // that may never come.
            if !self.output.is_empty() || self.closing || !self.input.contains(&b'\n') {
                break;
            }
        }
        if self.output.is_empty() && (self.closing || self.read_closed) {
            if !self.closing && !self.input.is_empty() {
                eprintln!(
                    "client closed its side in the middle of a line; {} bytes dropped",
                    self.input.len()
                );
            }
            return Ok(Status::Finished);
        }
        Ok(Status::Open)
    }

    /// Reads until the kernel has nothing more for this connection (a short
    /// read says so without another system call), EOF, or the input cap.
    fn read_available(&mut self, scratch: &mut [u8]) -> std::io::Result<()> {
        while self.input.len() < INPUT_LIMIT {
            let n = match (&self.socket).read(scratch) {
                Ok(0) => {
                    self.read_closed = true;
                    return Ok(());
                }
                Ok(n) => n,
                Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            self.input.extend_from_slice(&scratch[..n]);
            if n < scratch.len() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Runs the complete lines in `input`, in order, appending each reply
    /// to `output`, until the output cap, `exit`, or the end of the lines.
    fn run_lines(&mut self, store: &Store) {
        let mut start = 0;
        while !self.closing && self.output.len() < OUTPUT_LIMIT {
            let rest = &self.input[start..];
            let Some(newline) = rest.iter().position(|&byte| byte == b'\n') else {
                break;
            };
            if newline + 1 > MAX_LINE {
                self.refuse_long_line();
                return;
            }
            // The protocol, not the OS, ends a line: accept \r\n too.
            let line = &rest[..newline];
            let request = line.strip_suffix(b"\r").unwrap_or(line);
            match framing::process(store, request) {
                Outcome::Reply(reply) => {
                    self.output.extend_from_slice(&reply);
                    self.output.push(b'\n');
                }
                // Replies to the lines before `exit` are still written;
                // whatever came after it is ignored.
                Outcome::Exit => self.closing = true,
            }
            start += newline + 1;
        }
        self.input.drain(..start);
        if !self.closing && self.input.len() >= MAX_LINE && !self.input.contains(&b'\n') {
            // MAX_LINE bytes and no newline: even with one, too long.
            self.refuse_long_line();
        }
    }

    /// Writes as much of `output` as the kernel takes, in one write(2).
    fn write_output(&mut self) -> std::io::Result<()> {
        if self.output.is_empty() {
            return Ok(());
        }
        match (&self.socket).write(&self.output) {
            Ok(n) => {
                // Usually everything; the rest waits for EPOLLOUT.
                self.output.drain(..n);
                Ok(())
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => Ok(()),
            Err(err) if err.kind() == ErrorKind::Interrupted => Ok(()),
            Err(err) => Err(err),
        }
    }
    // ANCHOR_END: batch

    fn refuse_long_line(&mut self) {
        let message =
            format!("ERR line too long (the limit is {MAX_LINE} bytes, newline included)\n");
        self.output.extend_from_slice(message.as_bytes());
        self.input.clear();
        self.closing = true;
        self.refused = true;
    }

    // ANCHOR: interest
    /// Read while the client may still send and its replies are not piling
    /// up; ask about writability only while replies wait.
    fn wants_to_read(&self) -> bool {
        !self.read_closed && !self.closing && self.output.len() < OUTPUT_LIMIT
    }

    fn interest(&self) -> EpollFlags {
        let mut interest = EpollFlags::empty();
        if self.wants_to_read() {
            interest |= EpollFlags::EPOLLIN;
        }
        if !self.output.is_empty() {
            interest |= EpollFlags::EPOLLOUT;
        }
        interest
    }
    // ANCHOR_END: interest
}

/// EMFILE or ENFILE: this process, or the whole system, is out of file
/// descriptors.
fn out_of_descriptors(err: &std::io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(code) if code == Errno::EMFILE as i32 || code == Errno::ENFILE as i32
    )
}
