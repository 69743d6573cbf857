//! Exercise (Establishing Connections): one program, both roles.
//!
//! In a single process and a single thread, be the server *and* the client
//! of one TCP connection over loopback, using socket2's `Socket`:
//!
//! 1. the listening end: create an IPv4 stream socket, bind it to
//!    `127.0.0.1` port 0 (the kernel picks a free port) and listen;
//! 2. the connecting end: create a second IPv4 stream socket and connect it
//!    to the listener's real address (ask the listener with `local_addr`).
//!    This returns before anybody has called accept: the listener's kernel
//!    completes the handshake on its own and queues the connection;
//! 3. accept that connection on the listener: a third socket, the server's
//!    end of the connection;
//! 4. the client writes `ping\n`; the server reads those 5 bytes and writes
//!    `pong\n`; the client reads those 5 bytes.
//!
//! The contract the tests check: exactly these lines on stdout, exit status
//! 0, where P is the listener's port and C the client's port (each socket's
//! addresses come from `local_addr` and `peer_addr`, i.e. getsockname(2) and
//! getpeername(2)):
//!
//! ```text
//! listener: 127.0.0.1:P
//! client: 127.0.0.1:C -> 127.0.0.1:P
//! server: 127.0.0.1:P -> 127.0.0.1:C
//! server read "ping\n"
//! client read "pong\n"
//! ```
//!
//! The `client` and `server` lines are `<local address> -> <peer address>`
//! seen from that socket; the last two print the bytes with `{:?}` on a
//! `&str`.
//!
//! Run the tests with `just exercise both_roles`
//! (or `cargo test -p both_roles` inside `exercises/`).
//! Stuck? `just hint both_roles`.

// These are the imports the solution uses; the allow keeps the unsolved
// file free of warnings until you use them.
#[allow(unused_imports)]
use std::io::{Read, Write};
#[allow(unused_imports)]
use std::net::SocketAddr;

#[allow(unused_imports)]
use anyhow::Context;
#[allow(unused_imports)]
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    // TODO: the listening end: socket, bind 127.0.0.1:0, listen; print its
    // address.
    // TODO: the connecting end: socket, connect to the listener's address.
    // TODO: accept; print both connected sockets' `local -> peer` lines.
    // TODO: ping from the client, pong from the server, printing what each
    // side read.
    todo!("play both ends of one connection")
}
