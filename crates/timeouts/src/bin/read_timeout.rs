//! A read timeout built from non-blocking reads and `poll(2)` with a timeout.
//!
//! For each connection the server reads whatever the client sends and prints
//! it. When there is nothing to read, it waits in `poll` for at most
//! `TIMEOUT` seconds (default 5; fractions such as `0.5` work). A client that
//! stays silent that long has its connection closed, with a line saying so,
//! and the server goes on to the next connection. This is Ruby's
//! `read_nonblock` → `rescue Errno::EAGAIN` → `IO.select([connection], nil,
//! nil, timeout)` → `retry` or `raise Timeout::Error`.
//!
//! The timeout is an *idle* timeout: every chunk that arrives in time starts
//! a fresh wait, so a client that keeps talking is never cut off, however
//! long its conversation. (The chapter compares it with a total deadline.)
//!
//! ```text
//! Listening on 127.0.0.1:4481
//! accepted 127.0.0.1:50412
//! read 6 bytes: "gekko\n"
//! 127.0.0.1:50412 closed its side; closing the connection
//! accepted 127.0.0.1:50420
//! timed out: nothing from 127.0.0.1:50420 for 5s; closing the connection
//! ```
//!
//! Try it: `cargo run -p timeouts --bin read_timeout`, then in another
//! terminal `nc localhost 4481`, type a line, and wait.

use std::io::{ErrorKind, Read};
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::time::Duration;

use anyhow::Context;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, poll};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let timeout = timeouts::timeout_from_env()?;

    // Ruby: Socket.tcp_server_loop(4481). A plain blocking listener; only
    // the connections are made non-blocking.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    let addr = conventions::listen_addr("127.0.0.1")?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    listener.listen(128).context("listen(2)")?;
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);

    loop {
        let (mut connection, peer) = listener.accept().context("accept(2)")?;
        let peer = peer.as_socket().context("not an IP peer")?;
        println!("accepted {peer}");
        // Whatever goes wrong with one client (a reset, say), the server
        // reports it and serves the next one.
        match serve(&mut connection, peer, timeout) {
            Ok(Ending::Eof) => println!("{peer} closed its side; closing the connection"),
            Ok(Ending::TimedOut) => {
                println!("timed out: nothing from {peer} for {timeout:?}; closing the connection")
            }
            Err(err) => eprintln!("{peer}: connection ended with an error: {err:#}"),
        }
        // `connection` is dropped here: close(2). A timed-out client sees EOF.
    }
}

/// How a conversation ended, when nothing went wrong.
enum Ending {
    /// The client closed its side: `read` returned 0.
    Eof,
    /// The client sent nothing for a whole `TIMEOUT`.
    TimedOut,
}

fn serve(connection: &mut Socket, peer: SocketAddr, timeout: Duration) -> anyhow::Result<Ending> {
    // fcntl(O_NONBLOCK): a read with nothing to return fails at once with
    // EAGAIN instead of putting the thread to sleep with no time limit.
    connection
        .set_nonblocking(true)
        .context("fcntl(O_NONBLOCK)")?;

    let mut buffer = [0u8; 4096];
    // ANCHOR: read_loop
    loop {
        // Ruby: connection.read_nonblock(4096)
        match connection.read(&mut buffer) {
            Ok(0) => return Ok(Ending::Eof),
            Ok(n) => {
                let text = String::from_utf8_lossy(&buffer[..n]);
                println!("read {n} bytes: {text:?}");
                // Going round the loop starts a fresh TIMEOUT: an idle timeout.
            }
            // Ruby: rescue Errno::EAGAIN. Nothing to read yet: wait, but not
            // for ever.
            Err(err) if err.kind() == ErrorKind::WouldBlock => {
                if !readable_within(connection, timeout)? {
                    // Ruby: raise Timeout::Error. Here it is a value the
                    // caller reports, not an error that ends the server.
                    return Ok(Ending::TimedOut);
                }
                // Ruby: retry. The socket is readable: data, EOF or an error
                // is waiting, and the next read returns it without blocking.
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err).with_context(|| format!("read(2) from {peer}")),
        }
    }
    // ANCHOR_END: read_loop
}

// ANCHOR: poll
/// Ruby: `IO.select([connection], nil, nil, timeout)`. Sleeps in poll(2)
/// until the socket is readable (true) or `timeout` has passed (false).
fn readable_within(connection: &Socket, timeout: Duration) -> anyhow::Result<bool> {
    let mut fds = [PollFd::new(connection.as_fd(), PollFlags::POLLIN)];
    // poll returns how many descriptors are ready: 0 means the time ran out.
    match poll(&mut fds, timeouts::poll_timeout(timeout)) {
        Ok(0) => Ok(false),
        Ok(_) => Ok(true),
        // A signal interrupted the wait. Nothing was read; calling read again
        // finds out (and waits again with a fresh timeout if need be).
        Err(Errno::EINTR) => Ok(true),
        Err(err) => Err(err).context("poll(2)"),
    }
}
// ANCHOR_END: poll
