//! Exercise (Non-blocking IO): finish a non-blocking write.
//!
//! Reference solution.

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;

use anyhow::Context;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::Socket;

/// 4 MiB: many times what the send buffer below can hold.
const PAYLOAD_LEN: usize = 4 * 1024 * 1024;

fn main() -> anyhow::Result<()> {
    let host = conventions::host("localhost");
    let port = conventions::port()?;
    // Connecting is not this exercise's subject: the std shorthand tries
    // every address `host` resolves to, then we take the raw socket back.
    let stream = TcpStream::connect((host.as_str(), port))
        .with_context(|| format!("connecting to {host}:{port}"))?;
    let mut socket = Socket::from(stream);
    socket
        .set_send_buffer_size(64 * 1024)
        .context("setsockopt(SO_SNDBUF)")?;
    socket.set_nonblocking(true).context("fcntl(O_NONBLOCK)")?;

    // Bytes 0, 1, …, 250, 0, 1, …: a lost, repeated or reordered chunk shows.
    let payload: Vec<u8> = (0..PAYLOAD_LEN).map(|i| (i % 251) as u8).collect();

    let written = match socket.write(&payload) {
        Ok(n) => n,
        Err(err) if err.kind() == ErrorKind::WouldBlock => 0,
        Err(err) => return Err(err).context("write(2)"),
    };
    println!("wrote {written} of {} bytes", payload.len());

    let mut rest = &payload[written..];
    while !rest.is_empty() {
        // The send buffer was full: sleep until the kernel has made room.
        let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLOUT)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err).context("poll(2)"),
        }
        match socket.write(rest) {
            Ok(n) => rest = &rest[n..],
            Err(err) if err.kind() == ErrorKind::WouldBlock => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err).context("write(2)"),
        }
    }

    println!("done: wrote all {} bytes", payload.len());
    Ok(())
}
