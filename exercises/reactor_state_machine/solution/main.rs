//! Exercise (Evented): the per-connection state machine of a reactor.
//!
//! Reference solution.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};

use anyhow::Context;
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use socket2::{Domain, SockAddr, Socket, Type};

/// Stop reading a client's commands while this many bytes of its replies
/// are unsent, and generate COUNT lines only up to this much.
const UNSENT_LIMIT: usize = 64 * 1024;

/// What an event handler says about its connection afterwards.
#[derive(Debug, PartialEq, Eq)]
enum Status {
    Open,
    Done,
}

/// Where a client is in the protocol.
enum State {
    /// Reading and answering commands.
    Commands,
    /// Sending the numbers `next..=last` of a COUNT, then `done`.
    Counting { next: u64, last: u64 },
    /// `BYE` is going out; close once it has.
    Closing,
}

/// One client: its socket, what it sent, what we owe it, and its state.
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

    /// The socket is readable: read once, then handle every complete line.
    fn on_readable(&mut self) -> Status {
        if !self.reading() {
            return Status::Open;
        }
        let mut chunk = [0u8; 4096];
        match self.socket.read(&mut chunk) {
            Ok(0) => return Status::Done,
            Ok(n) => self.inbox.extend_from_slice(&chunk[..n]),
            Err(err) if err.kind() == ErrorKind::WouldBlock => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Status::Done,
        }
        self.handle_lines();
        self.on_writable()
    }

    /// The socket is writable (or we just queued something): top up a
    /// COUNT, write what the socket takes, and see whether we are done.
    fn on_writable(&mut self) -> Status {
        self.produce();
        while !self.unsent.is_empty() {
            match self.socket.write(&self.unsent) {
                Ok(n) => {
                    self.unsent.drain(..n);
                    self.produce();
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Status::Done,
            }
        }
        match self.state {
            State::Closing if self.unsent.is_empty() => Status::Done,
            _ => Status::Open,
        }
    }

    /// What epoll should wake us for.
    fn interest(&self) -> EpollFlags {
        let mut interest = EpollFlags::empty();
        if self.reading() {
            interest |= EpollFlags::EPOLLIN;
        }
        if !self.unsent.is_empty() || matches!(self.state, State::Counting { .. }) {
            interest |= EpollFlags::EPOLLOUT;
        }
        interest
    }

    fn reading(&self) -> bool {
        matches!(self.state, State::Commands) && self.unsent.len() < UNSENT_LIMIT
    }

    /// Handles complete lines while the state allows.
    fn handle_lines(&mut self) {
        while self.reading() {
            let Some(end) = self.inbox.iter().position(|&b| b == b'\n') else {
                return;
            };
            let line: Vec<u8> = self.inbox.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            let (command, argument) = line.split_once(' ').unwrap_or((line, ""));
            match command {
                "ECHO" => {
                    self.unsent.extend_from_slice(argument.as_bytes());
                    self.unsent.push(b'\n');
                }
                "COUNT" => match argument.parse::<u64>() {
                    Ok(last) => self.state = State::Counting { next: 1, last },
                    Err(_) => self.unsent.extend_from_slice(b"ERR not a number\n"),
                },
                "QUIT" => {
                    self.unsent.extend_from_slice(b"BYE\n");
                    self.state = State::Closing;
                }
                _ => self.unsent.extend_from_slice(b"ERR unknown command\n"),
            }
        }
    }

    /// Tops up `unsent` with the next numbers of a COUNT, never past
    /// UNSENT_LIMIT; after the last one, `done`, and back to commands.
    fn produce(&mut self) {
        let State::Counting { next, last } = &mut self.state else {
            return;
        };
        while *next <= *last && self.unsent.len() < UNSENT_LIMIT {
            self.unsent
                .extend_from_slice(format!("{next}\n").as_bytes());
            *next += 1;
        }
        if *next > *last {
            self.unsent.extend_from_slice(b"done\n");
            self.state = State::Commands;
            // Commands that came while we counted were waiting for this.
            self.handle_lines();
        }
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
