//! A connect timeout, built the way every library builds one: a non-blocking
//! `connect(2)`, `poll(2)` for writability with a timeout, then `SO_ERROR`
//! to learn how the attempt ended.
//!
//! The client connects to `HOST`:`PORT` (default localhost:4481) and gives up
//! after `TIMEOUT` seconds (default 5; fractions such as `0.5` work) with a
//! "timed out" error. A name can resolve to several addresses (`localhost`
//! is often `::1` and `127.0.0.1`); it tries each in turn, all within the one
//! deadline, and stops at the first that connects.
//!
//! ```text
//! 127.0.0.1:4481: connect timed out (TIMEOUT is 2s)
//! Error: could not connect to localhost:4481
//!
//! Caused by:
//!     connect timed out (TIMEOUT is 2s)
//! ```
//!
//! It prints `connected to <ip>:<port>` and exits 0 on success, exits 1
//! otherwise. Ruby: `Socket.tcp(host, port, connect_timeout: 5)`, or by hand
//! `connect_nonblock` + `IO.select(nil, [socket], nil, 5)`.
//!
//! Try it: `cargo run -p timeouts --bin full_backlog` (a server whose
//! connects hang), then in another terminal
//! `TIMEOUT=2 cargo run -p timeouts --bin connect_timeout`.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, poll};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let host = conventions::host("localhost");
    let port = conventions::port()?;
    let timeout = timeouts::timeout_from_env()?;

    // getaddrinfo(3): see the DNS Lookup chapter. It is not bounded by our
    // deadline; `dns_lookup` shows how to bound it too.
    let addrs: Vec<SocketAddr> = (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host}"))?
        .collect();

    // ANCHOR: each_address
    // One deadline for the whole job, however many addresses we try.
    let deadline = Instant::now() + timeout;
    let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no address to try");
    for addr in addrs {
        match connect_before(addr, deadline, timeout) {
            Ok(_socket) => {
                println!("connected to {addr}");
                // A real client would now talk; dropping the socket closes it.
                return Ok(());
            }
            Err(err) => {
                println!("{addr}: {err}");
                last_error = err;
            }
        }
    }
    Err(last_error).with_context(|| format!("could not connect to {host}:{port}"))
    // ANCHOR_END: each_address
}

// ANCHOR: connect
/// Connects to `addr`, giving up at `deadline`. What socket2's and std's
/// `connect_timeout` do inside, spelled out.
fn connect_before(addr: SocketAddr, deadline: Instant, timeout: Duration) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;

    // 1. O_NONBLOCK, so that connect(2) sends the SYN and returns at once
    //    instead of sleeping until the handshake ends (or ~2 minutes of SYN
    //    retries pass).
    socket.set_nonblocking(true)?;

    // 2. connect(2) says EINPROGRESS: the handshake has started.
    //    Ruby: connect_nonblock raising Errno::EINPROGRESS.
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(err) if err.raw_os_error() == Some(Errno::EINPROGRESS as i32) => {
            // 3. Wait until the socket is writable, which is how the kernel
            //    says "the handshake is over, one way or the other".
            //    Ruby: IO.select(nil, [socket], nil, timeout)
            let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLOUT)];
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match poll(&mut fds, timeouts::poll_timeout(left)) {
                    // Nothing happened before the deadline: give up. Dropping
                    // the socket closes it, and the kernel stops retrying.
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("connect timed out (TIMEOUT is {timeout:?})"),
                        ));
                    }
                    Ok(_) => break,
                    Err(Errno::EINTR) => continue,
                    Err(errno) => return Err(errno.into()),
                }
            }
            // 4. Writable does not mean connected: a refused or unreachable
            //    attempt is "done" too. getsockopt(SO_ERROR) holds the
            //    outcome: 0 for connected, else the errno connect would have
            //    returned had it blocked (ECONNREFUSED, ETIMEDOUT, …).
            if let Some(err) = socket.take_error()? {
                return Err(err);
            }
        }
        // Anything else failed before the handshake even started.
        Err(err) => return Err(err),
    }

    // 5. Back to blocking mode for whatever the caller does next.
    socket.set_nonblocking(false)?;
    Ok(socket)
}
// ANCHOR_END: connect
