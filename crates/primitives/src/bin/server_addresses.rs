//! The listener's address is not the connection's address.
//!
//! This server listens on 0.0.0.0, "any address of this machine". Each
//! connection accept(2) hands back is a new socket with two concrete
//! addresses of its own: the local one (which of our addresses the client
//! dialled, and our port) and the remote one (the client's address and
//! port). Those four values — local IP, local port, remote IP, remote port —
//! are what tell one TCP connection apart from every other on the machine.
//!
//! For every connection it prints exactly two lines, then closes it:
//!
//! ```text
//! local address: 127.0.0.1:4481
//! remote address: 127.0.0.1:51234
//! ```
//!
//! Try it: `cargo run -p primitives --bin server_addresses`, then in another
//! terminal `nc localhost 4481 < /dev/null` and `nc 127.0.0.2 4481 < /dev/null`
//! (all of 127.0.0.0/8 is loopback on Linux).

use std::net::SocketAddr;

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    // create, bind, listen: as in `server_lifecycle`.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    let addr: SocketAddr = conventions::listen_addr("0.0.0.0")?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    listener.listen(128).context("listen(2)")?;

    // ANCHOR: listener
    // getsockname(2) on the *listener*: the wildcard 0.0.0.0 and our port.
    // That is what it was bound to, and it never changes.
    let listening_on = listener
        .local_addr()
        .context("getsockname(2)")?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(listening_on);
    // ANCHOR_END: listener

    loop {
        let (connection, _client_addr) = match listener.accept() {
            Ok(pair) => pair,
            // A failed accept(2) is no reason to stop (see `accept_loop`).
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        // A client may already have reset the connection by the time we ask
        // about it (then getpeername(2) fails with ENOTCONN): report it and
        // serve the next one.
        if let Err(err) = print_addresses(&connection) {
            eprintln!("connection lost before we could inspect it: {err:#}");
        }
        // close(2): dropping the socket.
        drop(connection);
    }
}

fn print_addresses(connection: &Socket) -> anyhow::Result<()> {
    // ANCHOR: addresses
    // getsockname(2) on the *connection* — Ruby: connection.local_address.
    // Not 0.0.0.0 any more: the one address of ours the client connected to.
    let local = connection.local_addr().context("getsockname(2)")?;
    // getpeername(2) — Ruby: connection.remote_address. The client's address
    // and the port its kernel picked for this one connection.
    let remote = connection.peer_addr().context("getpeername(2)")?;
    let local = local.as_socket().context("not an IP socket")?;
    let remote = remote.as_socket().context("not an IP peer")?;
    println!("local address: {local}");
    println!("remote address: {remote}");
    // ANCHOR_END: addresses
    Ok(())
}
