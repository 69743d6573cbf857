//! The FTP server that every architecture of Part 3 serves: one command
//! handler, written once, and seven very different ways of running it.
//!
//! The book's point is that *how* a server handles many clients (one after
//! another, a process or a thread each, a pool, an event loop) is a separate
//! decision from *what* it says to each of them. So this file holds
//! everything that is the same for all seven, and each binary in `src/bin/`
//! holds only its way of getting connections to this code.
//!
//! # Three layers
//!
//! 1. [`Session`] is the command handler. It never touches a socket of the
//!    control connection: it takes one command line and returns an
//!    [`Outcome`] — a [`Reply`] to send, a reply after which to close, or a
//!    [`Transfer`] that describes a data transfer step by step. A blocking
//!    driver and an event loop can both carry that description out. (It does
//!    touch the file system, and PASV/EPSV bind the passive listener, both of
//!    which return at once.)
//! 2. [`LineBuffer`] turns the bytes read from the control connection into
//!    command lines and enforces [`MAX_LINE`].
//! 3. [`serve_connection`] is the blocking driver: read a line, handle it,
//!    write the reply, run the transfer, repeat, with timeouts everywhere. The
//!    serial, process-per-connection, thread-per-connection, preforking and
//!    thread-pool servers all call it; the evented servers drive [`Session`]
//!    and [`LineBuffer`] from their own state machine instead.
//!
//! # The FTP we speak
//!
//! | command | reply | notes |
//! |---|---|---|
//! | `USER name` | `230` | anyone is logged in, anonymously |
//! | `PASS secret` | `230` | accepted and ignored |
//! | `SYST` | `215 UNIX Type: L8` | tells clients to expect `ls -l` listings |
//! | `FEAT` | `211` (several lines) | advertises EPRT, EPSV, PASV, SIZE |
//! | `NOOP` | `200` | |
//! | `TYPE A`, `TYPE I` | `200` | other types `504`; files are sent unchanged either way |
//! | `PWD` | `257 "/sub" is the current directory` | the virtual path, never the real one |
//! | `CWD dir`, `CDUP` | `250` / `550` | |
//! | `PORT h1,h2,h3,h4,p1,p2` | `200` / `501` / `504` | active mode, IPv4 ([RFC 959]) |
//! | `EPRT \|1\|ip\|port\|` | `200` / `501` / `504` / `522` | active mode, IPv4 or IPv6 ([RFC 2428]) |
//! | `PASV` | `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).` | passive mode, IPv4 |
//! | `EPSV` | `229 Entering Extended Passive Mode (\|\|\|port\|)` | passive mode, IPv4 or IPv6 |
//! | `RETR file` | `150`, data, `226` | |
//! | `LIST [dir]`, `NLST [dir]` | `150`, data, `226` | `ls -l` lines / bare names |
//! | `SIZE file` | `213 bytes` / `550` | |
//! | `QUIT` | `221`, then the server closes | |
//! | anything else | `502` | `500` if it is not even a word |
//!
//! # The security rules ([RFC 2577])
//!
//! - **No bounce.** `PORT`/`EPRT` may only name the control connection's
//!   peer address, and a port of 1024 or above; anything else gets
//!   `504 ... refused` and no connection is ever attempted. A passive data
//!   connection is taken only from the control connection's peer address;
//!   anyone else who connects is closed and the server keeps waiting.
//! - **No escape.** Paths are virtual: `/` is [`Config::root`]. Every path a
//!   client names is resolved lexically against the current directory, then
//!   by the kernel (`realpath(3)`, which follows every symlink), and refused
//!   with `550` unless the result is still inside the root.
//! - **No flood.** A command line longer than [`MAX_LINE`] bytes is refused
//!   with `500` and the connection is closed; the rest is never buffered.
//! - **No squatting.** A control connection silent for
//!   [`Config::idle_timeout`] gets `421` and is closed; a data connection that
//!   does not connect, or stops reading, for [`Config::data_timeout`] is
//!   abandoned with `425`/`426`.
//! - Nothing a client sends ends the session except `QUIT`, a flood, or
//!   silence: every mistake gets its reply and the next command is read.
//!
//! [RFC 959]: https://www.rfc-editor.org/rfc/rfc959
//! [RFC 2428]: https://www.rfc-editor.org/rfc/rfc2428
//! [RFC 2577]: https://www.rfc-editor.org/rfc/rfc2577

use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, File, Metadata};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::sendfile::sendfile;
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

pub mod reactor;
// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

// ANCHOR: config
/// Everything a server reads from its environment, read once at start-up.
///
/// | variable | field | default |
/// |---|---|---|
/// | `HOST`, `PORT` | [`listen`](Config::listen) | `127.0.0.1:4481` |
/// | `FTP_ROOT` | [`root`](Config::root) | the current directory |
/// | `IDLE_TIMEOUT` (seconds) | [`idle_timeout`](Config::idle_timeout) | 300 |
/// | `DATA_TIMEOUT` (seconds) | [`data_timeout`](Config::data_timeout) | 30 |
/// | `MAX_CONNECTIONS` | [`max_connections`](Config::max_connections) | 64 |
/// | `CONCURRENCY` | [`concurrency`](Config::concurrency) | 4 |
/// | `SHUTDOWN_GRACE` (seconds) | [`shutdown_grace`](Config::shutdown_grace) | 5 |
///
/// Timeouts may have a fraction (`IDLE_TIMEOUT=0.5`) and must be above zero.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the server listens.
    pub listen: SocketAddr,
    /// The directory served as `/`, canonical (absolute, no symlinks), so
    /// that "is this path inside the root?" is a plain prefix test.
    pub root: PathBuf,
    /// How long a control connection may stay silent before `421` and close.
    pub idle_timeout: Duration,
    /// How long a data connection may take to be established, and how long
    /// one write to it (or to the control connection) may block.
    pub data_timeout: Duration,
    /// The cap on live connections for the unbounded architectures (a
    /// process or thread per connection); past it a client gets `421`.
    pub max_connections: usize,
    /// How many workers the pooled architectures (preforking, thread pool,
    /// hybrid) start.
    pub concurrency: usize,
    /// How long the forking servers, once told to stop, wait for their
    /// children to exit after SIGTERM before they SIGKILL the rest.
    pub shutdown_grace: Duration,
}
// ANCHOR_END: config

impl Config {
    /// Reads the configuration from the environment (see [`Config`]).
    pub fn from_env() -> anyhow::Result<Config> {
        let root = match std::env::var_os("FTP_ROOT") {
            Some(dir) => PathBuf::from(dir),
            None => std::env::current_dir().context("reading the current directory")?,
        };
        let root = root
            .canonicalize()
            .with_context(|| format!("FTP_ROOT={} does not exist", root.display()))?;
        if !root.is_dir() {
            bail!("FTP_ROOT={} is not a directory", root.display());
        }
        Ok(Config {
            listen: conventions::listen_addr("127.0.0.1")?,
            root,
            idle_timeout: env_seconds("IDLE_TIMEOUT", 300.0)?,
            data_timeout: env_seconds("DATA_TIMEOUT", 30.0)?,
            max_connections: env_number("MAX_CONNECTIONS", 64)?,
            concurrency: env_number("CONCURRENCY", 4)?,
            shutdown_grace: env_seconds("SHUTDOWN_GRACE", 5.0)?,
        })
    }

    /// A configuration serving `root` with the defaults, for tests and for
    /// programs that do not read the environment.
    pub fn with_root(root: &Path) -> io::Result<Config> {
        Ok(Config {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, conventions::DEFAULT_PORT)),
            root: root.canonicalize()?,
            idle_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(30),
            max_connections: 64,
            concurrency: 4,
            shutdown_grace: Duration::from_secs(5),
        })
    }
}

fn env_number<T: FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(text) => match text.trim().parse() {
            Ok(value) => Ok(value),
            Err(_) => bail!("{name}={text:?} is not a whole number"),
        },
        Err(_) => Ok(default),
    }
}

fn env_seconds(name: &str, default: f64) -> anyhow::Result<Duration> {
    let seconds: f64 = match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .ok()
            .with_context(|| format!("{name}={text:?} is not a number of seconds"))?,
        Err(_) => default,
    };
    if !(seconds > 0.0 && seconds < 1e9) {
        bail!("{name} must be a number of seconds above zero");
    }
    Ok(Duration::from_secs_f64(seconds))
}

// ---------------------------------------------------------------------------
// The forking servers' masters

// ANCHOR: wait_for_signal
/// sigtimedwait(2): takes one pending signal of `signals`, like
/// `SigSet::wait` (sigwait), but gives up after `timeout` and returns `None`.
/// The signals must be blocked, as in every master here.
pub fn wait_for_signal(signals: &SigSet, timeout: Duration) -> anyhow::Result<Option<Signal>> {
    let timeout = nix::libc::timespec {
        tv_sec: timeout
            .as_secs()
            .try_into()
            .unwrap_or(nix::libc::time_t::MAX),
        tv_nsec: timeout.subsec_nanos().into(),
    };
    // SAFETY: both pointers are valid for the call; the siginfo pointer may
    // be null (we only want the signal's number, the return value).
    let number =
        unsafe { nix::libc::sigtimedwait(signals.as_ref(), std::ptr::null_mut(), &timeout) };
    match Errno::result(number) {
        Ok(number) => Ok(Some(Signal::try_from(number)?)),
        // EAGAIN: the time ran out. EINTR: another signal's handler ran (we
        // install none); either way, nothing of ours arrived.
        Err(Errno::EAGAIN | Errno::EINTR) => Ok(None),
        Err(err) => Err(err).context("sigtimedwait(2)"),
    }
}
// ANCHOR_END: wait_for_signal

// ANCHOR: reap_or_kill
/// The end of a forking server's clean stop: `children` were sent SIGTERM.
/// Reaps each one as it exits, for at most `grace`; then sends SIGKILL to
/// whoever is left (a child that blocks, ignores or handles SIGTERM, or one
/// that is stopped), which no process can refuse, and reaps those too.
/// Returns every child with its wait status, in the order they were reaped.
///
/// SIGCHLD must be blocked (it is, in every master): we wait for it with
/// sigtimedwait(2), so a child that exits ends the wait at once.
pub fn reap_or_kill(
    children: impl IntoIterator<Item = Pid>,
    grace: Duration,
) -> Vec<(Pid, WaitStatus)> {
    let deadline = Instant::now() + grace;
    let mut left: Vec<Pid> = children.into_iter().collect();
    let mut reaped = Vec::new();
    let mut sigchld = SigSet::empty();
    sigchld.add(Signal::SIGCHLD);
    let mut killed = false;
    while !left.is_empty() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() && !killed {
            for &pid in &left {
                println!("{pid} still running after {grace:?}: SIGKILL");
                let _ = kill(pid, Signal::SIGKILL);
            }
            killed = true;
        }
        // Within the grace period, only collect those that have exited
        // (WNOHANG); after SIGKILL, block: nobody survives it.
        let flags = (!killed).then_some(WaitPidFlag::WNOHANG);
        left.retain(|&pid| match waitpid(pid, flags) {
            Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => true,
            Ok(status) => {
                reaped.push((pid, status));
                false
            }
            Err(err) => {
                eprintln!("waitpid({pid}): {err}");
                false
            }
        });
        if !killed && !left.is_empty() {
            // Sleep until a child exits (SIGCHLD) or the grace period ends.
            let _ = wait_for_signal(&sigchld, remaining);
        }
    }
    reaped
}
// ANCHOR_END: reap_or_kill

// ---------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------

// ANCHOR: reply
/// One FTP reply, exactly as it goes on the wire: a three-digit code, a
/// message, CRLF — or, for a multi-line reply, `code-` lines ending with a
/// `code ` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    code: u16,
    wire: String,
}
// ANCHOR_END: reply

impl Reply {
    /// `"<code> <message>\r\n"`. Control characters in `message` (a file name
    /// with a line break in it, say) become `?`, so that a reply is always
    /// exactly one line whatever a client managed to put in it.
    pub fn new(code: u16, message: &str) -> Reply {
        Reply {
            code,
            wire: format!("{code} {}\r\n", one_line(message)),
        }
    }

    /// A multi-line reply: `"<code>-<first>"`, then each of `lines` indented
    /// by one space, then `"<code> <last>"`.
    pub fn multiline(code: u16, first: &str, lines: &[&str], last: &str) -> Reply {
        let mut wire = format!("{code}-{}\r\n", one_line(first));
        for line in lines {
            wire.push_str(&format!(" {}\r\n", one_line(line)));
        }
        wire.push_str(&format!("{code} {}\r\n", one_line(last)));
        Reply { code, wire }
    }

    /// The reply code, e.g. 226.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The bytes to write to the control connection.
    pub fn as_bytes(&self) -> &[u8] {
        self.wire.as_bytes()
    }

    /// The reply as text, CRLF included.
    pub fn as_str(&self) -> &str {
        &self.wire
    }

    /// `421` for a client that stayed silent longer than the idle timeout.
    pub fn idle_timeout() -> Reply {
        Reply::new(421, "Timeout: closing the control connection.")
    }

    /// `421` for a client that arrives when a server is at its connection cap.
    pub fn too_many_connections() -> Reply {
        Reply::new(421, "Too many connections, try again later.")
    }

    /// `500` for a command line longer than [`MAX_LINE`]; the server closes the
    /// connection after it.
    pub fn line_too_long() -> Reply {
        Reply::new(
            500,
            &format!("Command line too long (the limit is {MAX_LINE} bytes); closing."),
        )
    }

    /// `425` when the data connection of a [`Transfer`] cannot be made.
    pub fn cannot_open_data_connection() -> Reply {
        Reply::new(425, "Cannot open data connection.")
    }

    /// `426` when a [`Transfer`] fails after it started (the client stopped
    /// reading, reset the connection, or the file could not be read).
    pub fn transfer_aborted() -> Reply {
        Reply::new(426, "Connection closed; transfer aborted.")
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.wire)
    }
}

fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

// ---------------------------------------------------------------------------
// What handling a command produces
// ---------------------------------------------------------------------------

// ANCHOR: outcome
/// What the driver must do after [`Session::handle`].
#[derive(Debug)]
pub enum Outcome {
    /// Send the reply, then read the next command.
    Reply(Reply),
    /// Send the reply, then close the control connection (`QUIT`).
    Close(Reply),
    /// Run a data transfer (`RETR`, `LIST`, `NLST`): see [`Transfer`].
    Transfer(Transfer),
}

/// A data transfer, described so that a blocking driver can carry it out in
/// order and an event loop can do each step when its socket is ready:
///
/// 1. send [`start`](Transfer::start) (`150`) on the control connection;
/// 2. establish the data connection as [`data`](Transfer::data) says; if
///    that fails or times out, send [`Reply::cannot_open_data_connection`]
///    (`425`) and stop;
/// 3. send all of [`payload`](Transfer::payload) on it, then close it;
/// 4. send [`done`](Transfer::done) (`226`) — or, if writing failed or timed
///    out, [`Reply::transfer_aborted`] (`426`).
///
/// Whatever happens, the session goes on with the next command.
#[derive(Debug)]
pub struct Transfer {
    /// The `150` reply that announces the transfer.
    pub start: Reply,
    /// What to send.
    pub payload: Payload,
    /// Where to send it.
    pub data: DataChannel,
    /// The `226` reply after the payload went out and the data connection closed.
    pub done: Reply,
}

/// The bytes a [`Transfer`] sends.
#[derive(Debug)]
pub enum Payload {
    /// A file to stream, already opened by the session (so the file that was
    /// checked to be inside the root is the file that is sent), and its size.
    File {
        /// The open file, positioned at its start.
        file: File,
        /// Its size in bytes when it was opened.
        size: u64,
    },
    /// A directory listing, built in memory (CRLF line ends).
    Listing(Vec<u8>),
}

/// How to reach the client for a data connection. Both kinds have already
/// been checked against the bounce rules; the driver only has to obey.
#[derive(Debug)]
pub enum DataChannel {
    /// Active mode (`PORT`/`EPRT`): connect to this address. It is the
    /// control connection's peer address, at a port of 1024 or above.
    Connect(SocketAddr),
    /// Passive mode (`PASV`/`EPSV`): accept on this listener (bound by the
    /// session on the control connection's local address). Take only a
    /// connection whose peer IP is `peer_ip` ([`DataChannel::accepts`]);
    /// close any other and keep waiting until the data timeout.
    Accept {
        /// The passive listener. It is blocking; an event loop calls
        /// `set_nonblocking(true)` before registering it.
        listener: TcpListener,
        /// The only IP address a data connection may come from.
        peer_ip: IpAddr,
    },
}
// ANCHOR_END: outcome

impl DataChannel {
    /// Whether a connection accepted on a passive listener from `from` may be
    /// used as the data connection.
    pub fn accepts(&self, from: SocketAddr) -> bool {
        match self {
            DataChannel::Accept { peer_ip, .. } => same_ip(from.ip(), *peer_ip),
            DataChannel::Connect(_) => false,
        }
    }
}

fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

// ---------------------------------------------------------------------------
// The command handler
// ---------------------------------------------------------------------------

// ANCHOR: session
/// One client's FTP session: the command handler. It holds what a session
/// remembers between commands — the current directory and the data
/// connection that the next transfer will use — and nothing else.
#[derive(Debug)]
pub struct Session {
    /// The served directory, canonical.
    root: PathBuf,
    /// The current directory relative to `root`: canonical, so it never
    /// contains `..` or a symlink. Empty means `/`.
    cwd: PathBuf,
    /// The server's end of the control connection (passive listeners bind here).
    control_local: SocketAddr,
    /// The client's end: the only address data connections may involve.
    control_peer: SocketAddr,
    /// The data connection arranged by PORT/EPRT/PASV/EPSV, used by the next
    /// RETR/LIST/NLST.
    data: Option<DataChannel>,
}
// ANCHOR_END: session

impl Session {
    /// A new session for a client connected from `control_peer` to our
    /// `control_local`, starting in `/`.
    pub fn new(config: &Config, control_local: SocketAddr, control_peer: SocketAddr) -> Session {
        Session {
            root: config.root.clone(),
            cwd: PathBuf::new(),
            control_local,
            control_peer,
            data: None,
        }
    }

    /// The `220` reply a server sends as soon as it accepts a connection.
    pub fn greeting() -> Reply {
        Reply::new(220, "Working With TCP Sockets FTP ready.")
    }

    /// The current directory as the client sees it: `/`, `/sub`, …
    pub fn current_dir(&self) -> String {
        virtual_path(&self.cwd)
    }

    // ANCHOR: handle
    /// Handles one command line (with or without its CRLF) and says what to
    /// do next. Never fails and never panics: every mistake is a reply.
    pub fn handle(&mut self, line: &[u8]) -> Outcome {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // "RETR my file.txt" → verb "RETR", argument "my file.txt" (bytes:
        // file names on Linux need not be UTF-8).
        let (verb, argument) = match line.iter().position(|&b| b == b' ') {
            Some(space) => (&line[..space], &line[space + 1..]),
            None => (line, &b""[..]),
        };
        if verb.is_empty() || !verb.iter().all(u8::is_ascii_alphabetic) {
            return Outcome::Reply(Reply::new(500, "Syntax error, command unrecognized."));
        }
        let verb = String::from_utf8_lossy(verb).to_ascii_uppercase();

        let reply = match verb.as_str() {
            "USER" | "PASS" => self.login(argument),
            "SYST" => Reply::new(215, "UNIX Type: L8"),
            "FEAT" => Reply::multiline(211, "Features:", &["EPRT", "EPSV", "PASV", "SIZE"], "End"),
            "NOOP" => Reply::new(200, "NOOP ok."),
            "TYPE" => self.type_(argument),
            "PWD" => self.pwd(),
            "CWD" => self.cwd(argument),
            "CDUP" => self.cwd(b".."),
            "PORT" => self.port(argument),
            "EPRT" => self.eprt(argument),
            "PASV" => self.pasv(),
            "EPSV" => self.epsv(argument),
            "SIZE" => self.size(argument),
            "RETR" => return self.retr(argument),
            "LIST" => return self.list(argument, Listing::Long),
            "NLST" => return self.list(argument, Listing::NamesOnly),
            "QUIT" => return Outcome::Close(Reply::new(221, "Goodbye.")),
            _ => Reply::new(502, &format!("{verb} not implemented.")),
        };
        Outcome::Reply(reply)
    }
    // ANCHOR_END: handle

    fn login(&self, name: &[u8]) -> Reply {
        if name.is_empty() {
            return Reply::new(501, "Syntax error: a name is required.");
        }
        Reply::new(230, "Logged in anonymously.")
    }

    fn type_(&self, argument: &[u8]) -> Reply {
        // TYPE A and TYPE I both send files unchanged, like most servers do
        // today: converting line ends would corrupt binary files that a
        // client fetched in the default (ASCII) type.
        match argument.trim_ascii().to_ascii_uppercase().as_slice() {
            b"A" | b"A N" => Reply::new(200, "Type set to A (files are sent unchanged)."),
            b"I" | b"L 8" => Reply::new(200, "Type set to I."),
            b"" => Reply::new(501, "Syntax error: TYPE needs an argument."),
            _ => Reply::new(504, "Only TYPE A and TYPE I are supported."),
        }
    }

    fn pwd(&self) -> Reply {
        // RFC 959: the path is quoted, and a quote inside it is doubled.
        let quoted = self.current_dir().replace('"', "\"\"");
        Reply::new(257, &format!("\"{quoted}\" is the current directory."))
    }

    fn cwd(&mut self, argument: &[u8]) -> Reply {
        if argument.is_empty() {
            return Reply::new(501, "Syntax error: CWD needs a directory.");
        }
        match self.resolve(argument) {
            Some(real) if real.is_dir() => {
                // `resolve` only returns paths inside the root.
                self.cwd = real.strip_prefix(&self.root).unwrap_or(&real).to_path_buf();
                Reply::new(
                    250,
                    &format!("Directory changed to {}.", self.current_dir()),
                )
            }
            _ => no_such_file(),
        }
    }

    fn size(&self, argument: &[u8]) -> Reply {
        if argument.is_empty() {
            return Reply::new(501, "Syntax error: SIZE needs a file name.");
        }
        match self.resolve(argument).map(fs::metadata) {
            Some(Ok(metadata)) if metadata.is_file() => {
                Reply::new(213, &metadata.len().to_string())
            }
            _ => no_such_file(),
        }
    }

    // ANCHOR: resolve
    /// Turns a path a client sent into a real path inside the root, or `None`
    /// (which the caller answers with 550) if there is no such file *or* it
    /// lies outside the root: a client learns nothing about what is outside.
    fn resolve(&self, requested: &[u8]) -> Option<PathBuf> {
        let requested = Path::new(OsStr::from_bytes(requested));
        // 1. Lexically, in the virtual tree: an absolute path starts from
        //    the root, a relative one from the current directory, and `..`
        //    may not climb above `/`.
        let mut inside = if requested.has_root() {
            PathBuf::new()
        } else {
            self.cwd.clone()
        };
        for component in requested.components() {
            match component {
                Component::RootDir | Component::CurDir => {}
                Component::ParentDir => {
                    if !inside.pop() {
                        return None; // `..` at `/`: an escape attempt
                    }
                }
                Component::Normal(name) => inside.push(name),
                Component::Prefix(_) => return None, // Windows only
            }
        }
        // 2. Really, in the kernel: realpath(3) follows every symlink, so a
        //    link inside the root that points outside it is caught here.
        let real = self.root.join(inside).canonicalize().ok()?;
        // 3. The test that matters: still under the root? (`starts_with`
        //    compares whole components, so `/srv/ftp2` is not under `/srv/ftp`.)
        real.starts_with(&self.root).then_some(real)
    }
    // ANCHOR_END: resolve

    // ANCHOR: port
    fn port(&mut self, argument: &[u8]) -> Reply {
        // PORT 127,0,0,1,19,137 → 127.0.0.1, port 19 * 256 + 137 = 5001.
        let text = String::from_utf8_lossy(argument);
        let numbers: Result<Vec<u8>, _> = text.split(',').map(|n| n.trim().parse()).collect();
        let Ok([h1, h2, h3, h4, p1, p2]) = numbers.as_deref() else {
            return Reply::new(501, "Syntax error in PORT arguments.");
        };
        let ip = Ipv4Addr::new(*h1, *h2, *h3, *h4);
        let port = u16::from(*p1) * 256 + u16::from(*p2);
        self.arrange_active(SocketAddr::from((ip, port)), "PORT")
    }

    /// The bounce-attack check (RFC 2577), shared by PORT and EPRT.
    fn arrange_active(&mut self, target: SocketAddr, verb: &str) -> Reply {
        if !same_ip(target.ip(), self.control_peer.ip()) {
            return Reply::new(
                504,
                &format!("{verb} refused: data connections go only to your own address."),
            );
        }
        if target.port() < 1024 {
            return Reply::new(
                504,
                &format!("{verb} refused: ports below 1024 are not allowed."),
            );
        }
        self.data = Some(DataChannel::Connect(target));
        Reply::new(200, &format!("{verb} command successful."))
    }
    // ANCHOR_END: port

    fn eprt(&mut self, argument: &[u8]) -> Reply {
        // EPRT |1|127.0.0.1|5001| — the first character is the delimiter.
        let text = String::from_utf8_lossy(argument);
        let Some(delimiter) = text.chars().next().filter(|c| ('!'..='~').contains(c)) else {
            return Reply::new(501, "Syntax error in EPRT arguments.");
        };
        let fields: Vec<&str> = text.split(delimiter).collect();
        let ["", protocol, address, port, ""] = fields.as_slice() else {
            return Reply::new(501, "Syntax error in EPRT arguments.");
        };
        let ip = match *protocol {
            "1" => address.parse::<Ipv4Addr>().map(IpAddr::from).ok(),
            "2" => address.parse::<Ipv6Addr>().map(IpAddr::from).ok(),
            _ => return Reply::new(522, "Network protocol not supported, use (1,2)."),
        };
        let (Some(ip), Ok(port)) = (ip, port.parse::<u16>()) else {
            return Reply::new(501, "Syntax error in EPRT arguments.");
        };
        self.arrange_active(SocketAddr::new(ip, port), "EPRT")
    }

    // ANCHOR: pasv
    fn pasv(&mut self) -> Reply {
        let IpAddr::V4(ip) = self.control_local.ip() else {
            return Reply::new(502, "PASV works only over IPv4; use EPSV.");
        };
        match self.listen_passive() {
            Ok(port) => {
                let [h1, h2, h3, h4] = ip.octets();
                let (p1, p2) = (port / 256, port % 256);
                Reply::new(
                    227,
                    &format!("Entering Passive Mode ({h1},{h2},{h3},{h4},{p1},{p2})."),
                )
            }
            Err(_) => Reply::cannot_open_data_connection(),
        }
    }

    /// Binds a fresh listener on the address the client reached us at, port 0
    /// (the kernel picks a free one), and remembers it for the next transfer.
    fn listen_passive(&mut self) -> io::Result<u16> {
        // std's bind does socket(2) + bind(2) + listen(2), which return at once.
        let listener = TcpListener::bind((self.control_local.ip(), 0))?;
        let port = listener.local_addr()?.port();
        self.data = Some(DataChannel::Accept {
            listener,
            peer_ip: self.control_peer.ip(),
        });
        Ok(port)
    }
    // ANCHOR_END: pasv

    fn epsv(&mut self, argument: &[u8]) -> Reply {
        let family_ok = match argument.trim_ascii().to_ascii_uppercase().as_slice() {
            b"" => true,
            b"ALL" => return Reply::new(200, "EPSV ALL ok."),
            b"1" => self.control_local.is_ipv4(),
            b"2" => self.control_local.is_ipv6(),
            _ => return Reply::new(501, "Syntax error in EPSV arguments."),
        };
        if !family_ok {
            return Reply::new(
                522,
                "Network protocol not supported; use EPSV without an argument.",
            );
        }
        match self.listen_passive() {
            Ok(port) => Reply::new(229, &format!("Entering Extended Passive Mode (|||{port}|)")),
            Err(_) => Reply::cannot_open_data_connection(),
        }
    }

    // ANCHOR: retr
    fn retr(&mut self, argument: &[u8]) -> Outcome {
        if argument.is_empty() {
            return Outcome::Reply(Reply::new(501, "Syntax error: RETR needs a file name."));
        }
        // Only plain files: opening a FIFO would block until someone writes.
        let Some(real) = self.resolve(argument).filter(|path| path.is_file()) else {
            return Outcome::Reply(no_such_file());
        };
        let Ok(file) = File::open(&real) else {
            return Outcome::Reply(no_such_file());
        };
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let Some(data) = self.data.take() else {
            return Outcome::Reply(no_data_connection());
        };
        let name = String::from_utf8_lossy(argument);
        Outcome::Transfer(Transfer {
            start: Reply::new(
                150,
                &format!("Opening data connection for {name} ({size} bytes)."),
            ),
            payload: Payload::File { file, size },
            data,
            done: Reply::new(226, "Transfer complete."),
        })
    }
    // ANCHOR_END: retr

    fn list(&mut self, argument: &[u8], kind: Listing) -> Outcome {
        // Clients often send `ls` options (`LIST -la`, `LIST -a dir`); we
        // always list the same way, so skip them.
        let mut path = argument.trim_ascii();
        while path.starts_with(b"-") {
            let end = path.iter().position(|&b| b == b' ').unwrap_or(path.len());
            path = path[end..].trim_ascii_start();
        }
        let target = if path.is_empty() { b"." } else { path };
        let Some(real) = self.resolve(target) else {
            return Outcome::Reply(no_such_file());
        };
        let Ok(listing) = list_directory(&self.root, &real, kind) else {
            return Outcome::Reply(no_such_file());
        };
        let Some(data) = self.data.take() else {
            return Outcome::Reply(no_data_connection());
        };
        Outcome::Transfer(Transfer {
            start: Reply::new(150, "Here comes the directory listing."),
            payload: Payload::Listing(listing),
            data,
            done: Reply::new(226, "Directory send OK."),
        })
    }
}

fn no_such_file() -> Reply {
    Reply::new(550, "No such file or directory.")
}

fn no_data_connection() -> Reply {
    Reply::new(425, "Use PORT, EPRT, PASV or EPSV first.")
}

/// `/` for the root, `/a/b` below it.
fn virtual_path(relative: &Path) -> String {
    let mut shown = String::new();
    for component in relative.components() {
        shown.push('/');
        shown.push_str(&component.as_os_str().to_string_lossy());
    }
    if shown.is_empty() {
        shown.push('/');
    }
    shown
}

// ---------------------------------------------------------------------------
// Directory listings
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Listing {
    /// `LIST`: one `ls -l` line per entry.
    Long,
    /// `NLST`: one name per line.
    NamesOnly,
}

// ANCHOR: listing
/// Lists `real` (a directory, or a single file) as `ls -l` lines:
///
/// ```text
/// drwxr-xr-x   1 ftp      ftp          4096 Mar 14  2024 sub
/// -rw-r--r--   1 ftp      ftp       3145728 Mar 14  2024 big.bin
/// ```
///
/// Owner and group are always `ftp` (the real ones are none of the client's
/// business), the date is always in the "month day year" form that `ls` uses
/// for old files (so a listing does not depend on today's date), in UTC.
/// Only plain files and directories inside the root are shown: an entry that
/// is a symlink pointing outside the root, a dangling link, a device or a
/// name with a line break in it is left out, since a client could not fetch
/// it anyway.
fn list_directory(root: &Path, real: &Path, kind: Listing) -> io::Result<Vec<u8>> {
    let mut entries: Vec<(String, Metadata)> = Vec::new();
    if real.is_dir() {
        for entry in fs::read_dir(real)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.chars().any(char::is_control) {
                continue;
            }
            let Ok(target) = entry.path().canonicalize() else {
                continue; // dangling symlink
            };
            if !target.starts_with(root) {
                continue; // symlink leading out of the root
            }
            if let Ok(metadata) = fs::metadata(&target) {
                entries.push((name, metadata));
            }
        }
    } else {
        let name = real.file_name().unwrap_or_default().to_string_lossy();
        entries.push((name.into_owned(), fs::metadata(real)?));
    }
    entries.retain(|(_, metadata)| metadata.is_dir() || metadata.is_file());
    entries.sort_by(|a, b| a.0.cmp(&b.0));

    let mut out = String::new();
    for (name, metadata) in entries {
        match kind {
            Listing::NamesOnly => out.push_str(&format!("{name}\r\n")),
            Listing::Long => out.push_str(&format!(
                "{} {:>3} ftp      ftp      {:>12} {} {name}\r\n",
                permissions(&metadata),
                1,
                metadata.len(),
                ls_date(metadata.modified().unwrap_or(UNIX_EPOCH)),
            )),
        }
    }
    Ok(out.into_bytes())
}
// ANCHOR_END: listing

/// `drwxr-xr-x`, `-rw-r--r--`, …
fn permissions(metadata: &Metadata) -> String {
    let mode = metadata.permissions().mode();
    let mut text = String::with_capacity(10);
    text.push(if metadata.is_dir() { 'd' } else { '-' });
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 0o7;
        text.push(if bits & 0o4 != 0 { 'r' } else { '-' });
        text.push(if bits & 0o2 != 0 { 'w' } else { '-' });
        text.push(if bits & 0o1 != 0 { 'x' } else { '-' });
    }
    text
}

/// `Mar 14  2024`: month, day, and the year right-aligned in six columns, in UTC.
fn ls_date(time: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    format!("{} {day:>2} {year:>5}", MONTHS[(month - 1) as usize])
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31) in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

// ---------------------------------------------------------------------------
// Command lines
// ---------------------------------------------------------------------------

// ANCHOR: max_line
/// The longest command line a server accepts, CRLF included: 4 KiB. Real
/// commands are a few dozen bytes; a path is at most 4096 bytes on Linux.
pub const MAX_LINE: usize = 4096;
// ANCHOR_END: max_line

/// A command line was longer than [`MAX_LINE`]: reply
/// [`Reply::line_too_long`] and close the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTooLong;

// ANCHOR: line_buffer
/// Collects the bytes read from a control connection and hands out complete
/// command lines, one at a time. It never holds more than [`MAX_LINE`] bytes
/// of an unfinished line: past that, [`LineBuffer::next_line`] reports
/// [`LineTooLong`] and the caller closes the connection.
///
/// Use: after each read, [`push`](LineBuffer::push) the bytes, then call
/// [`next_line`](LineBuffer::next_line) until it returns `Ok(None)`; only then
/// read again. A line ends at `\n` (`\r\n` in FTP; a bare `\n` is accepted,
/// as from `nc` without `-C`) and is returned with its line end.
#[derive(Debug, Default)]
pub struct LineBuffer {
    pending: Vec<u8>,
}

impl LineBuffer {
    /// An empty buffer.
    pub fn new() -> LineBuffer {
        LineBuffer::default()
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    /// The next complete line, `Ok(None)` if more bytes are needed, or
    /// `Err(LineTooLong)` once [`MAX_LINE`] bytes have come without a line end.
    pub fn next_line(&mut self) -> Result<Option<Vec<u8>>, LineTooLong> {
        match self.pending.iter().position(|&b| b == b'\n') {
            Some(end) if end < MAX_LINE => Ok(Some(self.pending.drain(..=end).collect())),
            Some(_) => Err(LineTooLong),
            None if self.pending.len() >= MAX_LINE => Err(LineTooLong),
            None => Ok(None),
        }
    }
}
// ANCHOR_END: line_buffer

// ---------------------------------------------------------------------------
// The blocking driver
// ---------------------------------------------------------------------------

// ANCHOR: serve_connection
/// Serves one client on a blocking socket, from greeting to close: the loop
/// that the serial, process-per-connection, thread-per-connection,
/// preforking and thread-pool servers share.
///
/// It returns when the client quits, closes, floods (`500`) or stays silent
/// for [`Config::idle_timeout`] (`421`). An `Err` means the control connection
/// itself failed (reset by the client, say); the caller logs it and goes on.
pub fn serve_connection(connection: impl Into<TcpStream>, config: &Config) -> io::Result<()> {
    let mut control: TcpStream = connection.into();
    // SO_RCVTIMEO: a read that waits longer than this fails with EAGAIN,
    // which is how an idle client is noticed. SO_SNDTIMEO: a client that
    // stops reading its replies cannot hold us in write(2) forever.
    control.set_read_timeout(Some(config.idle_timeout))?;
    control.set_write_timeout(Some(config.data_timeout))?;
    // TCP_NODELAY: every write is a whole reply, so send it at once. With
    // Nagle's algorithm on, the 226 after a transfer would wait until the
    // client acknowledged the 150, which a client with nothing to say
    // delays by up to 40 ms (see the chapter on Nagle's algorithm).
    control.set_nodelay(true)?;
    let mut session = Session::new(config, control.local_addr()?, control.peer_addr()?);
    control.write_all(Session::greeting().as_bytes())?;

    let mut lines = LineBuffer::new();
    loop {
        let line = match next_command(&mut control, &mut lines)? {
            Command::Line(line) => line,
            Command::Closed => return Ok(()),
            Command::TooLong => return say_and_close(control, &Reply::line_too_long()),
            Command::Idle => return say_and_close(control, &Reply::idle_timeout()),
        };
        match session.handle(&line) {
            Outcome::Reply(reply) => control.write_all(reply.as_bytes())?,
            Outcome::Close(reply) => return say_and_close(control, &reply),
            Outcome::Transfer(transfer) => run_transfer(&mut control, transfer, config)?,
        }
    }
}
// ANCHOR_END: serve_connection

enum Command {
    Line(Vec<u8>),
    Closed,
    TooLong,
    Idle,
}

// ANCHOR: next_command
/// Reads until a whole command line is buffered (or the client closes,
/// floods, or idles). Reads at most [`MAX_LINE`] bytes at a time, so a flood
/// costs us at most two such chunks of memory before we hang up.
fn next_command(control: &mut TcpStream, lines: &mut LineBuffer) -> io::Result<Command> {
    let mut chunk = [0u8; MAX_LINE];
    loop {
        match lines.next_line() {
            Ok(Some(line)) => return Ok(Command::Line(line)),
            Err(LineTooLong) => return Ok(Command::TooLong),
            Ok(None) => {}
        }
        match control.read(&mut chunk) {
            Ok(0) => return Ok(Command::Closed),
            Ok(n) => lines.push(&chunk[..n]),
            // SO_RCVTIMEO expired: Linux reports EAGAIN (WouldBlock).
            Err(err) if is_timeout(&err) => return Ok(Command::Idle),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}
// ANCHOR_END: next_command

fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Sends a last reply, then closes. `shutdown(Write)` sends our FIN right
/// after the reply, so the client reads the reply before it sees the end.
fn say_and_close(mut control: TcpStream, reply: &Reply) -> io::Result<()> {
    control.write_all(reply.as_bytes())?;
    let _ = control.shutdown(Shutdown::Write);
    Ok(())
}

// ANCHOR: run_transfer
/// Carries out a [`Transfer`] step by step, blocking, each step bounded by
/// [`Config::data_timeout`].
fn run_transfer(control: &mut TcpStream, transfer: Transfer, config: &Config) -> io::Result<()> {
    control.write_all(transfer.start.as_bytes())?;
    let mut data = match open_data_connection(transfer.data, config.data_timeout) {
        Ok(data) => data,
        Err(err) => {
            eprintln!("data connection failed: {err}");
            return control.write_all(Reply::cannot_open_data_connection().as_bytes());
        }
    };
    // A client that never reads makes write(2) block; SO_SNDTIMEO ends that.
    data.set_write_timeout(Some(config.data_timeout))?;
    let sent = match transfer.payload {
        Payload::File { file, .. } => send_file(&file, &data),
        Payload::Listing(listing) => data.write_all(&listing),
    };
    // Closing the data connection is what tells the client "that was all".
    drop(data);
    match sent {
        Ok(()) => control.write_all(transfer.done.as_bytes()),
        Err(err) => {
            eprintln!("transfer aborted: {err}");
            control.write_all(Reply::transfer_aborted().as_bytes())
        }
    }
}
// ANCHOR_END: run_transfer

// ANCHOR: send_file
/// Sends the rest of `file` to `socket` with sendfile(2): the kernel moves
/// the file's pages from the page cache to the socket itself, so the bytes
/// are never copied into our memory and back out (as a read(2) + write(2)
/// loop would do). On a blocking socket one call usually sends the whole
/// file, sleeping whenever the send buffer is full; the loop is for the rest
/// (a signal, or a file bigger than one call may move).
fn send_file(file: &File, socket: &TcpStream) -> io::Result<()> {
    loop {
        // `None`: start at the file's own position and move it forward, as
        // read(2) would. The socket's SO_SNDTIMEO bounds each call: if the
        // client reads nothing for that long, it fails with EAGAIN.
        match sendfile(socket, file, None, SENDFILE_MAX) {
            Ok(0) => return Ok(()), // the end of the file
            Ok(_) => {}
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client stopped reading",
                ));
            }
            Err(errno) => return Err(errno.into()),
        }
    }
}

/// The most one sendfile(2) call may be asked to move: Linux moves at most
/// 0x7ffff000 bytes (2 GiB less a page) per call anyway.
pub const SENDFILE_MAX: usize = 0x7fff_f000;
// ANCHOR_END: send_file

// ANCHOR: open_data_connection
/// Establishes a data connection as [`DataChannel`] says, within `timeout`.
pub fn open_data_connection(channel: DataChannel, timeout: Duration) -> io::Result<TcpStream> {
    let (listener, peer_ip) = match channel {
        // Active: we connect to the (already checked) client address.
        DataChannel::Connect(addr) => return TcpStream::connect_timeout(&addr, timeout),
        // Passive: we wait for the client to connect to us.
        DataChannel::Accept { listener, peer_ip } => (listener, peer_ip),
    };
    // Non-blocking, so that a connection that vanishes between poll(2) and
    // accept(2) cannot make accept block past our deadline.
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no data connection",
            ));
        }
        let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        poll(
            &mut fds,
            PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX),
        )?;
        let (stream, from) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if same_ip(from.ip(), peer_ip) {
            stream.set_nonblocking(false)?;
            return Ok(stream);
        }
        // Someone else raced the client to our passive port (RFC 2577's
        // "port stealing"): close their connection and keep waiting.
        eprintln!("refused a data connection from {from}: the client is {peer_ip}");
        drop(stream);
    }
}
// ANCHOR_END: open_data_connection

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_796), (2024, 3, 14));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn ls_dates() {
        let time = UNIX_EPOCH + Duration::from_secs(19_796 * 86_400 + 3600);
        assert_eq!(ls_date(time), "Mar 14  2024");
    }

    #[test]
    fn line_buffer_splits_and_caps() {
        let mut lines = LineBuffer::new();
        lines.push(b"USER a\r\nPW");
        assert_eq!(lines.next_line(), Ok(Some(b"USER a\r\n".to_vec())));
        assert_eq!(lines.next_line(), Ok(None));
        lines.push(b"D\n");
        assert_eq!(lines.next_line(), Ok(Some(b"PWD\n".to_vec())));

        let mut flood = LineBuffer::new();
        flood.push(&[b'a'; MAX_LINE - 1]);
        assert_eq!(flood.next_line(), Ok(None));
        flood.push(b"a");
        assert_eq!(flood.next_line(), Err(LineTooLong));

        let mut longest = LineBuffer::new();
        longest.push(&[b'a'; MAX_LINE - 1]);
        longest.push(b"\n");
        assert_eq!(
            longest.next_line().map(|l| l.map(|l| l.len())),
            Ok(Some(MAX_LINE))
        );
    }

    #[test]
    fn replies_stay_one_line() {
        let reply = Reply::new(550, "bad\r\n200 fake");
        assert_eq!(reply.as_str(), "550 bad??200 fake\r\n");
    }
}
