//! A non-blocking listener: `accept(2)` that never sleeps.
//!
//! With `O_NONBLOCK` on the listening socket, `accept` returns at once with
//! `EAGAIN` (Rust: `ErrorKind::WouldBlock`) when no connection is waiting in
//! the kernel's accept queue. Ruby's `accept_nonblock` raises then; the loop
//! here waits with `poll(2)` until the listener is readable, which for a
//! listener means "a connection is waiting", and tries again. Each accepted
//! client gets one line and is closed.
//!
//! ```text
//! Listening on 127.0.0.1:4481
//! accept would block: waiting in poll for a connection
//! accepted 127.0.0.1:50412
//! accept would block: waiting in poll for a connection
//! ```
//!
//! Try it: `cargo run -p nonblocking --bin accept_nonblock`, then in another
//! terminal, a few times, `nc localhost 4481`.

use std::io::{ErrorKind, Write};
use std::os::fd::AsFd;

use anyhow::Context;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    // Our closed connections linger in TIME_WAIT for a minute; without this
    // option a restart within that minute fails with EADDRINUSE. (Socket
    // Options has the details.)
    listener
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;
    let addr = conventions::listen_addr("127.0.0.1")?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    listener.listen(128).context("listen(2)")?;
    // ANCHOR: set_nonblocking
    // fcntl(fd, F_SETFL, O_NONBLOCK) on the *listener*: accept(2) on it will
    // no longer wait for a client to connect.
    listener
        .set_nonblocking(true)
        .context("fcntl(O_NONBLOCK)")?;
    // ANCHOR_END: set_nonblocking
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);

    // ANCHOR: accept_loop
    loop {
        // Ruby: server.accept_nonblock
        match listener.accept() {
            Ok((connection, peer)) => {
                // One client's failure must not stop the server.
                if let Err(err) = serve(connection, peer) {
                    eprintln!("serving a client failed: {err:#}");
                }
            }
            // Ruby: rescue Errno::EAGAIN. The accept queue is empty.
            Err(err) if err.kind() == ErrorKind::WouldBlock => {
                println!("accept would block: waiting in poll for a connection");
                // Ruby: IO.select([server]), then retry.
                wait_until_readable(&listener)?;
            }
            // A signal, or a client that connected and reset before we got
            // to it (ECONNABORTED): neither is a reason to stop.
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) if err.kind() == ErrorKind::ConnectionAborted => {}
            Err(err) => return Err(err).context("accept(2)"),
        }
    }
    // ANCHOR_END: accept_loop
}

// ANCHOR: serve
/// Greets one client and closes the connection.
fn serve(mut connection: Socket, peer: SockAddr) -> anyhow::Result<()> {
    let peer = peer.as_socket().context("not an IP peer")?;
    println!("accepted {peer}");
    // On Linux an accepted socket does *not* inherit O_NONBLOCK from the
    // listener (on the BSDs and macOS it does), so this write may block like
    // any other: one short line fits in the send buffer anyway.
    connection
        .write_all(format!("hello {peer}, you were accepted without blocking\n").as_bytes())
        .context("send(2)")?;
    Ok(())
    // `connection` is dropped here: close(2).
}
// ANCHOR_END: serve

/// Blocks in poll(2) until `listener` is readable: a connection is waiting.
fn wait_until_readable(listener: &Socket) -> anyhow::Result<()> {
    let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
    loop {
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err).context("poll(2)"),
        }
    }
}
