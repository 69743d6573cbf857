//! Exercise (Server Lifecycle): tell each client both ends of its connection.
//!
//! Reference solution.

use std::io::Write;

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let addr = conventions::listen_addr("0.0.0.0")?;

    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
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
        let (connection, _) = match listener.accept() {
            Ok(pair) => pair,
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        // A client that has already reset makes getpeername(2) or write(2)
        // fail: that ends its connection, not the server.
        if let Err(err) = tell_addresses(&connection) {
            eprintln!("connection lost: {err:#}");
        }
        // `connection` is dropped here: close(2).
    }
}

fn tell_addresses(mut connection: &Socket) -> anyhow::Result<()> {
    // getsockname(2) on the accepted socket, not on the listener.
    let local = connection.local_addr().context("getsockname(2)")?;
    let remote = connection.peer_addr().context("getpeername(2)")?;
    let local = local.as_socket().context("not an IP socket")?;
    let remote = remote.as_socket().context("not an IP peer")?;
    let line = format!("local={local} remote={remote}\n");
    connection.write_all(line.as_bytes()).context("write(2)")?;
    Ok(())
}
