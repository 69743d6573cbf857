//! Exercise (Client Lifecycle): a client built from the raw calls.
//!
//! Reference solution.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let host = conventions::host("localhost");
    let port = conventions::port()?;
    let message = std::env::args()
        .nth(1)
        .context("usage: first_client MESSAGE")?;

    let addrs: Vec<SocketAddr> = (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host:?}"))?
        .collect();
    let mut socket = connect_to_any(&addrs)?;

    socket
        .write_all(message.as_bytes())
        .context("sending the message")?;
    // FIN: "that was all of it". We can still read.
    socket.shutdown(Shutdown::Write).context("shutdown(2)")?;

    let mut reply = Vec::new();
    socket
        .read_to_end(&mut reply)
        .context("reading the reply")?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&reply)?;
    stdout.flush()?;
    Ok(())
    // `socket` is dropped here: close(2).
}

/// socket(2) + connect(2) for each address in turn; the first that connects.
fn connect_to_any(addrs: &[SocketAddr]) -> anyhow::Result<Socket> {
    let mut last_error = anyhow::anyhow!("the name resolved to no address");
    for &addr in addrs {
        let socket =
            Socket::new(Domain::for_address(addr), Type::STREAM, None).context("socket(2)")?;
        match socket.connect(&SockAddr::from(addr)) {
            Ok(()) => return Ok(socket),
            Err(err) => last_error = conventions::connect_error(addr, err),
        }
    }
    Err(last_error)
}
