//! Exercise (Client Lifecycle): a client built from the raw calls.
//!
//! Write a client that sends one message to a server and prints the
//! server's whole reply, using socket2's `Socket` directly: `socket(2)`,
//! `connect(2)`, `write(2)`, `shutdown(2)`, `read(2)`, `close(2)`.
//!
//! The contract the tests check:
//! - connects to `HOST`:`PORT` (default `localhost:4481`; the tests start
//!   their own server on 127.0.0.1 and set `PORT`), resolving the name and
//!   trying each of its addresses in turn until one accepts;
//! - sends the message given as the first argument, byte for byte (no
//!   newline added);
//! - then half-closes its side of the connection (`shutdown(Write)`), so
//!   that a server reading to end-of-file knows the message is complete;
//! - reads the reply until the server closes the connection (a read
//!   returns 0) and writes it to stdout exactly as received, nothing added;
//! - when no address accepts the connection, exits with an error (not a
//!   panic) whose message names the address it tried.
//!
//! Try it: `echo hello back | nc -l 4481` in one terminal (nc sends that
//! line, prints what the client sends, and exits when the client closes its
//! side), then `cargo run -p first_client -- ohai` inside `exercises/` in
//! another: it prints `hello back`.
//!
//! Run the tests with `just exercise first_client`
//! (or `cargo test -p first_client` inside `exercises/`).
//! Stuck? `just hint first_client`.

// These are the imports the solution uses; the allow keeps the unsolved
// file free of warnings until you use them.
#[allow(unused_imports)]
use std::io::{Read, Write};
#[allow(unused_imports)]
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};

#[allow(unused_imports)]
use anyhow::Context;
#[allow(unused_imports)]
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let host = conventions::host("localhost");
    let port = conventions::port()?;
    let message = std::env::args()
        .nth(1)
        .context("usage: first_client MESSAGE")?;

    // TODO: resolve (host, port) into a list of addresses.
    // TODO: for each address: create a socket of the matching domain and
    //       connect it; stop at the first that connects. If none does,
    //       return an error naming the address (`conventions::connect_error`
    //       makes a good one).
    // TODO: write all of `message`, then shutdown(Shutdown::Write).
    // TODO: read until end-of-file and write what you read to stdout.
    todo!("send {message:?} to {host}:{port} and print the reply")
}
