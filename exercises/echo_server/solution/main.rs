//! Exercise (Server Lifecycle): an echo server built from the raw calls.
//!
//! Reference solution.

use std::io::{Read, Write};

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let addr = conventions::listen_addr("127.0.0.1")?;

    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    listener
        .bind(&SockAddr::from(addr))
        .with_context(|| format!("binding {addr}"))?;
    listener.listen(128).context("listen(2)")?;
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);

    loop {
        let (mut connection, _peer) = listener.accept().context("accept(2)")?;
        // One client's failure (a reset, say) must not end the server.
        if let Err(err) = echo(&mut connection) {
            eprintln!("connection ended with an error: {err}");
        }
        // `connection` is dropped here: close(2).
    }
}

fn echo(connection: &mut Socket) -> std::io::Result<()> {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let n = connection.read(&mut buffer)?;
        if n == 0 {
            return Ok(()); // EOF: the client closed its side
        }
        connection.write_all(&buffer[..n])?;
    }
}
