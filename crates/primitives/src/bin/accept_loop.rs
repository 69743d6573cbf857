//! A server that keeps going: create, bind and listen once, then accept and
//! close in a loop, forever.
//!
//! `server_lifecycle` stopped after one connection. Real servers never do:
//! the listening socket stays open, and every trip round the loop pops the
//! next completed connection off its queue. This one prints one line per
//! connection, `accepted a connection from <ip>:<port>`, and closes it
//! without reading or writing anything. Stop it with Ctrl-C.
//!
//! Try it: `cargo run -p primitives --bin accept_loop`, then in another
//! terminal run `nc localhost 4481 < /dev/null` a few times.

use std::net::SocketAddr;

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    // ANCHOR: setup
    // socket(2) — Ruby: Socket.new(:INET, :STREAM)
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    // bind(2) — Ruby: server.bind(Socket.pack_sockaddr_in(4481, "0.0.0.0"))
    let addr: SocketAddr = conventions::listen_addr("0.0.0.0")?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    // listen(2) — Ruby: server.listen(128)
    listener.listen(128).context("listen(2)")?;
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);
    // ANCHOR_END: setup

    // ANCHOR: loop
    // Ruby: loop do connection, _ = server.accept; connection.close; end
    loop {
        // accept(2) blocks until the queue holds a connection, then returns
        // a new socket for it. The listener goes on listening.
        let (connection, client_addr) = match listener.accept() {
            Ok(pair) => pair,
            // accept(2) can fail while the server is fine: out of descriptors
            // (EMFILE) until some connections close, or a network error that
            // Linux passes on from the new connection (the man page says to
            // treat those like EAGAIN). Report it and accept the next one.
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        match client_addr.as_socket() {
            Some(client_addr) => println!("accepted a connection from {client_addr}"),
            None => println!("accepted a connection from a non-IP address"),
        }
        // close(2) — Ruby: connection.close
        drop(connection);
    }
    // ANCHOR_END: loop
}
