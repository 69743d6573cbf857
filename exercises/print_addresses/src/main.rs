//! Exercise (Server Lifecycle): tell each client both ends of its connection.
//!
//! Write a server from the raw calls (`socket(2)`, `bind(2)`, `listen(2)`,
//! then `accept(2)` in a loop) that, for every connection, writes back one
//! line naming the connection's two addresses, then closes it.
//!
//! The contract the tests check:
//! - binds `0.0.0.0` (all interfaces) on `PORT` (default 4481; the tests set
//!   `PORT=0`), using `conventions::listen_addr("0.0.0.0")`;
//! - prints `Listening on <ip>:<port>` once listening (use
//!   `conventions::announce`), with the port the kernel really chose;
//! - for each connection, writes exactly `local=<ip>:<port> remote=<ip>:<port>\n`
//!   and closes it, without reading. `local` is the *connection's* local
//!   address, getsockname(2) on the accepted socket: the address the client
//!   dialled, not the listener's 0.0.0.0. `remote` is the client's address,
//!   getpeername(2). Both are printed with `SocketAddr`'s `Display`, e.g.
//!   `local=127.0.0.1:4481 remote=127.0.0.1:51234`;
//! - serves one connection after another, forever; a client that resets its
//!   connection before getting its line must not stop the server (report it
//!   on stderr and go on).
//!
//! Run the tests with `just exercise print_addresses`
//! (or `cargo test -p print_addresses` inside `exercises/`).
//! Stuck? `just hint print_addresses`.

// These are the imports the solution uses; the allow keeps the unsolved
// file free of warnings until you use them.
#[allow(unused_imports)]
use std::io::Write;

#[allow(unused_imports)]
use anyhow::Context;
#[allow(unused_imports)]
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let addr = conventions::listen_addr("0.0.0.0")?;

    // TODO: create an IPv4 stream socket, bind it to `addr` (report a failure
    // with `conventions::bind_error`) and listen.
    // TODO: announce the address the kernel actually bound (`local_addr`).
    // TODO: loop { accept; write "local=... remote=...\n"; close }, where an
    // error on one connection is printed to stderr instead of ending `main`.
    todo!("build a server on {addr} that tells each client both ends of its connection")
}
