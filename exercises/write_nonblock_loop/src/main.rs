//! Exercise (Non-blocking IO): finish a non-blocking write.
//!
//! This client sends 4 MiB to a server through a socket in non-blocking mode
//! with a small send buffer. The first `write` below takes only what fits in
//! the buffer and returns that count: a partial write. Your job is the rest.
//!
//! The contract the tests check:
//! - connects to `HOST`:`PORT` (default localhost:4481; the tests start their
//!   own loopback server and set both);
//! - prints `wrote N of 4194304 bytes` after the first write (done for you);
//! - then writes the rest of the payload, in order, every byte exactly once:
//!   a `write` may take only part of what you give it, and on a non-blocking
//!   socket it fails with `ErrorKind::WouldBlock` when the buffer is full;
//! - never spins: when the socket is not writable, wait for it with
//!   `poll(2)` (`nix::poll::poll` with `PollFlags::POLLOUT`), as Ruby's
//!   `IO.select(nil, [client])` does, instead of calling `write` again and
//!   again;
//! - prints `done: wrote all 4194304 bytes` and exits 0 once every byte is
//!   written;
//! - if the server goes away first, returns the error from `main` (exit code
//!   1, no panic) instead of hanging or looping forever.
//!
//! Run the tests with `just exercise write_nonblock_loop`
//! (or `cargo test -p write_nonblock_loop` inside `exercises/`).
//! Stuck? `just hint write_nonblock_loop`.

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
// These are the imports the solution uses; the allow keeps the unsolved
// file free of warnings until you use them.
#[allow(unused_imports)]
use std::os::fd::AsFd;

use anyhow::Context;
#[allow(unused_imports)]
use nix::errno::Errno;
#[allow(unused_imports)]
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

    // TODO: write `payload[written..]`, looping until nothing is left:
    //   - wait until the socket is writable with poll(2) and POLLOUT;
    //   - write what is left; keep the part the kernel did not take;
    //   - WouldBlock (or Interrupted) means "wait and try again", any other
    //     error ends the program with that error.
    todo!("write the remaining {} bytes", payload.len() - written);

    // TODO: once the loop is done, uncomment this line.
    // println!("done: wrote all {} bytes", payload.len());
    // Ok(())
}
