//! The reactor: one thread serving every FTP client through one epoll
//! instance. The `evented` binary runs one reactor; the `hybrid` binary
//! forks workers that each run their own. Linux only (epoll).
//!
//! # The rule: nothing may block
//!
//! A reactor has one thread. If that thread waits for one client, every
//! client waits. So every socket the reactor touches is non-blocking, and
//! every wait happens in exactly one place, [`epoll_wait(2)`] in
//! [`Reactor::run`]. That includes the sockets that the blocking driver
//! ([`crate::serve_connection`]) waits on without a second thought:
//!
//! | what | blocking driver | here |
//! |---|---|---|
//! | the listener | `accept(2)` sleeps | `accept(2)` on a readable listener, until `EAGAIN` |
//! | a command | `read(2)` sleeps | one `read(2)` per readable event, into a [`LineBuffer`] |
//! | a reply | `write(2)` sleeps while the client does not read | what the socket takes; the rest waits in `unsent` for `EPOLLOUT` |
//! | PASV data connection | `poll(2)` + `accept(2)` sleep | the passive listener is registered for `EPOLLIN` |
//! | PORT data connection | `connect(2)` sleeps | non-blocking `connect(2)`, `EINPROGRESS`, `EPOLLOUT`, then `SO_ERROR` |
//! | RETR | `sendfile(2)` sleeps until the last byte is out | one non-blocking `sendfile(2)` per `EPOLLOUT` event |
//! | LIST | `write(2)` sleeps until the last byte is out | one `write(2)` per `EPOLLOUT` event |
//! | idle client | `SO_RCVTIMEO` | a deadline per connection; the nearest one is `epoll_wait`'s timeout |
//!
//! The one wait left is reading a file: a regular file cannot be made
//! non-blocking (`O_NONBLOCK` is ignored for files), so when `sendfile(2)`
//! needs pages that are not in the page cache, it waits for the disk, and
//! every client waits with it. Asking for at most [`CHUNK`] bytes per event
//! keeps that stall bounded; real servers move file reads to a thread pool
//! (nginx's `aio threads`) or to `io_uring`.
//!
//! # The state machine
//!
//! Each client is a `Connection`: a control socket, the [`Session`] (the
//! command handler every architecture shares), and a `State`:
//!
//! ```text
//!             line ──► Session::handle ──► Reply: queue it, stay
//!   ┌─────────┐                          ├─► Transfer ───────────► ┌──────────┐
//!   │Commands │ ◄── 226 / 425 / 426 ─────┼──────────────────────── │ Transfer │
//!   └─────────┘                          └─► QUIT, flood, idle ─┐  └──────────┘
//!                                                               ▼
//!                                          ┌─────────┐  replies sent
//!                                          │ Closing │ ─────────────► closed
//!                                          └─────────┘
//! ```
//!
//! A transfer has steps of its own (`Step`): `Accepting` (PASV/EPSV: wait for
//! the client on the passive listener) or, for PORT/EPRT, `Data` while our
//! connect is under way; then `Data`, connected, until the last byte is
//! written.
//!
//! Every event handler does a little, changes the state, and returns. After
//! each event the reactor asks the connection what it wants to be woken for
//! next (`Connection::interest`) and when its deadline is, and tells epoll
//! and the timer set only what changed.
//!
//! [`epoll_wait(2)`]: https://man7.org/linux/man-pages/man2/epoll_wait.2.html

#![cfg(target_os = "linux")]

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::resource::{Resource, getrlimit};
use nix::sys::sendfile::sendfile;
use socket2::{Domain, SockAddr, Socket, Type};

use crate::{Config, DataChannel, LineBuffer, LineTooLong, MAX_LINE, Outcome, Payload, Reply};
use crate::{Session, Transfer};

// ANCHOR: limits
/// How many bytes of a file one `EPOLLOUT` event sends at most: one
/// `sendfile(2)` asks for this much, the socket takes what fits in its send
/// buffer, and the loop goes round, so that one download cannot keep the
/// others waiting. Linux grows a socket's send buffer to 4 MiB at most by
/// default (`net.ipv4.tcp_wmem`), so this number never cuts a call short;
/// a smaller one (we tried 1 MiB) cost throughput.
pub const CHUNK: usize = 4 * 1024 * 1024;

/// Backpressure on the control connection: while this many bytes of replies
/// are unsent (the client sends commands but does not read the replies), we
/// stop reading its commands.
pub const UNSENT_LIMIT: usize = 64 * 1024;

/// Descriptors kept free for everything that is not a client: stdin, stdout,
/// stderr, the listener, the epoll instance, and some slack.
const RESERVED_FDS: u64 = 32;

/// One in this many of the remaining descriptors is kept for data transfers.
/// An idle client holds one descriptor (its control connection); only while
/// it transfers does it hold a second (a passive listener, then the data
/// connection). Reserving two per client would halve how many idle clients
/// fit; instead, if more clients transfer at once than the reserve holds,
/// the transfer that finds no descriptor gets `425` and its client stays
/// connected.
const TRANSFER_SHARE: u64 = 8;
// ANCHOR_END: limits

/// A connection number. Numbers are never reused, so an event that arrives
/// for a connection closed earlier in the same batch finds nothing.
type Id = u64;

// ANCHOR: token
/// What an event is about. epoll hands back, with each event, the `u64` we
/// registered the descriptor with; we pack a token into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    /// The listening socket: clients are waiting to be accepted.
    Listener,
    /// One of client `Id`'s sockets.
    Client(Id, Role),
}

/// Which of a client's sockets an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// The control connection: commands in, replies out.
    Control,
    /// The passive (PASV/EPSV) listener, waiting for the data connection.
    Passive,
    /// The data connection: connecting (PORT/EPRT) or sending.
    Data,
}

impl Token {
    /// `id * 4 + role`: the low two bits say which socket, the rest whose.
    fn key(self) -> u64 {
        match self {
            Token::Listener => 0,
            Token::Client(id, Role::Control) => id << 2 | 1,
            Token::Client(id, Role::Passive) => id << 2 | 2,
            Token::Client(id, Role::Data) => id << 2 | 3,
        }
    }

    fn from_key(key: u64) -> Token {
        let id = key >> 2;
        match key & 3 {
            1 => Token::Client(id, Role::Control),
            2 => Token::Client(id, Role::Passive),
            3 => Token::Client(id, Role::Data),
            _ => Token::Listener,
        }
    }
}
// ANCHOR_END: token

// ANCHOR: reactor
/// One thread's worth of FTP server: a listener, an epoll instance, and
/// every connection accepted so far.
pub struct Reactor {
    epoll: Epoll,
    /// Non-blocking; may be shared with other processes (see `hybrid`).
    listener: Socket,
    config: Config,
    connections: HashMap<Id, Connection>,
    /// Every connection's deadline, soonest first: `epoll_wait` sleeps no
    /// longer than until the first one.
    deadlines: BTreeSet<(Instant, Id)>,
    next_id: Id,
    /// How many clients we serve at once before refusing with 421.
    capacity: usize,
    /// False while the listener is off the interest list (out of descriptors).
    accepting: bool,
}
// ANCHOR_END: reactor

/// What a connection's event handler says about it afterwards.
#[derive(Debug, PartialEq, Eq)]
enum Status {
    Open,
    /// Close it: the client left, quit, or its last reply is sent.
    Done,
}

impl Reactor {
    /// A reactor serving clients of `listener`, which must be listening and
    /// non-blocking. Creates the epoll instance, so call it in the process
    /// (and thread) that will [`run`](Reactor::run) it.
    pub fn new(listener: Socket, config: Config) -> anyhow::Result<Reactor> {
        // epoll_create1(2): this reactor's own interest list.
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create1(2)")?;
        let mut reactor = Reactor {
            epoll,
            listener,
            capacity: client_capacity().context("getrlimit(RLIMIT_NOFILE)")?,
            config,
            connections: HashMap::new(),
            deadlines: BTreeSet::new(),
            next_id: 1,
            accepting: false,
        };
        reactor.watch_listener(true)?;
        Ok(reactor)
    }

    /// How many clients this reactor serves at once (from the open file
    /// limit); one more gets `421` and is closed.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    // ANCHOR: run
    /// The event loop. Returns only if epoll itself fails.
    pub fn run(&mut self) -> anyhow::Result<()> {
        let mut events = vec![EpollEvent::empty(); 256];
        loop {
            // 1. Sleep until a socket is ready or the nearest deadline is due.
            let timeout = self.time_to_next_deadline();
            let ready = match self.epoll.wait(&mut events, timeout) {
                Ok(ready) => ready,
                Err(Errno::EINTR) => 0,
                Err(err) => return Err(err).context("epoll_wait(2)"),
            };
            // 2. Dispatch each event to what it is about.
            for event in &events[..ready] {
                match Token::from_key(event.data()) {
                    Token::Listener => self.accept_clients(),
                    Token::Client(id, role) => self.on_event(id, role, event.events()),
                }
            }
            // 3. Deal with the connections whose deadline has passed.
            self.expire_deadlines();
        }
    }
    // ANCHOR_END: run

    // ANCHOR: timers
    /// How long `epoll_wait` may sleep: until the earliest deadline, rounded
    /// *up* to a whole millisecond (rounded down, we would wake a moment
    /// early, find nothing due, and spin), or forever if there is none.
    fn time_to_next_deadline(&self) -> EpollTimeout {
        let Some(&(deadline, _)) = self.deadlines.first() else {
            return EpollTimeout::NONE;
        };
        let left = deadline.saturating_duration_since(Instant::now());
        let millis = left.as_micros().div_ceil(1000);
        EpollTimeout::try_from(millis).unwrap_or(EpollTimeout::MAX)
    }

    /// Runs the timeout handler of every connection whose deadline has passed.
    fn expire_deadlines(&mut self) {
        let now = Instant::now();
        // The set is sorted: what is due is at the front.
        let mut due = Vec::new();
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            due.push(id);
        }
        for id in due {
            let Some(connection) = self.connections.get_mut(&id) else {
                continue;
            };
            connection.armed = None; // taken off the set above
            let status = connection.on_deadline(&self.epoll, now);
            self.settle(id, status);
        }
    }
    // ANCHOR_END: timers

    // ANCHOR: accept
    /// Accepts every client waiting in the listen queue.
    fn accept_clients(&mut self) {
        loop {
            let (socket, peer) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(err) if err.kind() == ErrorKind::WouldBlock => return,
                Err(err) if out_of_descriptors(&err) => {
                    // The client stays queued and the listener stays readable:
                    // retrying now would fail again, forever. Stop watching
                    // the listener until one of our connections closes.
                    eprintln!("accept(2): {err}; pausing until a client leaves");
                    let _ = self.watch_listener(false);
                    return;
                }
                Err(err) => {
                    // ECONNABORTED (the client gave up while queued) and the
                    // like: nothing to do with anyone else.
                    eprintln!("accept(2): {err}");
                    return;
                }
            };
            let stream = TcpStream::from(socket);
            if self.connections.len() >= self.capacity {
                refuse(stream);
                continue;
            }
            let Some(peer) = peer.as_socket() else {
                continue; // not TCP/IP: cannot happen on an IP listener
            };
            let id = self.next_id;
            self.next_id += 1;
            match Connection::new(id, stream, peer, &self.config, &self.epoll) {
                Ok(mut connection) => {
                    // Like Ruby's Connection.new: greet, and write what we can now.
                    let status = connection.advance(&self.epoll, Instant::now());
                    self.connections.insert(id, connection);
                    self.settle(id, status);
                }
                Err(err) => eprintln!("setting up a connection from {peer}: {err}"),
            }
        }
    }
    // ANCHOR_END: accept

    // ANCHOR: on_event
    /// Hands an event to the connection it is about, then settles what the
    /// connection wants next.
    fn on_event(&mut self, id: Id, role: Role, flags: EpollFlags) {
        // Closed earlier in this batch of events: nothing to do.
        let Some(connection) = self.connections.get_mut(&id) else {
            return;
        };
        let now = Instant::now();
        let status = match role {
            Role::Control => connection.on_control(flags, &self.epoll, now),
            Role::Passive => connection.on_passive(&self.epoll, now),
            Role::Data => connection.on_data(&self.epoll, now),
        };
        self.settle(id, status);
    }

    /// After a connection handled something: close it, or bring the kernel's
    /// interest list and our deadline set up to date with what it wants now.
    fn settle(&mut self, id: Id, status: Status) {
        let Some(connection) = self.connections.get_mut(&id) else {
            return;
        };
        if status == Status::Done {
            return self.close(id);
        }
        // Level-triggered epoll: ask only for what the connection can act
        // on now, or it would be woken again at once, for nothing.
        let interest = connection.interest();
        if interest != connection.watching {
            let mut event = EpollEvent::new(interest, Token::Client(id, Role::Control).key());
            if let Err(err) = self.epoll.modify(&connection.control, &mut event) {
                eprintln!("epoll_ctl(EPOLL_CTL_MOD): {err}");
                return self.close(id);
            }
            connection.watching = interest;
        }
        if connection.armed != Some(connection.deadline) {
            if let Some(old) = connection.armed {
                self.deadlines.remove(&(old, id));
            }
            self.deadlines.insert((connection.deadline, id));
            connection.armed = Some(connection.deadline);
        }
    }
    // ANCHOR_END: on_event

    /// Forgets a connection: off the deadline set, off the interest list,
    /// closed.
    fn close(&mut self, id: Id) {
        let Some(connection) = self.connections.remove(&id) else {
            return;
        };
        if let Some(deadline) = connection.armed {
            self.deadlines.remove(&(deadline, id));
        }
        // epoll_ctl(EPOLL_CTL_DEL). Closing the socket (when `connection`
        // is dropped, below) would take it off the list too, as it does for
        // the data sockets; here we say it.
        let _ = self.epoll.delete(&connection.control);
        drop(connection);
        // A descriptor is free again: accept again if we had stopped.
        if !self.accepting {
            let _ = self.watch_listener(true);
        }
    }

    // ANCHOR: watch_listener
    /// Puts the listener on the interest list, or takes it off.
    ///
    /// `EPOLLEXCLUSIVE` matters only when several processes wait on the same
    /// listener (`hybrid`): a new client then wakes one of them, not all.
    /// (An exclusive entry cannot be modified, only deleted and added again,
    /// hence delete/add here rather than `EPOLL_CTL_MOD`.)
    fn watch_listener(&mut self, on: bool) -> anyhow::Result<()> {
        if on {
            let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLEXCLUSIVE;
            let event = EpollEvent::new(flags, Token::Listener.key());
            self.epoll
                .add(&self.listener, event)
                .context("epoll_ctl(EPOLL_CTL_ADD) for the listener")?;
        } else {
            self.epoll
                .delete(&self.listener)
                .context("epoll_ctl(EPOLL_CTL_DEL) for the listener")?;
        }
        self.accepting = on;
        Ok(())
    }
    // ANCHOR_END: watch_listener
}

/// How many clients fit in this process's open file limit.
fn client_capacity() -> nix::Result<usize> {
    let (soft, _hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let available = soft.saturating_sub(RESERVED_FDS);
    let clients = available - available / TRANSFER_SHARE;
    Ok(clients.max(1).try_into().unwrap_or(usize::MAX))
}

/// Whether accept(2) failed for want of a descriptor: EMFILE (this process
/// is at its limit) or ENFILE (the whole system is).
fn out_of_descriptors(err: &io::Error) -> bool {
    let errno = err.raw_os_error().map(Errno::from_raw);
    matches!(errno, Some(Errno::EMFILE | Errno::ENFILE))
}

/// Tells a client we have no room for it, and closes. The socket is brand
/// new, so its send buffer is empty and this short write cannot block; it is
/// made non-blocking anyway, so that nothing here can ever wait.
fn refuse(mut stream: TcpStream) {
    let _ = stream.set_nonblocking(true);
    let _ = stream.write(Reply::too_many_connections().as_bytes());
}

// ---------------------------------------------------------------------------
// One client
// ---------------------------------------------------------------------------

// ANCHOR: connection
/// One client: its sockets, its session, and where it is in the protocol.
struct Connection {
    id: Id,
    /// The control connection, non-blocking.
    control: TcpStream,
    peer: SocketAddr,
    session: Session,
    /// Bytes of commands read but not yet handled.
    lines: LineBuffer,
    /// Replies not yet written: a slow reader's replies wait here, not in
    /// a blocked `write`.
    unsent: Vec<u8>,
    state: State,
    /// What the control connection is on the interest list for.
    watching: EpollFlags,
    /// When this connection's timeout fires; see [`Connection::touch`].
    deadline: Instant,
    /// The deadline that is in the reactor's set, if any.
    armed: Option<Instant>,
    idle_timeout: Duration,
    data_timeout: Duration,
}

/// Where a client is in the protocol.
enum State {
    /// Reading and answering commands.
    Commands,
    /// A RETR/LIST/NLST is running. Commands are not read meanwhile: they
    /// wait in the kernel, as they would for the blocking driver.
    Transfer(DataTransfer),
    /// A last reply (221, 421, 500) is going out; then we close.
    Closing,
}

/// A transfer in progress.
struct DataTransfer {
    step: Step,
    outgoing: Outgoing,
    /// The 226 to send when all went out.
    done: Reply,
}

/// How far the data connection has got.
enum Step {
    /// PASV/EPSV: waiting for the client to connect to our listener. Only a
    /// connection from `peer_ip` is taken.
    Accepting {
        listener: TcpListener,
        peer_ip: IpAddr,
    },
    /// The data connection: PORT/EPRT's non-blocking connect(2) is under way
    /// while `connected` is false; then we send, a chunk per writable event.
    Data { stream: TcpStream, connected: bool },
}
// ANCHOR_END: connection

impl Connection {
    /// Sets up a freshly accepted client: non-blocking, on the interest
    /// list, its greeting queued.
    fn new(
        id: Id,
        control: TcpStream,
        peer: SocketAddr,
        config: &Config,
        epoll: &Epoll,
    ) -> io::Result<Connection> {
        control.set_nonblocking(true)?;
        // Every reply is queued whole and written at once: no Nagle delay
        // (see `serve_connection`).
        control.set_nodelay(true)?;
        let local = control.local_addr()?;
        let watching = EpollFlags::EPOLLIN;
        epoll.add(
            &control,
            EpollEvent::new(watching, Token::Client(id, Role::Control).key()),
        )?;
        let mut connection = Connection {
            id,
            control,
            peer,
            session: Session::new(config, local, peer),
            lines: LineBuffer::new(),
            unsent: Vec::new(),
            state: State::Commands,
            watching,
            deadline: Instant::now() + config.idle_timeout,
            armed: None,
            idle_timeout: config.idle_timeout,
            data_timeout: config.data_timeout,
        };
        connection.say(&Session::greeting());
        Ok(connection)
    }

    // ANCHOR: on_control
    /// The control connection is readable (a command, or the client closed)
    /// or writable (room for unsent replies).
    fn on_control(&mut self, flags: EpollFlags, epoll: &Epoll, now: Instant) -> Status {
        // EPOLLERR and EPOLLHUP come whether asked for or not; the read or
        // write below then reports the error or the end.
        let trouble = EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP;
        if flags.intersects(EpollFlags::EPOLLOUT | trouble) && self.flush(now).is_err() {
            return Status::Done;
        }
        if flags.intersects(EpollFlags::EPOLLIN | trouble) && self.reading() {
            // One read per event, at most MAX_LINE bytes: if more is waiting,
            // level-triggered epoll reports the socket again next time round.
            let mut chunk = [0u8; MAX_LINE];
            match self.control.read(&mut chunk) {
                Ok(0) => return Status::Done, // the client closed
                Ok(n) => {
                    self.lines.push(&chunk[..n]);
                    self.touch(now);
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Status::Done, // reset
            }
        }
        self.advance(epoll, now)
    }
    // ANCHOR_END: on_control

    // ANCHOR: advance
    /// Handles every complete command line buffered, as far as the state
    /// allows, then writes what it can. This is where the state changes.
    fn advance(&mut self, epoll: &Epoll, now: Instant) -> Status {
        while self.reading() {
            let line = match self.lines.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => break, // half a command: wait for the rest
                Err(LineTooLong) => {
                    self.close_after(&Reply::line_too_long());
                    break;
                }
            };
            match self.session.handle(&line) {
                Outcome::Reply(reply) => self.say(&reply),
                Outcome::Close(reply) => self.close_after(&reply),
                Outcome::Transfer(transfer) => self.start_transfer(transfer, epoll, now),
            }
        }
        if self.flush(now).is_err() {
            return Status::Done;
        }
        match self.state {
            State::Closing if self.unsent.is_empty() => Status::Done,
            _ => Status::Open,
        }
    }

    /// Whether to read and handle commands now: between transfers, and
    /// while the client reads its replies (backpressure).
    fn reading(&self) -> bool {
        matches!(self.state, State::Commands) && self.unsent.len() < UNSENT_LIMIT
    }

    /// What to be woken for: readable while we read commands, writable
    /// while replies are waiting.
    fn interest(&self) -> EpollFlags {
        let mut interest = EpollFlags::empty();
        if self.reading() {
            interest |= EpollFlags::EPOLLIN;
        }
        if !self.unsent.is_empty() {
            interest |= EpollFlags::EPOLLOUT;
        }
        interest
    }
    // ANCHOR_END: advance

    // ANCHOR: replies
    /// Queues a reply. [`flush`](Connection::flush) writes it.
    fn say(&mut self, reply: &Reply) {
        self.unsent.extend_from_slice(reply.as_bytes());
    }

    /// Queues a last reply; the connection closes once it is written.
    fn close_after(&mut self, reply: &Reply) {
        self.say(reply);
        self.state = State::Closing;
    }

    /// Writes as much of the unsent replies as the socket takes now. An
    /// error means the control connection is gone.
    fn flush(&mut self, now: Instant) -> io::Result<()> {
        while !self.unsent.is_empty() {
            match self.control.write(&self.unsent) {
                Ok(n) => {
                    self.unsent.drain(..n);
                    self.touch(now);
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }
    // ANCHOR_END: replies

    // ANCHOR: start_transfer
    /// RETR/LIST/NLST: announce the transfer (150) and start establishing
    /// the data connection, without waiting for it.
    fn start_transfer(&mut self, transfer: Transfer, epoll: &Epoll, now: Instant) {
        self.say(&transfer.start);
        let step = match transfer.data {
            // Passive: the client connects to the listener PASV made. It is
            // readable once someone has.
            DataChannel::Accept { listener, peer_ip } => {
                let registered = listener.set_nonblocking(true).and_then(|()| {
                    let token = Token::Client(self.id, Role::Passive).key();
                    let event = EpollEvent::new(EpollFlags::EPOLLIN, token);
                    Ok(epoll.add(&listener, event)?)
                });
                registered.map(|()| Step::Accepting { listener, peer_ip })
            }
            // Active: we connect to the client. The socket is writable once
            // the handshake is done (or has failed).
            DataChannel::Connect(addr) => connect_nonblocking(addr).and_then(|stream| {
                self.watch_data(&stream, epoll)?;
                Ok(Step::Data {
                    stream,
                    connected: false,
                })
            }),
        };
        match step {
            Ok(step) => {
                self.state = State::Transfer(DataTransfer {
                    step,
                    outgoing: Outgoing::new(transfer.payload),
                    done: transfer.done,
                });
                self.touch(now);
            }
            Err(err) => {
                eprintln!("data connection for {}: {err}", self.peer);
                self.say(&Reply::cannot_open_data_connection());
            }
        }
    }

    /// Puts a data connection on the interest list, for writability.
    fn watch_data(&self, stream: &TcpStream, epoll: &Epoll) -> io::Result<()> {
        let token = Token::Client(self.id, Role::Data).key();
        Ok(epoll.add(stream, EpollEvent::new(EpollFlags::EPOLLOUT, token))?)
    }
    // ANCHOR_END: start_transfer

    // ANCHOR: on_passive
    /// The passive listener is readable: someone connected to it.
    fn on_passive(&mut self, epoll: &Epoll, now: Instant) -> Status {
        let State::Transfer(transfer) = &mut self.state else {
            return Status::Open; // a stale event
        };
        let Step::Accepting { listener, peer_ip } = &transfer.step else {
            return Status::Open;
        };
        let stream = loop {
            match listener.accept() {
                // The rule of DataChannel::accepts: only the client itself.
                Ok((stream, from)) if from.ip().to_canonical() == peer_ip.to_canonical() => {
                    break stream;
                }
                Ok((_stranger, from)) => {
                    // Dropped at the end of this arm: closed.
                    eprintln!("refused a data connection from {from}: the client is {peer_ip}");
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => return Status::Open,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => {
                    eprintln!("accept(2) on a passive listener: {err}");
                    return self.end_transfer(Reply::cannot_open_data_connection(), epoll, now);
                }
            }
        };
        // The client is connected: the data connection replaces the
        // listener, which is closed (and so leaves the interest list).
        let watched = stream
            .set_nonblocking(true)
            .and_then(|()| self.watch_data(&stream, epoll));
        if let Err(err) = watched {
            eprintln!("data connection for {}: {err}", self.peer);
            return self.end_transfer(Reply::cannot_open_data_connection(), epoll, now);
        }
        if let State::Transfer(transfer) = &mut self.state {
            transfer.step = Step::Data {
                stream,
                connected: true,
            };
        }
        self.touch(now);
        Status::Open
    }
    // ANCHOR_END: on_passive

    // ANCHOR: on_data
    /// The data connection is writable: our connect finished (for better or
    /// worse), or there is room to send the next chunk.
    fn on_data(&mut self, epoll: &Epoll, now: Instant) -> Status {
        let State::Transfer(transfer) = &mut self.state else {
            return Status::Open; // a stale event
        };
        let Step::Data { stream, connected } = &mut transfer.step else {
            return Status::Open;
        };
        if !*connected {
            // getsockopt(SO_ERROR): how did our connect(2) end?
            match stream.take_error() {
                Ok(None) => *connected = true,
                Ok(Some(err)) | Err(err) => {
                    eprintln!("connecting to {}'s data port: {err}", self.peer);
                    return self.end_transfer(Reply::cannot_open_data_connection(), epoll, now);
                }
            }
        }
        match transfer.outgoing.send_some(stream) {
            Ok(Sent::Nothing) => Status::Open,
            Ok(Sent::Some) => {
                self.touch(now);
                Status::Open
            }
            Ok(Sent::Everything) => {
                let done = transfer.done.clone();
                self.end_transfer(done, epoll, now)
            }
            Err(err) => {
                eprintln!("sending to {}: {err}", self.peer);
                self.end_transfer(Reply::transfer_aborted(), epoll, now)
            }
        }
    }
    // ANCHOR_END: on_data

    // ANCHOR: end_transfer
    /// Ends the transfer: closes the data connection (its FIN tells the
    /// client "that was all"; closing also takes it off the interest list),
    /// queues the final reply, and goes back to commands, handling any that
    /// arrived meanwhile.
    fn end_transfer(&mut self, reply: Reply, epoll: &Epoll, now: Instant) -> Status {
        // Dropping the old state closes the data socket or passive listener.
        self.state = State::Commands;
        self.say(&reply);
        self.touch(now);
        self.advance(epoll, now)
    }
    // ANCHOR_END: end_transfer

    // ANCHOR: on_deadline
    /// The deadline passed with nothing happening.
    fn on_deadline(&mut self, epoll: &Epoll, now: Instant) -> Status {
        match &self.state {
            // Silent for IDLE_TIMEOUT: say so and close.
            State::Commands if self.unsent.is_empty() => {
                self.close_after(&Reply::idle_timeout());
                self.touch(now);
                self.advance(epoll, now)
            }
            // Sending commands without reading the replies, or not reading
            // our last reply: nothing more to say to this client.
            State::Commands | State::Closing => Status::Done,
            // The data connection never came: 425. It stopped taking data: 426.
            State::Transfer(transfer) => {
                let reply = match transfer.step {
                    Step::Data {
                        connected: true, ..
                    } => Reply::transfer_aborted(),
                    _ => Reply::cannot_open_data_connection(),
                };
                self.end_transfer(reply, epoll, now)
            }
        }
    }

    /// Progress: move the deadline. A client waiting for commands may be
    /// silent for IDLE_TIMEOUT; anything else (a transfer, replies the
    /// client has not read yet, a last reply) must move within DATA_TIMEOUT.
    fn touch(&mut self, now: Instant) {
        let timeout = match self.state {
            State::Commands if self.unsent.is_empty() => self.idle_timeout,
            _ => self.data_timeout,
        };
        self.deadline = now + timeout;
    }
    // ANCHOR_END: on_deadline
}

// ANCHOR: connect_nonblocking
/// Starts connecting to `addr` without waiting: connect(2) on a non-blocking
/// socket returns `EINPROGRESS` at once, and the socket becomes writable
/// when the handshake is done (or has failed: then `SO_ERROR` says why).
fn connect_nonblocking(addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(err) if err.raw_os_error() == Some(Errno::EINPROGRESS as i32) => {}
        Err(err) => return Err(err),
    }
    Ok(TcpStream::from(socket))
}
// ANCHOR_END: connect_nonblocking

// ANCHOR: outgoing
/// The bytes of a transfer on their way out.
enum Outgoing {
    /// A listing, built in memory, and how much of it is written.
    Bytes { bytes: Vec<u8>, written: usize },
    /// A file (RETR). `sendfile(2)` moves the file's position forward as it
    /// sends, so the file itself remembers how far we are.
    File(File),
}

/// What one [`Outgoing::send_some`] achieved.
enum Sent {
    /// The socket took nothing (its send buffer is full).
    Nothing,
    /// Some bytes went out; there may be more.
    Some,
    /// The last byte went out.
    Everything,
}

impl Outgoing {
    fn new(payload: Payload) -> Outgoing {
        match payload {
            Payload::Listing(bytes) => Outgoing::Bytes { bytes, written: 0 },
            Payload::File { file, .. } => Outgoing::File(file),
        }
    }

    /// One step of the transfer: one write(2) of what is left of a listing,
    /// or one sendfile(2) of the next [`CHUNK`] of a file. The socket is
    /// non-blocking, so either takes what fits in its send buffer now and
    /// returns.
    fn send_some(&mut self, socket: &TcpStream) -> io::Result<Sent> {
        match self {
            Outgoing::Bytes { bytes, written } => match (&*socket).write(&bytes[*written..]) {
                Ok(n) => {
                    *written += n;
                    Ok(if *written == bytes.len() {
                        Sent::Everything
                    } else {
                        Sent::Some
                    })
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => Ok(Sent::Nothing),
                Err(err) if err.kind() == ErrorKind::Interrupted => Ok(Sent::Nothing),
                Err(err) => Err(err),
            },
            // `None`: from the file's own position, which sendfile(2) moves
            // forward. The file's pages go from the page cache to the socket
            // without being copied through our memory.
            Outgoing::File(file) => match sendfile(socket, &*file, None, CHUNK) {
                Ok(0) => Ok(Sent::Everything), // the end of the file
                Ok(_) => Ok(Sent::Some),
                Err(Errno::EAGAIN | Errno::EINTR) => Ok(Sent::Nothing),
                Err(errno) => Err(errno.into()),
            },
        }
    }
}
// ANCHOR_END: outgoing

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_survive_the_round_trip_through_epoll() {
        for token in [
            Token::Listener,
            Token::Client(1, Role::Control),
            Token::Client(7, Role::Passive),
            Token::Client(u64::MAX >> 2, Role::Data),
        ] {
            assert_eq!(Token::from_key(token.key()), token);
        }
    }
}
