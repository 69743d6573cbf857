//! The FTP control-channel load generator of `bench_architectures` and
//! `bench_c10k`: many clients, each logging in and then doing round trips
//! (`NOOP`, `PWD`, `NOOP`, …), every reply timed.
//!
//! It is one thread with one epoll instance, the same for every server, so
//! that the servers are compared under exactly the same client, and so that
//! the generator takes one of the machine's two cores at most and leaves
//! the other to the server. Each client is a closed loop: one command, wait
//! for its reply, the next command. A round trip's latency is the time from
//! the write of the command to the read that completed its reply.
//!
//! A client's session is bounded ([`Load::session`]): after that many round
//! trips it sends `QUIT`, waits for `221`, closes, and connects again at
//! once. That is what lets a server that serves a fixed number of clients
//! at a time (serial: one; a pool: `CONCURRENCY`) get round to all of them;
//! the others wait in the listener's accept queue, and the time from
//! `connect(2)` to the `220` greeting ([`LoadResult::greeting_us`]) shows how
//! long.
//!
//! [`open_idle`] opens connections that log in and then stay silent, for
//! `bench_c10k`'s ten thousand idle clients.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::resource::{UsageWho, getrusage};
use socket2::{Domain, SockAddr, Socket, Type};

use crate::stats::Summary;

/// How long a client waits before connecting again after a failure (a
/// refusal, a reset): long enough not to spin, short against a run.
const RETRY_AFTER: Duration = Duration::from_millis(50);

/// One run of the generator.
#[derive(Debug, Clone)]
pub struct Load {
    pub clients: usize,
    /// Round trips per session, after the login; then `QUIT` and a new
    /// connection. `None`: one session for the whole run.
    pub session: Option<usize>,
    /// The clients make their first connection spread evenly over this
    /// time, not all in the same instant.
    pub ramp: Duration,
    /// Load before the measurement starts (from the start, ramp included).
    pub warmup: Duration,
    /// How long the measurement lasts.
    pub duration: Duration,
}

/// What one run measured, in the measured window only.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// `NOOP`/`PWD` replies received.
    pub round_trips: u64,
    pub per_second: f64,
    /// Latency of those round trips, in µs.
    pub latency_us: Option<Summary>,
    /// From `connect(2)` to the `220` greeting, in µs: time spent waiting
    /// for the server to take the connection.
    pub greeting_us: Option<Summary>,
    /// Sessions ended with `221`.
    pub sessions: u64,
    /// How many of the clients completed at least one round trip.
    pub clients_served: usize,
    /// Failures by kind (`421 refused`, `connection reset`, …), whole run.
    pub failures: BTreeMap<String, u64>,
    /// CPU time of the generator thread / wall time, over the whole run:
    /// near 1.0 means the generator may have been the bottleneck.
    pub generator_cpu: f64,
}

/// Where a client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not connected; waiting for its (re)start time.
    Waiting,
    /// Non-blocking `connect(2)` under way.
    Connecting,
    /// Waiting for `220`.
    Greeting,
    /// `USER` sent.
    User,
    /// `PASS` sent.
    Pass,
    /// Logged in and silent (idle connections).
    Idle,
    /// `NOOP` or `PWD` sent.
    Command,
    /// `QUIT` sent.
    Quit,
}

struct Client {
    socket: Option<TcpStream>,
    phase: Phase,
    /// When `connect(2)` was called.
    connected_at: Instant,
    /// When the command now waiting for its reply was written.
    sent_at: Instant,
    /// The start of a reply that has not all arrived.
    pending: Vec<u8>,
    round_trips_left: Option<usize>,
    next_is_pwd: bool,
    served: bool,
}

/// Every client, their epoll, and what they measured.
struct Generator {
    addr: SocketAddr,
    epoll: Epoll,
    clients: Vec<Client>,
    /// (when, client): clients to connect, soonest first.
    starts: BinaryHeap<Reverse<(Instant, usize)>>,
    /// After the login: idle ([`open_idle`]) or round trips ([`run`]).
    stay_idle: bool,
    session: Option<usize>,
    window: (Instant, Instant),
    round_trips: u64,
    latencies: Vec<f64>,
    greetings: Vec<f64>,
    sessions: u64,
    logged_in: usize,
    /// Clients between connect(2) and the end of their login.
    in_flight: usize,
    failures: BTreeMap<String, u64>,
    buf: Vec<u8>,
}

/// Runs `load` against the FTP server at `addr` and returns what the
/// measured window saw. Returns when the window ends; every connection is
/// closed by then.
pub fn run(addr: SocketAddr, load: &Load) -> anyhow::Result<LoadResult> {
    let started = Instant::now();
    let cpu_before = thread_cpu();
    let window = (started + load.warmup, started + load.warmup + load.duration);
    let mut generator = Generator::new(addr, load.clients, false, load.session, window)?;
    for i in 0..load.clients {
        let offset = load.ramp.mul_f64(i as f64 / load.clients.max(1) as f64);
        generator.starts.push(Reverse((started + offset, i)));
    }
    generator.run_until(window.1, |_| false)?;
    let cpu = thread_cpu().saturating_sub(cpu_before);
    let wall = started.elapsed();

    let measured = load.duration.as_secs_f64();
    Ok(LoadResult {
        round_trips: generator.round_trips,
        per_second: generator.round_trips as f64 / measured,
        latency_us: Summary::of(&mut generator.latencies),
        greeting_us: Summary::of(&mut generator.greetings),
        sessions: generator.sessions,
        clients_served: generator.clients.iter().filter(|c| c.served).count(),
        failures: generator.failures,
        generator_cpu: cpu.as_secs_f64() / wall.as_secs_f64(),
    })
}

/// Idle control connections, logged in and silent.
pub struct IdleConnections {
    /// The open connections (closed when this is dropped).
    pub sockets: Vec<TcpStream>,
    /// Failures by kind while opening them.
    pub failures: BTreeMap<String, u64>,
    /// How long opening them took.
    pub elapsed: Duration,
    /// Whether `timeout` ran out before `count` were logged in.
    pub timed_out: bool,
}

/// Opens `count` control connections to `addr` that log in and then say
/// nothing, at most `in_flight` between `connect(2)` and `230` at a time
/// (so that the server's accept queue never overflows), giving up after
/// `timeout`. A connection that fails is not tried again: the failures say
/// how the server gave out.
pub fn open_idle(
    addr: SocketAddr,
    count: usize,
    in_flight: usize,
    timeout: Duration,
) -> anyhow::Result<IdleConnections> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut generator = Generator::new(addr, count, true, None, (started, deadline))?;
    let mut next = 0;
    generator.run_until(deadline, |generator| {
        // Start more while there is room; stop once all are in, or once
        // every one has been tried and none is still on its way.
        while next < count && generator.in_flight < in_flight {
            generator.connect(next, Instant::now());
            next += 1;
        }
        generator.logged_in == count || (next == count && generator.in_flight == 0)
    })?;
    let timed_out = generator.logged_in < count && Instant::now() >= deadline;
    let mut sockets = Vec::with_capacity(generator.logged_in);
    for client in &mut generator.clients {
        if client.phase == Phase::Idle {
            if let Some(socket) = client.socket.take() {
                let _ = generator.epoll.delete(&socket);
                sockets.push(socket);
            }
        }
    }
    Ok(IdleConnections {
        sockets,
        failures: generator.failures,
        elapsed: started.elapsed(),
        timed_out,
    })
}

impl Generator {
    fn new(
        addr: SocketAddr,
        clients: usize,
        stay_idle: bool,
        session: Option<usize>,
        window: (Instant, Instant),
    ) -> anyhow::Result<Generator> {
        let now = Instant::now();
        Ok(Generator {
            addr,
            epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create1(2)")?,
            clients: (0..clients)
                .map(|_| Client {
                    socket: None,
                    phase: Phase::Waiting,
                    connected_at: now,
                    sent_at: now,
                    pending: Vec::new(),
                    round_trips_left: session,
                    next_is_pwd: false,
                    served: false,
                })
                .collect(),
            starts: BinaryHeap::new(),
            stay_idle,
            session,
            window,
            round_trips: 0,
            latencies: Vec::new(),
            greetings: Vec::new(),
            sessions: 0,
            logged_in: 0,
            in_flight: 0,
            failures: BTreeMap::new(),
            buf: vec![0; 64 * 1024],
        })
    }

    /// The event loop: connects clients when their start time comes, and
    /// handles every reply, until `end` or until `done` says so (it is
    /// asked once per round of the loop).
    fn run_until(
        &mut self,
        end: Instant,
        mut done: impl FnMut(&mut Generator) -> bool,
    ) -> anyhow::Result<()> {
        let mut events = vec![EpollEvent::empty(); 1024];
        loop {
            if done(self) {
                return Ok(());
            }
            let now = Instant::now();
            if now >= end {
                return Ok(());
            }
            while let Some(&Reverse((at, i))) = self.starts.peek() {
                if at > now {
                    break;
                }
                self.starts.pop();
                self.connect(i, now);
            }
            let next_start = self.starts.peek().map_or(end, |Reverse((at, _))| *at);
            let wait = next_start.min(end).saturating_duration_since(now);
            let millis = wait.as_micros().div_ceil(1000).min(1000);
            let timeout = EpollTimeout::from(millis as u16);
            let ready = match self.epoll.wait(&mut events, timeout) {
                Ok(ready) => ready,
                Err(Errno::EINTR) => 0,
                Err(err) => return Err(err).context("epoll_wait(2)"),
            };
            for event in &events[..ready] {
                self.on_event(event.data() as usize);
            }
        }
    }

    /// Starts client `i`'s non-blocking connect.
    fn connect(&mut self, i: usize, now: Instant) {
        let socket = match start_connect(self.addr) {
            Ok(socket) => socket,
            Err(err) => return self.fail(i, &format!("connect(2): {err}"), now),
        };
        let event = EpollEvent::new(EpollFlags::EPOLLOUT, i as u64);
        if let Err(err) = self.epoll.add(&socket, event) {
            return self.fail(i, &format!("epoll_ctl: {err}"), now);
        }
        let client = &mut self.clients[i];
        client.socket = Some(socket);
        client.phase = Phase::Connecting;
        client.connected_at = now;
        client.pending.clear();
        client.round_trips_left = self.session;
        self.in_flight += 1;
    }

    fn on_event(&mut self, i: usize) {
        let now = Instant::now();
        let Some(socket) = self.clients[i].socket.as_ref() else {
            return; // closed earlier in this batch
        };
        if self.clients[i].phase == Phase::Connecting {
            // Writable: the handshake is over. SO_ERROR says how it went.
            match socket.take_error() {
                Ok(None) => {}
                Ok(Some(err)) | Err(err) => {
                    return self.fail(i, &format!("connect(2): {}", err.kind()), now);
                }
            }
            let event = EpollEvent::new(EpollFlags::EPOLLIN, i as u64);
            if let Err(err) = self.epoll.modify(socket, &mut event.clone()) {
                return self.fail(i, &format!("epoll_ctl: {err}"), now);
            }
            self.clients[i].phase = Phase::Greeting;
            return;
        }
        let read = (&*socket).read(&mut self.buf);
        let n = match read {
            Ok(0) => {
                let what = if self.clients[i].phase == Phase::Quit {
                    "closed after QUIT before 221"
                } else {
                    "closed by the server"
                };
                return self.fail(i, what, now);
            }
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::WouldBlock => return,
            Err(err) if err.kind() == ErrorKind::Interrupted => return,
            Err(err) => return self.fail(i, &format!("read(2): {}", err.kind()), now),
        };
        self.clients[i].pending.extend_from_slice(&self.buf[..n]);
        // Only one command is ever outstanding, so at most one whole reply
        // is buffered; handle it, and keep the rest (a partial line) for later.
        while let Some(code) = take_reply(&mut self.clients[i].pending) {
            self.on_reply(i, code, now);
            if self.clients[i].socket.is_none() {
                return;
            }
        }
    }

    /// A whole reply with `code` arrived for client `i`: check it, record
    /// it, send the next command.
    fn on_reply(&mut self, i: usize, code: u16, now: Instant) {
        let in_window = now >= self.window.0 && now < self.window.1;
        if code == 421 {
            return self.fail(i, "421 refused", now);
        }
        let phase = self.clients[i].phase;
        match (phase, code) {
            (Phase::Greeting, 220) => {
                if in_window {
                    let waited = now - self.clients[i].connected_at;
                    self.greetings.push(waited.as_secs_f64() * 1e6);
                }
                self.send(i, b"USER anonymous\r\n", Phase::User, now);
            }
            // Our servers log anyone in at USER (230); others ask for a
            // password first (331).
            (Phase::User, 331) => self.send(i, b"PASS bench@\r\n", Phase::Pass, now),
            (Phase::User | Phase::Pass, 230) => {
                self.in_flight -= 1;
                if self.stay_idle {
                    self.logged_in += 1;
                    self.clients[i].phase = Phase::Idle;
                } else {
                    self.next_command(i, now);
                }
            }
            (Phase::Command, 200 | 257) => {
                if in_window {
                    let took = now - self.clients[i].sent_at;
                    self.latencies.push(took.as_secs_f64() * 1e6);
                    self.round_trips += 1;
                    self.clients[i].served = true;
                }
                self.next_command(i, now);
            }
            (Phase::Quit, 221) => {
                if in_window {
                    self.sessions += 1;
                }
                self.close(i);
                // A new session at once.
                self.starts.push(Reverse((now, i)));
            }
            (phase, code) => self.fail(i, &format!("reply {code} in {phase:?}"), now),
        }
    }

    /// The next round trip, or `QUIT` when the session is over.
    fn next_command(&mut self, i: usize, now: Instant) {
        let client = &mut self.clients[i];
        if client.round_trips_left == Some(0) {
            return self.send(i, b"QUIT\r\n", Phase::Quit, now);
        }
        if let Some(left) = &mut client.round_trips_left {
            *left -= 1;
        }
        client.next_is_pwd = !client.next_is_pwd;
        let command: &[u8] = if client.next_is_pwd {
            b"PWD\r\n"
        } else {
            b"NOOP\r\n"
        };
        self.send(i, command, Phase::Command, now);
    }

    /// Writes a command. Commands are a few bytes and only one is ever
    /// outstanding, so the send buffer always has room: a short write is
    /// treated as a failure.
    fn send(&mut self, i: usize, command: &[u8], phase: Phase, now: Instant) {
        let client = &mut self.clients[i];
        let Some(socket) = client.socket.as_ref() else {
            return;
        };
        match (&*socket).write(command) {
            Ok(n) if n == command.len() => {
                client.phase = phase;
                client.sent_at = now;
            }
            Ok(_) => self.fail(i, "short write", now),
            Err(err) => self.fail(i, &format!("write(2): {}", err.kind()), now),
        }
    }

    /// Counts a failure, closes the client, and (unless it was opening an
    /// idle connection) has it try again shortly.
    fn fail(&mut self, i: usize, what: &str, now: Instant) {
        *self.failures.entry(what.to_string()).or_default() += 1;
        if matches!(
            self.clients[i].phase,
            Phase::Connecting | Phase::Greeting | Phase::User | Phase::Pass
        ) {
            self.in_flight -= 1;
        }
        if self.clients[i].phase == Phase::Idle {
            self.logged_in -= 1;
        }
        self.close(i);
        if !self.stay_idle {
            self.starts.push(Reverse((now + RETRY_AFTER, i)));
        }
    }

    fn close(&mut self, i: usize) {
        let client = &mut self.clients[i];
        if let Some(socket) = client.socket.take() {
            let _ = self.epoll.delete(&socket);
        }
        client.phase = Phase::Waiting;
        client.pending.clear();
    }
}

/// Takes the first whole reply off the front of `pending` and returns its
/// code. A reply ends with a line that starts with its code and a space
/// (`200 NOOP ok.`); `211-` lines are the middle of a longer one.
fn take_reply(pending: &mut Vec<u8>) -> Option<u16> {
    loop {
        let end = pending.iter().position(|&b| b == b'\n')?;
        let line: Vec<u8> = pending.drain(..=end).collect();
        if line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit) && line[3] == b' ' {
            let digit = |k: usize| u16::from(line[k] - b'0');
            return Some(digit(0) * 100 + digit(1) * 10 + digit(2));
        }
    }
}

/// A non-blocking connect(2) to `addr`: it returns at once (`EINPROGRESS`);
/// the socket is writable when the handshake is over.
fn start_connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    // Commands are tiny and each waits for its reply: send each at once.
    socket.set_tcp_nodelay(true)?;
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(err) if err.raw_os_error() == Some(Errno::EINPROGRESS as i32) => {}
        Err(err) => return Err(err),
    }
    Ok(TcpStream::from(socket))
}

/// CPU time of the calling thread so far.
fn thread_cpu() -> Duration {
    getrusage(UsageWho::RUSAGE_THREAD).map_or(Duration::ZERO, |usage| {
        let micros = |time: nix::sys::time::TimeVal| {
            Duration::from_secs(time.tv_sec() as u64) + Duration::from_micros(time.tv_usec() as u64)
        };
        micros(usage.user_time()) + micros(usage.system_time())
    })
}

/// Sends one `NOOP` over each of `connections` (logged in), one connection
/// after another, and returns how many answered `200`: a check that they
/// were really held. Gives up on a connection after 5 s, and on the rest
/// once `within` has passed (they then count as not answering).
pub fn still_answering(connections: &mut [TcpStream], within: Duration) -> usize {
    let deadline = Instant::now() + within;
    let mut answering = 0;
    let mut buf = [0u8; 256];
    for socket in connections.iter_mut() {
        if Instant::now() > deadline {
            break;
        }
        let ready = socket.set_nonblocking(false).is_ok()
            && socket
                .set_read_timeout(Some(Duration::from_secs(5)))
                .is_ok()
            && socket.write_all(b"NOOP\r\n").is_ok();
        // "200 NOOP ok.\r\n" is 14 bytes, one segment: one read gets it.
        if ready && matches!(socket.read(&mut buf), Ok(n) if buf[..n].starts_with(b"200 ")) {
            answering += 1;
        }
    }
    answering
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_taken_whole() {
        let mut pending = b"211-Features:\r\n EPSV\r\n211 End\r\n200 NO".to_vec();
        assert_eq!(take_reply(&mut pending), Some(211));
        assert_eq!(take_reply(&mut pending), None);
        assert_eq!(pending, b"200 NO");
        pending.extend_from_slice(b"OP ok.\r\n");
        assert_eq!(take_reply(&mut pending), Some(200));
        assert!(pending.is_empty());
    }
}
