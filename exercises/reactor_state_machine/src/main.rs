//! Exercise (Evented): the per-connection state machine of a reactor.
//!
//! The reactor below is complete: one thread, one epoll instance, every
//! socket non-blocking. It accepts clients, waits in epoll_wait(2), calls
//! `on_readable` / `on_writable` on the connection an event is about, and
//! afterwards asks `interest()` what to watch that connection for next. What
//! is missing is the connection itself: write its three methods (and any
//! helpers you like) so that the server speaks this line protocol:
//!
//! | the client sends | the server answers |
//! |---|---|
//! | `ECHO <text>` | `<text>` |
//! | `COUNT <n>` | `1`, `2`, … `<n>`, one per line, then `done` |
//! | `QUIT` | `BYE`, then it closes the connection |
//! | `COUNT` with something that is not a number | `ERR not a number` |
//! | anything else | `ERR unknown command` |
//!
//! Lines end in `\n` (a `\r` before it is ignored); every answer line ends
//! in `\n`. The rules a reactor lives by, which the tests check:
//!
//! - **Nothing blocks.** Never wait for a client: read what is there, write
//!   what the socket takes, keep the rest in `unsent`, and return. A client
//!   that does not read its answers must not hold up anyone else.
//! - **Half a line waits** in `inbox` until its `\n` arrives.
//! - **In order.** Several commands in one read are answered one after the
//!   other; commands that arrive during a COUNT are answered after its
//!   `done`. (Simplest: do not read while counting.)
//! - **Stream, do not buffer.** `COUNT 2000000` is 16 MB of answer. Make
//!   the numbers as the socket takes them (a few KiB at a time, topping up
//!   `unsent` when it runs low), never all at once: the test checks the
//!   server's peak memory.
//! - **Backpressure.** Stop reading commands while `UNSENT_LIMIT` bytes are
//!   unsent.
//! - **Interest.** Level-triggered epoll reports a writable socket over and
//!   over: ask for `EPOLLOUT` only while there is something to write (or
//!   to count), and for `EPOLLIN` only while you will read.
//!
//! Run the tests with `just exercise reactor_state_machine`
//! (or `cargo test -p reactor_state_machine` inside `exercises/`).
//! Stuck? `just hint reactor_state_machine`.

use std::collections::HashMap;
// The solution uses these; the allow keeps the unsolved file free of warnings.
#[allow(unused_imports)]
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};

use anyhow::Context;
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use socket2::{Domain, SockAddr, Socket, Type};

/// Stop reading a client's commands while this many bytes of its replies
/// are unsent, and generate COUNT lines only up to this much.
#[allow(dead_code)] // until you use it
const UNSENT_LIMIT: usize = 64 * 1024;

/// What an event handler says about its connection afterwards.
#[derive(Debug, PartialEq, Eq)]
enum Status {
    Open,
    Done,
}

/// Where a client is in the protocol.
#[allow(dead_code)] // until you use every variant
enum State {
    /// Reading and answering commands.
    Commands,
    /// Sending the numbers `next..=last` of a COUNT, then `done`.
    Counting { next: u64, last: u64 },
    /// `BYE` is going out; close once it has.
    Closing,
}

/// One client: its socket, what it sent, what we owe it, and its state.
#[allow(dead_code)] // until you use every field
struct Connection {
    /// Non-blocking.
    socket: Socket,
    /// Bytes received that do not end in `\n` yet.
    inbox: Vec<u8>,
    /// Bytes owed to the client that the socket has not taken yet.
    unsent: Vec<u8>,
    state: State,
}

impl Connection {
    fn new(socket: Socket) -> Connection {
        Connection {
            socket,
            inbox: Vec::new(),
            unsent: Vec::new(),
            state: State::Commands,
        }
    }

    /// The socket is readable (or the client closed it, or it failed).
    /// Return `Status::Done` to have the reactor close the connection.
    fn on_readable(&mut self) -> Status {
        // TODO 1: read once (at most a few KiB) into `inbox`. `Ok(0)` means
        //         the client closed: Done. `WouldBlock` means nothing after
        //         all. Any other error: Done.
        // TODO 2: handle every complete line in `inbox` while the state is
        //         `Commands`: queue its answer in `unsent`, or change state
        //         (COUNT, QUIT).
        // TODO 3: try to write straight away: `self.on_writable()`.
        todo!("read, handle complete lines, write")
    }

    /// The socket is writable, or there is something to write.
    fn on_writable(&mut self) -> Status {
        // TODO 4: while counting, top `unsent` up with the next numbers
        //         (not past UNSENT_LIMIT); after the last one queue `done`,
        //         go back to `Commands` and handle the lines that waited.
        // TODO 5: write `unsent` until it is empty or the socket says
        //         `WouldBlock`; drain what was written. An error: Done.
        // TODO 6: `Closing` with nothing left to write: Done.
        todo!("produce, write, maybe finish")
    }

    /// What the reactor should ask epoll to watch this socket for next:
    /// `EPOLLIN`, `EPOLLOUT`, both, or neither (`EpollFlags::empty()`).
    fn interest(&self) -> EpollFlags {
        // TODO 7: EPOLLIN while reading commands (state `Commands` and not
        //         too much unsent); EPOLLOUT while something is unsent or
        //         a COUNT is under way.
        todo!("what to be woken for")
    }
}

fn main() -> anyhow::Result<()> {
    let addr = conventions::listen_addr("127.0.0.1")?;
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    listener
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    listener.listen(1024).context("listen(2)")?;
    listener
        .set_nonblocking(true)
        .context("fcntl(O_NONBLOCK)")?;
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;

    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create1(2)")?;
    let listener_key = listener.as_raw_fd() as u64;
    epoll
        .add(
            &listener,
            EpollEvent::new(EpollFlags::EPOLLIN, listener_key),
        )
        .context("epoll_ctl(EPOLL_CTL_ADD)")?;
    conventions::announce(local);

    // The reactor: each connection (keyed by its descriptor, the u64 its
    // events carry) with what it is on the interest list for.
    let mut connections: HashMap<RawFd, (Connection, EpollFlags)> = HashMap::new();
    let mut events = vec![EpollEvent::empty(); 64];
    loop {
        let ready = match epoll.wait(&mut events, EpollTimeout::NONE) {
            Ok(ready) => ready,
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err).context("epoll_wait(2)"),
        };
        for event in &events[..ready] {
            if event.data() == listener_key {
                accept_all(&listener, &epoll, &mut connections);
                continue;
            }
            let fd = event.data() as RawFd;
            let Some((connection, watching)) = connections.get_mut(&fd) else {
                continue;
            };
            // Dispatch. EPOLLERR and EPOLLHUP come unasked; the next read or
            // write reports what happened.
            let flags = event.events();
            let mut status = Status::Open;
            let trouble = EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP;
            if flags.intersects(EpollFlags::EPOLLIN | trouble) {
                status = connection.on_readable();
            }
            if status == Status::Open && flags.intersects(EpollFlags::EPOLLOUT | trouble) {
                status = connection.on_writable();
            }
            if status == Status::Done {
                let _ = epoll.delete(&connection.socket);
                connections.remove(&fd);
                continue;
            }
            // Tell the kernel what to watch this socket for next, if that
            // changed (epoll_ctl(EPOLL_CTL_MOD)).
            let interest = connection.interest();
            if interest != *watching {
                let mut event = EpollEvent::new(interest, fd as u64);
                if epoll.modify(&connection.socket, &mut event).is_err() {
                    connections.remove(&fd);
                    continue;
                }
                *watching = interest;
            }
        }
    }
}

/// Accepts every waiting client and registers it for reading.
fn accept_all(
    listener: &Socket,
    epoll: &Epoll,
    connections: &mut HashMap<RawFd, (Connection, EpollFlags)>,
) {
    loop {
        let socket = match listener.accept() {
            Ok((socket, _peer)) => socket,
            Err(err) if err.kind() == ErrorKind::WouldBlock => return,
            Err(err) => {
                eprintln!("accept(2): {err}");
                return;
            }
        };
        if socket.set_nonblocking(true).is_err() {
            continue;
        }
        let fd = socket.as_raw_fd();
        let event = EpollEvent::new(EpollFlags::EPOLLIN, fd as u64);
        if epoll.add(&socket, event).is_err() {
            continue;
        }
        connections.insert(fd, (Connection::new(socket), EpollFlags::EPOLLIN));
    }
}
