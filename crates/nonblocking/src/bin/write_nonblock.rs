//! Non-blocking writes: one `send(2)` call takes only what fits.
//!
//! A blocking `write_all` sleeps until every byte has been handed to the
//! kernel. A non-blocking `write` copies what fits into the socket's send
//! buffer and returns that count at once: a *partial write*. This client
//! sends a payload far bigger than its send buffer with one non-blocking
//! write, prints how much that call took, then finishes the job the way
//! Ruby's `write_nonblock` + `IO.select(nil, [client])` loop does: wait until
//! the socket is writable, write the rest, repeat.
//!
//! ```text
//! connected to 127.0.0.1:4481
//! wrote 130964 of 1100000 bytes
//! done: 1100000 bytes in 9 write calls, 8 waits in poll for writability
//! ```
//!
//! It exits 0 once every byte is written, and with an error if the peer goes
//! away first.
//!
//! Try it: in one terminal `nc -l 4481 | wc -c` (a peer that reads everything
//! and counts it), then in another `cargo run -p nonblocking --bin write_nonblock`.

use std::io::{ErrorKind, Write};
use std::net::ToSocketAddrs;
use std::os::fd::AsFd;

use anyhow::{Context, bail};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let host = conventions::host("localhost");
    let port = conventions::port()?;
    let mut client = connect(&host, port)?;

    // ANCHOR: payload
    // Ruby's example sends "Lorem Ipsum" * 10_000 (110 kB). On Linux that
    // fits in the send buffer the kernel sizes for a loopback connection, so
    // we send ten times more through a deliberately small buffer.
    let payload = "Lorem Ipsum".repeat(100_000).into_bytes();
    // ANCHOR_END: payload

    // ANCHOR: first_write
    // fcntl(fd, F_SETFL, O_NONBLOCK), then a single send(2), which is
    // what socket2's `Write::write` calls.
    client.set_nonblocking(true).context("fcntl(O_NONBLOCK)")?;
    // Ruby: written = client.write_nonblock(payload)
    let written = match client.write(&payload) {
        Ok(n) => n,
        // Not a byte fits right now. Nothing is lost: the loop below waits.
        Err(err) if err.kind() == ErrorKind::WouldBlock => 0,
        Err(err) => return Err(err).context("send(2)"),
    };
    println!("wrote {written} of {} bytes", payload.len());
    // ANCHOR_END: first_write

    // ANCHOR: write_loop
    // The part the kernel has not taken yet. Ruby: payload.slice!(0, bytes)
    let mut rest = &payload[written..];
    let mut writes = 1; // send(2) calls, the first one included
    let mut waits = 0;
    while !rest.is_empty() {
        // Ruby: IO.select(nil, [client]). The buffer was full a moment ago;
        // sleep until the kernel has sent enough of it to make room.
        wait_until_writable(&client)?;
        waits += 1;
        writes += 1;
        match client.write(rest) {
            // Another partial write, most likely: keep what is left.
            Ok(n) => rest = &rest[n..],
            // Writable turned out not to be (rare): just wait again.
            Err(err) if err.kind() == ErrorKind::WouldBlock => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err).context("send(2): did the peer go away?"),
        }
    }
    // ANCHOR_END: write_loop
    println!(
        "done: {} bytes in {writes} write calls, {waits} waits in poll for writability",
        payload.len()
    );
    // Dropping `client` closes it; the kernel still delivers what is queued.
    Ok(())
}

// ANCHOR: poll
/// Blocks in poll(2) until `socket` is writable: its send buffer has room.
fn wait_until_writable(socket: &Socket) -> anyhow::Result<()> {
    let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLOUT)];
    loop {
        match poll(&mut fds, PollTimeout::NONE) {
            // An error or hang-up also wakes us; the next write reports it.
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err).context("poll(2)"),
        }
    }
}
// ANCHOR_END: poll

/// An ordinary blocking connect, trying each address `host` resolves to in
/// turn (`localhost` is `::1` and `127.0.0.1`), as Ruby's `TCPSocket.new`
/// does. The send buffer is shrunk first, while the socket is still fresh.
fn connect(host: &str, port: u16) -> anyhow::Result<Socket> {
    let addrs = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host}"))?;
    let mut last_error = None;
    for addr in addrs {
        let socket =
            Socket::new(Domain::for_address(addr), Type::STREAM, None).context("socket(2)")?;
        // ANCHOR: sndbuf
        // setsockopt(SO_SNDBUF): a small send buffer, so it fills up quickly.
        // Linux doubles the 64 KiB we ask for (room for its bookkeeping) and
        // stops growing this buffer by itself, so a megabyte cannot fit.
        socket
            .set_send_buffer_size(64 * 1024)
            .context("setsockopt(SO_SNDBUF)")?;
        // ANCHOR_END: sndbuf
        match socket.connect(&SockAddr::from(addr)) {
            Ok(()) => {
                println!("connected to {addr}");
                return Ok(socket);
            }
            Err(err) => last_error = Some(err),
        }
    }
    match last_error {
        Some(err) => Err(conventions::connect_error(format!("{host}:{port}"), err)),
        None => bail!("{host} resolved to no address"),
    }
}
