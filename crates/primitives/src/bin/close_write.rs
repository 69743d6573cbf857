//! Closing one direction of a connection: shutdown(2).
//!
//! A TCP connection is two independent byte streams, one each way. close(2)
//! gives up both at once; shutdown(2) can end just one. This server greets
//! each client, then shuts down its *write* side (Ruby: `close_write`), so the
//! client reads the greeting and then end-of-file. The other direction is
//! still open: the server keeps reading and printing whatever the client
//! sends until the client closes its side too, and only then closes the
//! connection. One connection at a time, forever.
//!
//! For each connection it prints:
//!
//! ```text
//! accepted a connection from 127.0.0.1:51234
//! sent the greeting, then shut down our write side
//! received "gekko\n"
//! the client closed its side after 6 bytes; closing the connection
//! ```
//!
//! with one `received` line per read(2) that returned data.
//!
//! Try it: `cargo run -p primitives --bin close_write`, then in another
//! terminal `nc -N localhost 4481`: the greeting appears at once, and every
//! line you type still reaches the server. Ctrl-D ends your side.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

/// What every client reads before end-of-file.
const GREETING: &[u8] = b"hello! I am done writing, but I am still reading.\n";

fn main() -> anyhow::Result<()> {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    let addr: SocketAddr = conventions::listen_addr("0.0.0.0")?;
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
        let (connection, client_addr) = match listener.accept() {
            Ok(pair) => pair,
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        if let Some(client_addr) = client_addr.as_socket() {
            println!("accepted a connection from {client_addr}");
        }
        // A client that resets the connection must not stop the server.
        if let Err(err) = greet_then_listen(&connection) {
            eprintln!("connection ended with an error: {err:#}");
        }
        // close(2): the read side, the last one still open, goes too.
        drop(connection);
    }
}

fn greet_then_listen(mut connection: &Socket) -> anyhow::Result<()> {
    // ANCHOR: close_write
    connection.write_all(GREETING).context("write(2)")?;
    // Ruby: connection.close_write. The kernel sends FIN once the greeting
    // is on its way: the client's next read after the greeting returns 0.
    // Writing from now on would fail with EPIPE.
    connection
        .shutdown(Shutdown::Write)
        .context("shutdown(SHUT_WR)")?;
    println!("sent the greeting, then shut down our write side");
    // ANCHOR_END: close_write

    // ANCHOR: still_reading
    // The other direction is untouched: read until the client's FIN.
    let mut buffer = [0u8; 4096];
    let mut total = 0;
    loop {
        let n = connection.read(&mut buffer).context("read(2)")?;
        if n == 0 {
            break; // end-of-file: the client shut down its write side
        }
        total += n;
        println!("received {:?}", String::from_utf8_lossy(&buffer[..n]));
    }
    println!("the client closed its side after {total} bytes; closing the connection");
    // ANCHOR_END: still_reading
    Ok(())
}
