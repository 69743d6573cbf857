//! The server lifecycle, one system call per step: create, bind, listen,
//! accept, close.
//!
//! This server accepts exactly one connection, closes it without reading, and
//! exits. A real server would loop (see `accept_loop`); this one stops so you
//! can see that each step is a separate call to the kernel.
//!
//! Try it: `cargo run -p primitives --bin server_lifecycle`, then in another
//! terminal `echo ohai | nc localhost 4481`.

use std::net::SocketAddr;

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    // ANCHOR: lifecycle
    // 1. create — Ruby: Socket.new(:INET, :STREAM)
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;

    // 2. bind — Ruby: Socket.pack_sockaddr_in(4481, "0.0.0.0") + bind.
    // 0.0.0.0 means "every interface of this machine", loopback included.
    let addr: SocketAddr = conventions::listen_addr("0.0.0.0")?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;

    // 3. listen — Ruby: listen(128). 128 is the backlog: how many connections
    // the kernel may complete and queue before we get round to accepting them.
    listener.listen(128).context("listen(2)")?;
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);

    // 4. accept — blocks until a client connects, then hands back a *new*
    // socket for that one connection plus the client's address. The listener
    // itself keeps listening.
    let (connection, client_addr) = listener.accept().context("accept(2)")?;
    let client_addr = client_addr.as_socket().context("not an IP peer")?;
    println!("accepted a connection from {client_addr}");

    // 5. close — Ruby: connection.close. Dropping a socket2::Socket calls
    // close(2); we do it explicitly because closing is a step of its own.
    drop(connection);
    println!("closed the connection");
    // ANCHOR_END: lifecycle

    // The listener is closed when main returns.
    Ok(())
}
