//! The CloudHash client: three requests, one connection each.
//!
//! It stores `lincoln` under `prez`, reads `prez` back, then asks for `vp`,
//! which nobody set, and prints each reply on its own line:
//!
//! ```text
//! lincoln
//! lincoln
//!
//! ```
//!
//! For each request it connects, writes the request, shuts down its writing
//! side (so the server's read sees end of file), and reads the reply until
//! the server closes.
//!
//! Try it: start `cargo run -p cloudhash --bin cloudhash_server`, then in
//! another terminal `cargo run -p cloudhash --bin cloudhash_client`.
//! It talks to `HOST`/`PORT` (default `localhost:4481`).

use std::io::{Read, Write};
use std::net::{Shutdown, ToSocketAddrs};

use anyhow::{Context, bail};
use socket2::{Domain, SockAddr, Socket, Type};

// ANCHOR: main
fn main() -> anyhow::Result<()> {
    // Ruby: CloudHash::Client.host = …; CloudHash::Client.port = …
    let host = conventions::host("localhost");
    let port = conventions::port()?;

    // Ruby: puts CloudHash::Client.set(…); puts CloudHash::Client.get(…)
    puts(&request(&host, port, "SET prez lincoln")?)?;
    puts(&request(&host, port, "GET prez")?)?;
    puts(&request(&host, port, "GET vp")?)?;
    Ok(())
}
// ANCHOR_END: main

// ANCHOR: request
/// Sends one request on a connection of its own and returns the whole reply.
/// Ruby: `CloudHash::Client.request(string)`.
fn request(host: &str, port: u16, text: &str) -> anyhow::Result<Vec<u8>> {
    let mut connection = connect(host, port)?;

    // Ruby: @client.write(string)
    connection
        .write_all(text.as_bytes())
        .context("sending the request")?;

    // Ruby: @client.close_write — shutdown(2) with SHUT_WR. The kernel sends
    // a FIN after our request, and the server's read returns 0: end of
    // file, end of request. We can still read; only writing is over.
    connection
        .shutdown(Shutdown::Write)
        .context("shutdown(SHUT_WR)")?;

    // Ruby: @client.read — read(2) until the server closes its side.
    let mut reply = Vec::new();
    connection
        .read_to_end(&mut reply)
        .context("reading the reply")?;
    Ok(reply)
    // `connection` is dropped here: close(2).
}
// ANCHOR_END: request

// ANCHOR: connect
/// Ruby: `TCPSocket.new(host, port)` — resolve the name, then socket(2) and
/// connect(2) to each address in turn until one accepts.
///
/// `localhost` often resolves to `::1` and to `127.0.0.1`; the server listens
/// on IPv4 only, so the first attempt may be refused and the second one work.
fn connect(host: &str, port: u16) -> anyhow::Result<Socket> {
    // getaddrinfo(3): a name becomes a list of addresses.
    let addrs = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host}"))?;
    let mut last_error = None;
    for addr in addrs {
        let socket =
            Socket::new(Domain::for_address(addr), Type::STREAM, None).context("socket(2)")?;
        match socket.connect(&SockAddr::from(addr)) {
            Ok(()) => return Ok(socket),
            // Not fatal yet: the next address may work.
            Err(err) => last_error = Some(conventions::connect_error(addr, err)),
        }
    }
    match last_error {
        Some(err) => Err(err.context(format!(
            "cannot reach CloudHash at {host}:{port}: is cloudhash_server running?"
        ))),
        None => bail!("{host} resolved to no address"),
    }
}
// ANCHOR_END: connect

/// Ruby's `puts`: prints the reply followed by a newline, unless it already
/// ends with one (as the server's `ERR …` lines do). The reply is written as
/// raw bytes: it is whatever the server sent.
fn puts(reply: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(reply)?;
    if !reply.ends_with(b"\n") {
        stdout.write_all(b"\n")?;
    }
    Ok(())
}
