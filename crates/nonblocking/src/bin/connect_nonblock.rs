//! A non-blocking connect: start the handshake, wait, then ask how it went.
//!
//! A blocking `connect(2)` sleeps for the whole TCP handshake. On a
//! non-blocking socket it sends the SYN and returns at once with
//! `EINPROGRESS`. The socket becomes *writable* when the handshake is over,
//! whether it succeeded or failed, so after `poll(2)` says so we read the
//! verdict with `getsockopt(SO_ERROR)`: 0 means connected, anything else is
//! the errno the blocking call would have returned. Ruby hides the same dance
//! behind `connect_nonblock`, `IO.select(nil, [socket])` and a second call.
//!
//! `localhost` resolves to `::1` and `127.0.0.1`; the client tries each in
//! turn, so against a server on 127.0.0.1 you see one refusal first:
//!
//! ```text
//! connecting to [::1]:4481
//! connect: EINPROGRESS, waiting in poll for writability
//! SO_ERROR: ECONNREFUSED
//! connecting to 127.0.0.1:4481
//! connect: EINPROGRESS, waiting in poll for writability
//! SO_ERROR: 0
//! connected to 127.0.0.1:4481 from 127.0.0.1:50412
//! ```
//!
//! It exits 0 when connected, and 1 with `connecting to localhost:4481 failed
//! with ECONNREFUSED: …` when nothing listens on any address.
//!
//! Try it: `cargo run -p nonblocking --bin connect_nonblock` with nothing
//! listening, then again while `nc -l 4481` runs in another terminal.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsFd;

use anyhow::{Context, bail};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let host = conventions::host("localhost");
    let port = conventions::port()?;
    let addrs = (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host}"))?;

    let mut last_error = None;
    for addr in addrs {
        println!("connecting to {addr}");
        match connect_nonblock(addr)? {
            Ok(socket) => {
                let local = socket
                    .local_addr()?
                    .as_socket()
                    .context("not an IP socket")?;
                println!("connected to {addr} from {local}");
                return Ok(());
            }
            // This address failed; try the next one, as TCPSocket.new does.
            Err(err) => last_error = Some(err),
        }
    }
    match last_error {
        Some(err) => Err(conventions::connect_error(format!("{host}:{port}"), err)),
        None => bail!("{host} resolved to no address"),
    }
}

/// One non-blocking connect to `addr`. The outer `Result` is for our own
/// mistakes (a failed poll); the inner one is the verdict on the connection.
fn connect_nonblock(addr: SocketAddr) -> anyhow::Result<io::Result<Socket>> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).context("socket(2)")?;
    // ANCHOR: connect
    // fcntl(fd, F_SETFL, O_NONBLOCK) before connecting, so that connect(2)
    // only starts the handshake.
    socket.set_nonblocking(true).context("fcntl(O_NONBLOCK)")?;
    // Ruby: socket.connect_nonblock(remote_addr)
    match socket.connect(&SockAddr::from(addr)) {
        // Done already (possible, but rare even on loopback).
        Ok(()) => return Ok(Ok(socket)),
        // Ruby: rescue Errno::EINPROGRESS. The SYN is out; the answer is not in.
        Err(err) if err.raw_os_error() == Some(Errno::EINPROGRESS as i32) => {
            println!("connect: EINPROGRESS, waiting in poll for writability");
        }
        // Failed at once (no route to an IPv6 address, say).
        Err(err) => {
            println!("connect: {}", errno_name(&err));
            return Ok(Err(err));
        }
    }
    // ANCHOR_END: connect

    // ANCHOR: wait
    // Ruby: IO.select(nil, [socket]). Writable means the handshake is over,
    // one way or the other. (No timeout here: a host that never answers keeps
    // us waiting for the kernel's SYN retries, minutes. See Timeouts.)
    let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLOUT)];
    loop {
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => break,
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err).context("poll(2)"),
        }
    }
    // ANCHOR_END: wait

    // ANCHOR: so_error
    // getsockopt(SOL_SOCKET, SO_ERROR): the pending error, which reading
    // also clears. None (0) means the handshake succeeded.
    match socket.take_error().context("getsockopt(SO_ERROR)")? {
        None => {
            println!("SO_ERROR: 0");
            Ok(Ok(socket))
        }
        Some(err) => {
            println!("SO_ERROR: {}", errno_name(&err));
            Ok(Err(err))
        }
    }
    // ANCHOR_END: so_error
}

/// `ECONNREFUSED` rather than "Connection refused (os error 111)": the name
/// the man pages use.
fn errno_name(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => format!("{:?}", Errno::from_raw(code)),
        None => err.to_string(),
    }
}
