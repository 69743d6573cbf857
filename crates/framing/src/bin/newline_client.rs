//! The CloudHash client for `newline_server`: several requests over one
//! connection, each a line, each answered by a line.
//!
//! The Part 1 client opened a connection per request and marked the end of
//! each one by closing its side. This one connects once, sends
//! `SET prez obama`, `GET prez` and `GET vp`, printing each reply as it
//! comes, then sends `exit` and waits for the server to close the
//! connection.
//!
//! Try it: `cargo run -p framing --bin newline_server` in one terminal, then
//! `cargo run -p framing --bin newline_client` in another (HOST and PORT
//! default to localhost and 4481).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::ToSocketAddrs;

use anyhow::{Context, bail};
use framing::MAX_LINE;
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let socket = connect()?;
    let mut reader = BufReader::new(&socket);
    let mut writer = &socket;

    // ANCHOR: requests
    for request in ["SET prez obama", "GET prez", "GET vp"] {
        // Ruby: client.puts(request). The newline is what tells the server
        // the request is complete; it goes in the same write as the request.
        writer
            .write_all(format!("{request}\n").as_bytes())
            .context("sending a request")?;
        // Ruby: client.gets. Read up to and including the reply's newline.
        let mut reply = Vec::new();
        (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut reply)
            .context("reading a reply")?;
        let Some(reply) = reply.strip_suffix(b"\n") else {
            bail!(
                "the server closed the connection (or sent an overlong line) instead of replying to {request:?}"
            );
        };
        println!("{request} -> {}", String::from_utf8_lossy(reply));
    }
    // ANCHOR_END: requests

    // ANCHOR: exit
    // `exit` gets no reply: the server closes the connection, so the next
    // read returns 0 bytes (EOF).
    writer.write_all(b"exit\n").context("sending exit")?;
    let mut rest = Vec::new();
    reader
        .read_to_end(&mut rest)
        .context("waiting for the server to close")?;
    if !rest.is_empty() {
        bail!("expected the server to close after exit, got {rest:?}");
    }
    println!("exit -> (connection closed)");
    // ANCHOR_END: exit
    Ok(())
}

/// Connects to HOST:PORT (default localhost:4481), trying each address the
/// name resolves to in turn, as Ruby's `TCPSocket.new` does: `localhost` is
/// often `::1` first, while the server listens on 127.0.0.1.
fn connect() -> anyhow::Result<Socket> {
    let host = conventions::host("localhost");
    let port = conventions::port()?;
    let addrs = (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host}"))?;
    // Each address in turn; the error of the last one if none answers.
    let mut last_error = anyhow::anyhow!("{host} resolves to no address");
    for addr in addrs {
        let socket =
            Socket::new(Domain::for_address(addr), Type::STREAM, None).context("socket(2)")?;
        match socket.connect(&SockAddr::from(addr)) {
            Ok(()) => return Ok(socket),
            Err(err) => last_error = conventions::connect_error(addr, err),
        }
    }
    Err(last_error.context(format!("no CloudHash server at {host}:{port}")))
}
