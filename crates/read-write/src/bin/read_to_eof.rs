//! The simplest way to read: everything, until the client says it is done.
//!
//! For each connection the server calls `read_to_end`, which calls read(2)
//! again and again until one returns 0 bytes: end of file, meaning the client
//! closed (or half-closed) its side. Then it prints what it got and closes
//! the connection. This is Ruby's `connection.read` with no length.
//!
//! The catch: a client that keeps its side open never sends EOF, so the
//! server waits forever and never prints, however much data has arrived.
//!
//! Try it: `cargo run -p read-write --bin read_to_eof`, then in another
//! terminal `echo gekko | nc -N localhost 4481` (`-N` makes nc shut down its
//! writing side when its input ends; without it the server sees no EOF).

use std::io::Read;
use std::net::SocketAddr;

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    // Ruby's tcp_server_loop sets SO_REUSEADDR, and so do we: this server
    // closes connections first, which leaves each one in TIME_WAIT on this
    // port for a minute, and without the option a restart within that
    // minute fails with EADDRINUSE. (Socket Options has the details.)
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

    // Ruby: Socket.tcp_server_loop(4481) { |connection| ... }
    loop {
        let (mut connection, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                // E.g. ECONNABORTED: the client gave up before we accepted.
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        let peer = peer.as_socket().context("not an IP peer")?;
        println!("connection from {peer}: reading until EOF");

        // ANCHOR: read
        // Ruby: connection.read. read_to_end loops over read(2), growing the
        // Vec, and returns only when a read returns 0 (EOF). Until the client
        // closes its side, this line blocks: data alone does not end it.
        let mut received = Vec::new();
        match connection.read_to_end(&mut received) {
            Ok(n) => println!(
                "read to EOF: {n} bytes {:?}",
                String::from_utf8_lossy(&received)
            ),
            // A reset (the client vanished) ends this connection, not the server.
            Err(err) => eprintln!("reading from {peer} failed: {err}"),
        }
        // ANCHOR_END: read

        // Ruby: connection.close
        drop(connection);
        println!("closed the connection");
    }
}
