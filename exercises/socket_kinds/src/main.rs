//! Exercise (Your First Socket): three kinds of socket, and what the kernel
//! says about each.
//!
//! Create three sockets with socket2's `Socket::new`, passing `None` as the
//! protocol every time so that the kernel picks the default for the type:
//!
//! 1. an IPv4 stream socket,
//! 2. an IPv6 stream socket,
//! 3. an IPv4 datagram socket.
//!
//! Then *ask the kernel* about each one — do not print what you passed in:
//! `socket.domain()` (getsockopt SO_DOMAIN), `socket.r#type()` (SO_TYPE) and
//! `socket.protocol()` (SO_PROTOCOL, which reveals the protocol the kernel
//! chose for you).
//!
//! The contract the tests check: exactly these three lines on stdout, in
//! this order, and exit status 0. The names are socket2's `Debug` output for
//! `Domain`, `Type` and `Protocol`:
//!
//! ```text
//! ipv4 stream: domain AF_INET, type SOCK_STREAM, protocol IPPROTO_TCP
//! ipv6 stream: domain AF_INET6, type SOCK_STREAM, protocol IPPROTO_TCP
//! ipv4 datagram: domain AF_INET, type SOCK_DGRAM, protocol IPPROTO_UDP
//! ```
//!
//! (`protocol()` returns an `Option`: `None` would mean the kernel reported
//! protocol 0. Print `protocol unknown` in that case.)
//!
//! Run the tests with `just exercise socket_kinds`
//! (or `cargo test -p socket_kinds` inside `exercises/`).
//! Stuck? `just hint socket_kinds`.

// These are the imports the solution uses; the allow keeps the unsolved
// file free of warnings until you use them.
#[allow(unused_imports)]
use anyhow::Context;
#[allow(unused_imports)]
use socket2::{Domain, Socket, Type};

fn main() -> anyhow::Result<()> {
    // TODO: create the three sockets: (IPV4, STREAM), (IPV6, STREAM),
    // (IPV4, DGRAM), each with protocol `None`.
    // TODO: for each, query domain(), r#type() and protocol() and print one
    // line in the format above.
    todo!("create three sockets and print what the kernel reports about each")
}
