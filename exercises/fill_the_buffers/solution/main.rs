//! Exercise (Buffering): how much will the kernel hold for you?
//!
//! Reference solution.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

/// The size of each write: deliberately not a power of two.
const CHUNK: usize = 1000;

fn main() -> anyhow::Result<()> {
    let requested_sndbuf: Option<usize> = match std::env::var("SNDBUF") {
        Ok(text) => Some(
            text.trim()
                .parse()
                .with_context(|| format!("SNDBUF={text:?} is not a number of bytes"))?,
        ),
        Err(_) => None,
    };

    // Both ends of one loopback connection, in this one process.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    let addr: SocketAddr = "127.0.0.1:0".parse()?;
    listener.bind(&SockAddr::from(addr)).context("bind(2)")?;
    listener.listen(1).context("listen(2)")?;
    let server_addr = listener.local_addr().context("getsockname(2)")?;
    let sender = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    sender.connect(&server_addr).context("connect(2)")?;
    let (receiver, _peer) = listener.accept().context("accept(2)")?;

    if let Some(bytes) = requested_sndbuf {
        sender
            .set_send_buffer_size(bytes)
            .context("setsockopt(SO_SNDBUF)")?;
    }
    let sndbuf = sender.send_buffer_size().context("getsockopt(SO_SNDBUF)")?;
    println!("SO_SNDBUF: {sndbuf} bytes");

    // Non-blocking: a write takes what fits now, or fails with WouldBlock.
    sender.set_nonblocking(true).context("fcntl(O_NONBLOCK)")?;
    let chunk = [b'x'; CHUNK];
    let mut accepted = 0;
    loop {
        match (&sender).write(&chunk) {
            // Count what the kernel took, which may be less than a chunk.
            Ok(n) => accepted += n,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err).context("write(2)"),
        }
    }
    println!("accepted before WouldBlock: {accepted} bytes");

    // EOF for the receiver once it has read everything the kernel holds.
    sender.shutdown(Shutdown::Write).context("shutdown(2)")?;
    let mut received = Vec::new();
    (&receiver)
        .read_to_end(&mut received)
        .context("read(2) on the receiver")?;
    println!("receiver read: {} bytes", received.len());
    Ok(())
}
