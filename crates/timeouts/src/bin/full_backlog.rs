//! A server that never accepts, with its accept queue full: a connect to it
//! hangs, without a packet leaving the machine.
//!
//! To watch `connect_timeout` time out you need a peer that does not answer
//! at all. Refused is not it: a closed port answers at once with a reset.
//! This listener asks for the smallest backlog, `listen(0)`, then connects to
//! itself once. Linux lets a backlog of *n* hold *n* + 1 connections that are
//! waiting for `accept`, so after that one connection the queue is full, and
//! the kernel silently drops every new SYN to this port. The client's kernel
//! sends its SYN again 1 s, 3 s, 7 s… after the first, and its `connect`
//! waits.
//!
//! ```text
//! accept queue full: 1 connection waiting, backlog 0; new SYNs to this port are dropped
//! Listening on 127.0.0.1:4481
//! ```
//!
//! Try it: `cargo run -p timeouts --bin full_backlog`, then in another
//! terminal `TIMEOUT=2 cargo run -p timeouts --bin connect_timeout`.
//! Stop it with Ctrl-C.

use std::thread;

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    let addr = conventions::listen_addr("127.0.0.1")?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    // ANCHOR: fill
    // Backlog 0: the accept queue is full as soon as one connection waits
    // in it (the kernel's test is "more than backlog").
    listener.listen(0).context("listen(2)")?;
    let local = listener.local_addr()?;

    // One connection to ourselves fills the queue. The kernel completes its
    // handshake on its own; we never call accept, so it waits there for ever.
    let filler = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    filler
        .connect(&local)
        .context("connecting to our own listener to fill its queue")?;
    // ANCHOR_END: fill
    println!(
        "accept queue full: 1 connection waiting, backlog 0; new SYNs to this port are dropped"
    );

    // Announced only now, so whoever waits for this line (a test) knows that
    // connects to the port will hang.
    conventions::announce(local.as_socket().context("not an IP socket")?);

    // Keep both sockets open and do nothing until Ctrl-C ends the process.
    loop {
        thread::park();
    }
}
