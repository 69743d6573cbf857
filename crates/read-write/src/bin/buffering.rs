//! How much a write can hand to the kernel before anyone reads it.
//!
//! This program is both ends of one loopback connection. The receiving end
//! never reads. The sending end is put in non-blocking mode and writes 64 KiB
//! at a time: each write(2) returns as soon as the kernel has copied the
//! bytes, first into the peer's receive buffer (the kernel delivers them over
//! loopback at once) and, once that is full, into the sender's own send
//! buffer. When both are full a blocking write would wait; a non-blocking one
//! fails with `WouldBlock` instead, so the program can stop and count.
//!
//! Afterwards the receiver reads everything, to show that every byte the
//! kernel accepted was kept and delivered.
//!
//! Set `SNDBUF` and/or `RCVBUF` (bytes) to ask for other buffer sizes with
//! setsockopt(2) and watch the total change. Linux doubles what you ask for,
//! to leave room for its own bookkeeping, and turns off its automatic tuning
//! of that buffer.
//!
//! Try it: `cargo run -p read-write --bin buffering`, then
//! `SNDBUF=4096 RCVBUF=4096 cargo run -p read-write --bin buffering`

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

const CHUNK: usize = 64 * 1024;

fn main() -> anyhow::Result<()> {
    let requested_sndbuf = env_bytes("SNDBUF")?;
    let requested_rcvbuf = env_bytes("RCVBUF")?;

    // ANCHOR: setup
    // The receiving side: a loopback listener on a port the kernel picks.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    if let Some(bytes) = requested_rcvbuf {
        // Set before listen(2): accepted sockets inherit it, and the window
        // the kernel advertises during the handshake depends on it.
        listener
            .set_recv_buffer_size(bytes)
            .context("setsockopt(SO_RCVBUF)")?;
    }
    let addr: SocketAddr = "127.0.0.1:0".parse()?;
    listener.bind(&SockAddr::from(addr)).context("bind(2)")?;
    listener.listen(128).context("listen(2)")?;
    let server_addr = listener.local_addr().context("getsockname(2)")?;

    // The sending side.
    let mut sender = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    if let Some(bytes) = requested_sndbuf {
        sender
            .set_send_buffer_size(bytes)
            .context("setsockopt(SO_SNDBUF)")?;
    }
    // ANCHOR_END: setup

    // ANCHOR: sizes
    // getsockopt(2): the sizes the kernel actually uses. An untuned send
    // buffer starts small and is grown by Linux once the connection exists,
    // so we ask before and after connect(2).
    let sndbuf_unconnected = sender.send_buffer_size().context("getsockopt(SO_SNDBUF)")?;
    sender.connect(&server_addr).context("connect(2)")?;
    let (mut receiver, _peer) = listener.accept().context("accept(2)")?;
    let sndbuf = sender.send_buffer_size().context("getsockopt(SO_SNDBUF)")?;
    let rcvbuf = receiver
        .recv_buffer_size()
        .context("getsockopt(SO_RCVBUF)")?;
    println!(
        "sender SO_SNDBUF: {sndbuf_unconnected} bytes before connect(2), {sndbuf} after{}",
        asked(requested_sndbuf)
    );
    println!(
        "receiver SO_RCVBUF: {rcvbuf} bytes{}",
        asked(requested_rcvbuf)
    );
    // ANCHOR_END: sizes

    // ANCHOR: fill
    // Non-blocking: write(2) never waits for room; it takes what fits now
    // (perhaps only part of the chunk) or fails with EAGAIN (WouldBlock).
    sender.set_nonblocking(true).context("fcntl(O_NONBLOCK)")?;
    let chunk = [b'x'; CHUNK];
    let mut accepted = 0;
    let mut calls = 0;
    loop {
        match sender.write(&chunk) {
            Ok(n) => {
                calls += 1;
                accepted += n;
                if calls == 1 {
                    // The receiver has not called read(2) at all, yet the
                    // write is done: "done" means "the kernel has the bytes".
                    println!("first write(2) returned {n} bytes; the receiver has read 0 bytes");
                }
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err).context("write(2)"),
        }
    }
    println!("write(2) would block after {calls} successful calls");
    println!("the kernel accepted {accepted} bytes that nobody has read");
    // ANCHOR_END: fill

    // ANCHOR: drain
    // Now read it all: close the sending side so the receiver sees EOF once
    // it has every byte, and count what arrives.
    sender.shutdown(Shutdown::Write).context("shutdown(2)")?;
    let mut received = Vec::with_capacity(accepted);
    receiver
        .read_to_end(&mut received)
        .context("read(2) on the receiver")?;
    println!("the receiver then read {} bytes", received.len());
    anyhow::ensure!(
        received.len() == accepted,
        "accepted {accepted} bytes but delivered {}",
        received.len()
    );
    // ANCHOR_END: drain
    Ok(())
}

/// The number of bytes in environment variable `name`, if it is set.
fn env_bytes(name: &str) -> anyhow::Result<Option<usize>> {
    match std::env::var(name) {
        Ok(text) => Ok(Some(text.trim().parse().with_context(|| {
            format!("{name}={text:?} is not a number of bytes")
        })?)),
        Err(_) => Ok(None),
    }
}

/// " (asked for N)" when a size was requested, so the doubling shows.
fn asked(requested: Option<usize>) -> String {
    requested
        .map(|bytes| format!(" (asked for {bytes})"))
        .unwrap_or_default()
}
