//! What every integration test in the workspace needs to drive a real binary
//! over real loopback sockets without ever hanging:
//!
//! - [`Server::start`] runs a server binary with `PORT=0`, waits (with a
//!   deadline) for its `Listening on <ip>:<port>` line and learns the port the
//!   kernel chose, so tests run in parallel without fighting over 4481.
//! - The server is killed when the [`Server`] is dropped, also when the test
//!   panics, so a failing test leaves no process behind.
//! - [`connect`] gives a `TcpStream` whose reads and writes time out, so a
//!   server that never answers fails the test instead of hanging it.
//! - Everything the server prints is captured; a failed wait shows its stderr.

use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before the test fails.
///
/// Generous, because CI machines are slow and a debug binary starts slowly;
/// a correct server answers in milliseconds, so this only bounds failures.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A server binary running under test. Killed on drop.
pub struct Server {
    child: Child,
    listening_on: SocketAddr,
    before: Vec<String>,
    stdout: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `bin` (a path, e.g. `env!("CARGO_BIN_EXE_accept_loop")`) with
    /// `PORT=0` and waits for its `Listening on` line.
    pub fn start(bin: &str) -> Server {
        Server::start_with(bin, &[])
    }

    /// Like [`Server::start`], with extra environment variables. A `PORT`
    /// given here replaces the default `PORT=0`.
    pub fn start_with(bin: &str, envs: &[(&str, &str)]) -> Server {
        let mut command = Command::new(bin);
        command.env("PORT", "0");
        command.envs(envs.iter().copied());
        Server::start_command(command)
    }

    /// Starts an already configured command (arguments, current directory…)
    /// and waits for its `Listening on` line.
    pub fn start_command(mut command: Command) -> Server {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));

        let stdout = child.stdout.take().expect("stdout is piped");
        let (lines_tx, lines_rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });

        // Drain stderr continuously: a pipe nobody reads fills up and then
        // blocks the server on its next eprintln!.
        let stderr_text = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let sink = Arc::clone(&stderr_text);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });

        let mut server = Server {
            child,
            listening_on: SocketAddr::from(([0, 0, 0, 0], 0)),
            before: Vec::new(),
            stdout: lines_rx,
            stderr: stderr_text,
        };
        loop {
            let line = server.next_line();
            if let Some(addr) = line.strip_prefix("Listening on ") {
                server.listening_on = addr
                    .trim()
                    .parse()
                    .unwrap_or_else(|err| panic!("bad address in {line:?}: {err}"));
                return server;
            }
            server.before.push(line);
        }
    }

    /// The address the server printed, e.g. `0.0.0.0:40123`.
    pub fn listening_on(&self) -> SocketAddr {
        self.listening_on
    }

    /// Where to connect: the printed address, with a wildcard IP replaced by
    /// loopback so that tests never leave the machine.
    pub fn addr(&self) -> SocketAddr {
        let ip = match self.listening_on.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        SocketAddr::new(ip, self.listening_on.port())
    }

    /// The server's port, as a string for a client's `PORT` variable.
    pub fn port(&self) -> String {
        self.listening_on.port().to_string()
    }

    /// A connection to the server with read and write timeouts set.
    pub fn connect(&self) -> TcpStream {
        connect(self.addr())
    }

    /// Lines the server printed before `Listening on`.
    pub fn lines_before_listening(&self) -> &[String] {
        &self.before
    }

    /// The next line the server prints to stdout. Fails the test if none
    /// comes within [`TIMEOUT`] or the server's stdout closes.
    pub fn next_line(&self) -> String {
        match self.stdout.recv_timeout(TIMEOUT) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                panic!(
                    "no line on stdout within {TIMEOUT:?}; stderr:\n{}",
                    self.stderr()
                )
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!(
                    "stdout closed (did the server exit?); stderr:\n{}",
                    self.stderr()
                )
            }
        }
    }

    /// Reads stdout lines until one equals `expected`, returning the lines
    /// skipped on the way. Fails the test on timeout.
    pub fn expect_line(&self, expected: &str) -> Vec<String> {
        let mut skipped = Vec::new();
        loop {
            let line = self.next_line();
            if line == expected {
                return skipped;
            }
            skipped.push(line);
        }
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The server's process id (to send it a signal, or inspect its children).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the server to exit on its own. Fails the test if it is
    /// still running after [`TIMEOUT`].
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server still running after {TIMEOUT:?}; stderr:\n{}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback connection whose reads and writes fail after [`TIMEOUT`].
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT)
        .unwrap_or_else(|err| panic!("connecting to {addr}: {err}"));
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream
}

/// Accepts one connection on a test-owned listener (the way tests of client
/// binaries stand in for a server), with the same read and write timeouts
/// as [`connect`]. Fails the test if no client connects within [`TIMEOUT`].
///
/// The accept runs on a helper thread so that it can be timed out; after a
/// timeout that thread stays blocked until the test process ends.
pub fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    let listener = listener.try_clone().expect("cloning the listener");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(listener.accept());
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(Ok((stream, peer))) => {
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            stream.set_write_timeout(Some(TIMEOUT)).unwrap();
            (stream, peer)
        }
        Ok(Err(err)) => panic!("accept failed: {err}"),
        Err(_) => panic!("no client connected within {TIMEOUT:?}"),
    }
}

/// Runs a command that exits by itself (a client, say) with stdin closed,
/// and returns its exit status and everything it printed. Fails the test,
/// after killing the process, if it is still running after [`TIMEOUT`].
///
/// For crates without assert_cmd (the exercises); it does what
/// `assert_cmd::Command::timeout(TIMEOUT).output()` does.
pub fn run(mut command: Command) -> std::process::Output {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
    // Drain both pipes while the process runs, or a full pipe blocks it.
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out = thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err.join().unwrap_or_default();
            panic!(
                "{command:?} still running after {TIMEOUT:?}; killed it. stderr:\n{}",
                String::from_utf8_lossy(&stderr)
            );
        }
        thread::sleep(Duration::from_millis(10));
    };
    std::process::Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// Reads until the peer closes its side (EOF). The stream's read timeout
/// bounds each read, so a peer that never closes fails the test.
pub fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    ensure_read_timeout(stream);
    let mut received = Vec::new();
    stream
        .read_to_end(&mut received)
        .unwrap_or_else(|err| panic!("reading to EOF (got {received:?} so far): {err}"));
    received
}

/// Reads exactly `n` bytes, failing the test on timeout or early EOF.
pub fn read_exact(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    ensure_read_timeout(stream);
    let mut received = vec![0; n];
    stream
        .read_exact(&mut received)
        .unwrap_or_else(|err| panic!("reading {n} bytes: {err}"));
    received
}

/// Reads one `\n`-terminated line (the `\n` included), one byte at a time so
/// that nothing after the line is consumed.
pub fn read_line(stream: &mut TcpStream) -> String {
    ensure_read_timeout(stream);
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(0) => panic!(
                "EOF before end of line; got {:?}",
                String::from_utf8_lossy(&line)
            ),
            Ok(_) => {
                line.push(byte[0]);
                if byte[0] == b'\n' {
                    return String::from_utf8_lossy(&line).into_owned();
                }
            }
            Err(err) => panic!(
                "reading a line (got {:?} so far): {err}",
                String::from_utf8_lossy(&line)
            ),
        }
    }
}

/// Asserts that the peer has closed the connection: the next read returns
/// EOF (or a reset) rather than data or a timeout.
pub fn assert_closed(stream: &mut TcpStream) {
    ensure_read_timeout(stream);
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("expected EOF, got {:?}", String::from_utf8_lossy(&buf[..n])),
        Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(err) => panic!("expected EOF, got error {err}"),
    }
}

fn ensure_read_timeout(stream: &TcpStream) {
    if stream.read_timeout().ok().flatten().is_none() {
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    }
}
