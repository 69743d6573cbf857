//! Exercise (Buffering): how much will the kernel hold for you?
//!
//! A successful write only means the kernel has taken the bytes. Find out
//! how many bytes it takes when nobody reads them: write until a write
//! would block, count, then check that the reader really gets them all.
//!
//! The contract the tests check (the program runs once and exits 0):
//! - the connection between `sender` and `receiver` is set up for you;
//! - if the environment variable `SNDBUF` is set (a number of bytes), ask
//!   for that send buffer size on `sender` with setsockopt(2) (`SO_SNDBUF`);
//! - print `SO_SNDBUF: N bytes`, the size the kernel reports for `sender`
//!   (getsockopt(2));
//! - put `sender` in non-blocking mode and write chunks of `CHUNK` bytes
//!   until a write fails with `ErrorKind::WouldBlock`, adding up the bytes
//!   each write *returned* (the last one may take only part of a chunk);
//!   then print `accepted before WouldBlock: N bytes`;
//! - shut down `sender`'s writing side, read everything from `receiver`
//!   until EOF, and print `receiver read: N bytes`: the same N.
//!
//! Try it: `cargo run -p fill_the_buffers` inside `exercises/`, then
//! `SNDBUF=8192 cargo run -p fill_the_buffers`.
//!
//! Run the tests with `just exercise fill_the_buffers`
//! (or `cargo test -p fill_the_buffers` inside `exercises/`).
//! Stuck? `just hint fill_the_buffers`.

// These are the imports the solution uses; the allow keeps the unsolved
// file free of warnings until you use them.
#[allow(unused_imports)]
use std::io::{self, Read, Write};
#[allow(unused_imports)]
use std::net::Shutdown;
use std::net::SocketAddr;

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

    // TODO: if `requested_sndbuf` is Some, set SO_SNDBUF on `sender`.
    // TODO: print `SO_SNDBUF: N bytes` from getsockopt(2).
    // TODO: make `sender` non-blocking; write `CHUNK`-byte chunks until
    //       WouldBlock, adding up what each write returned; print
    //       `accepted before WouldBlock: N bytes`.
    // TODO: shutdown(Write) on `sender`; read `receiver` to EOF; print
    //       `receiver read: N bytes`.
    let _ = (requested_sndbuf, sender, receiver);
    todo!("fill the kernel's buffers with {CHUNK}-byte writes and count")
}
