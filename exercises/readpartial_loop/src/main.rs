//! Exercise (Sockets Can Read): read what is there, and notice the end.
//!
//! Ruby's `readpartial(1024)` returns as soon as some bytes have arrived, at
//! most 1024 of them, and raises `EOFError` at the end of the stream. Rust's
//! `read` behaves the same way except at the end: it returns `Ok(0)`, and
//! nothing stops a loop that forgets to check for it.
//!
//! The contract the tests check:
//! - binds `127.0.0.1` on `PORT` and prints `Listening on <ip>:<port>`
//!   (done for you below);
//! - for each connection, reads into a buffer of exactly 1024 bytes and, for
//!   every read that returns data, prints `read N bytes: "<data>"` at once
//!   (the data shown with `{:?}` of `String::from_utf8_lossy`), without
//!   waiting for the buffer to fill;
//! - when a read returns 0 (the client closed its side), prints `EOF`,
//!   closes the connection and serves the next client;
//! - a read interrupted by a signal (`ErrorKind::Interrupted`) is retried;
//!   any other error is reported on stderr and the server goes on.
//!
//! Try it: `cargo run -p readpartial_loop` inside `exercises/`, then in
//! another terminal `nc -N localhost 4481`, type a few lines, and end with
//! Ctrl-D.
//!
//! Run the tests with `just exercise readpartial_loop`
//! (or `cargo test -p readpartial_loop` inside `exercises/`).
//! Stuck? `just hint readpartial_loop`.

// These are the imports the solution uses; the allow keeps the unsolved
// file free of warnings until you use them.
#[allow(unused_imports)]
use std::io::{self, Read};
use std::net::SocketAddr;

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

/// The most one read may return: Ruby's `readpartial(1024)`.
const MAX_READ: usize = 1024;

fn main() -> anyhow::Result<()> {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    listener
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;
    let addr: SocketAddr = conventions::listen_addr("127.0.0.1")?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    listener.listen(128).context("listen(2)")?;
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);

    loop {
        let (mut connection, _peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        if let Err(err) = print_reads(&mut connection) {
            eprintln!("connection failed: {err}");
        }
        // `connection` is dropped here: close(2).
    }
}

/// Prints every read on `connection` until EOF.
fn print_reads(connection: &mut Socket) -> io::Result<()> {
    // TODO: a buffer of MAX_READ bytes.
    // TODO: loop { read; Ok(0) means EOF: print `EOF` and return;
    //       Ok(n): print the n bytes; Interrupted: try again; other errors:
    //       return them }
    let _ = connection;
    todo!("read at most {MAX_READ} bytes at a time until EOF")
}
