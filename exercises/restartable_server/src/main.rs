//! Exercise (Socket Options): a server you can restart at once.
//!
//! This server works, once. It greets each client with a line, closes the
//! connection itself, and waits for the next client. But stop it and start
//! it again straight away, and bind(2) fails with EADDRINUSE: each
//! connection it closed first is still in TIME_WAIT, holding the port.
//!
//! The contract the tests check:
//! - binds `127.0.0.1` on `PORT` (default 4481; the tests set `PORT=0`, then
//!   the port of the previous run) and prints `Listening on <ip>:<port>`;
//! - can be started again on the same port while a connection of its
//!   previous run is in TIME_WAIT;
//! - for each connection, without reading anything, writes one line
//!   `SO_REUSEADDR=<value>\n`, where the value (`true` or `false`) is read
//!   back with getsockopt(2) from the *accepted* connection, then closes
//!   the connection itself (so the server side ends in TIME_WAIT);
//! - serves one connection after another, forever.
//!
//! Run the tests with `just exercise restartable_server`
//! (or `cargo test -p restartable_server` inside `exercises/`).
//! Stuck? `just hint restartable_server`.

use std::io::Write;

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let addr = conventions::listen_addr("127.0.0.1")?;

    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    // TODO: set the socket option that lets bind(2) take a port that a
    // connection in TIME_WAIT still holds. It must come before bind(2).
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
        let (mut connection, _peer) = listener.accept().context("accept(2)")?;
        // TODO: read SO_REUSEADDR back from `connection` with getsockopt(2).
        let reuse_address = "?";
        // A client that has already gone is no reason to stop serving.
        if let Err(err) = writeln!(connection, "SO_REUSEADDR={reuse_address}") {
            eprintln!("writing the greeting failed: {err}");
        }
        // close(2) before the client does: the active close.
        drop(connection);
    }
}
