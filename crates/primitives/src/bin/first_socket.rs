//! Your first socket: one call to socket(2), and what the kernel hands back.
//!
//! A socket starts life as nothing more than a file descriptor with a domain
//! (IPv4) and a type (a byte stream, i.e. TCP). It has no address and no peer
//! yet: binding, listening and connecting come in the next chapters.
//!
//! Try it: `cargo run -p primitives --bin first_socket`

use std::os::fd::AsRawFd;

use anyhow::Context;
use socket2::{Domain, Socket, Type};

fn main() -> anyhow::Result<()> {
    // ANCHOR: create
    // Ruby: Socket.new(Socket::AF_INET, Socket::SOCK_STREAM)
    // C:    socket(AF_INET, SOCK_STREAM, 0)
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    // ANCHOR_END: create

    // ANCHOR: inspect
    // Everything is a file: the socket is a small integer in this process's
    // file descriptor table, just like an open file would be.
    let fd = socket.as_raw_fd();
    // Ask the kernel what it created: SO_TYPE and SO_DOMAIN via getsockopt(2).
    let kind = socket.r#type().context("getsockopt(SO_TYPE)")?;
    let domain = socket.domain().context("getsockopt(SO_DOMAIN)")?;
    println!("created socket: fd {fd}, domain {domain:?}, type {kind:?}");
    // ANCHOR_END: inspect

    // ANCHOR: unbound
    // No bind(2) yet, so the kernel reports the wildcard address and port 0.
    let local = socket.local_addr().context("getsockname(2)")?;
    println!("local address before bind: {:?}", local.as_socket());
    // ANCHOR_END: unbound

    // Dropping `socket` calls close(2): the descriptor goes back to the kernel.
    Ok(())
}
