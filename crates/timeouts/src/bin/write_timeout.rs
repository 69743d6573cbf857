//! A write timeout: non-blocking writes, and `poll(2)` for writability with
//! a timeout once the buffers are full.
//!
//! The client connects to `HOST`:`PORT` (default localhost:4481) and sends
//! 64 MiB, more than the kernel will buffer between two sockets. As long as
//! the peer reads, the bytes flow. When the peer stops reading, its receive
//! buffer fills, then our send buffer, and a write cannot take a single byte
//! more: the client waits for writability for at most `TIMEOUT` seconds
//! (default 5; fractions such as `0.5` work), then reports the timeout and
//! exits 1. Ruby: `write_nonblock` → `rescue IO::WaitWritable` →
//! `IO.select(nil, [socket], nil, timeout)` → `retry` or give up.
//!
//! Like `read_timeout`, it is an idle timeout: every write that makes
//! progress starts a fresh wait, so a slow reader is fine, a stuck one is not.
//!
//! ```text
//! connected to 127.0.0.1:4481
//! Error: write timed out: the peer read nothing for 2s; 3910656 of 67108864 bytes sent
//! ```
//!
//! Against a peer that reads everything it prints
//! `sent 67108864 bytes (N waits for writability)` and exits 0.
//!
//! Try it: in one terminal `nc -l 4481 > /dev/null` and press Ctrl-Z (a
//! stopped `nc` never reads, but the kernel still accepts and buffers for
//! it), then in another terminal `TIMEOUT=2 cargo run -p timeouts --bin write_timeout`.

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::time::Duration;

use anyhow::{Context, bail};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, poll};

/// How much the client tries to send: far more than any socket buffers hold.
const TOTAL: usize = 64 * 1024 * 1024;

fn main() -> anyhow::Result<()> {
    let host = conventions::host("localhost");
    let port = conventions::port()?;
    let timeout = timeouts::timeout_from_env()?;

    // Shorthand for socket(2) + connect(2) to each address of HOST in turn
    // (Ruby: TCPSocket.new); see the Client Lifecycle chapter.
    let mut stream = TcpStream::connect((host.as_str(), port))
        .with_context(|| format!("connecting to {host}:{port} — is a peer listening?"))?;
    println!("connected to {}", stream.peer_addr()?);

    // fcntl(O_NONBLOCK): a write the buffers cannot take fails with EAGAIN
    // instead of sleeping with no time limit.
    stream.set_nonblocking(true).context("fcntl(O_NONBLOCK)")?;

    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    let mut waits = 0;
    // ANCHOR: write_loop
    while sent < TOTAL {
        let len = chunk.len().min(TOTAL - sent);
        // Ruby: socket.write_nonblock(chunk). Takes what fits, maybe less
        // than asked: a partial write.
        match stream.write(&chunk[..len]) {
            Ok(n) => sent += n,
            // Ruby: rescue IO::WaitWritable. The buffers are full.
            Err(err) if err.kind() == ErrorKind::WouldBlock => {
                waits += 1;
                if !writable_within(&stream, timeout)? {
                    // Ruby: raise Timeout::Error
                    bail!(
                        "write timed out: the peer read nothing for {timeout:?}; \
                         {sent} of {TOTAL} bytes sent"
                    );
                }
                // Ruby: retry. The peer has read some; there is room again.
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err).context("write(2)"),
        }
    }
    // ANCHOR_END: write_loop
    println!("sent {sent} bytes ({waits} waits for writability)");
    Ok(())
}

/// Ruby: `IO.select(nil, [socket], nil, timeout)`. Sleeps in poll(2) until
/// the socket is writable (true) or `timeout` has passed (false).
fn writable_within(stream: &TcpStream, timeout: Duration) -> anyhow::Result<bool> {
    let mut fds = [PollFd::new(stream.as_fd(), PollFlags::POLLOUT)];
    match poll(&mut fds, timeouts::poll_timeout(timeout)) {
        Ok(0) => Ok(false),
        Ok(_) => Ok(true),
        // Interrupted by a signal: let the next write find out where we are.
        Err(Errno::EINTR) => Ok(true),
        Err(err) => Err(err).context("poll(2)"),
    }
}
