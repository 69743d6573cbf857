//! Exercise (Server Lifecycle): an echo server built from the raw calls.
//!
//! Write a server that sends every byte it receives straight back to the
//! client that sent it, using socket2's `Socket` directly: `socket(2)`,
//! `bind(2)`, `listen(2)`, then `accept(2)` in a loop.
//!
//! The contract the tests check:
//! - binds `127.0.0.1` on `PORT` (default 4481; the tests set `PORT=0`);
//! - prints `Listening on <ip>:<port>` once listening (use
//!   `conventions::announce`), with the port the kernel really chose;
//! - for each connection, writes back every byte it reads, in order, until
//!   the client closes its side (a read returns 0), then closes the
//!   connection and accepts the next one;
//! - serves one connection after another, forever.
//!
//! Run the tests with `just exercise echo_server`
//! (or `cargo test -p echo_server` inside `exercises/`).
//! Stuck? `just hint echo_server`.

// These are the imports the solution uses; the allow keeps the unsolved
// file free of warnings until you use them.
#[allow(unused_imports)]
use anyhow::Context;
#[allow(unused_imports)]
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let addr = conventions::listen_addr("127.0.0.1")?;

    // TODO: create an IPv4 stream socket, bind it to `addr` and listen.
    // TODO: announce the address the kernel actually bound (`local_addr`).
    // TODO: loop { accept; echo until EOF; close }
    todo!("build an echo server listening on {addr}")
}
