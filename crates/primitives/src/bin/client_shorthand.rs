//! The client lifecycle in one call: `TcpStream::connect`, Rust's
//! `TCPSocket.new(host, port)`.
//!
//! `client_lifecycle` resolves the name, creates a socket and connects it
//! step by step. Here the standard library does all of that inside one call.
//! The client then writes a one-line HTTP-style request and closes the
//! connection without waiting for an answer, like Ruby's
//! `Socket.tcp(host, port) { |connection| ... }` block, which closes the
//! connection when the block ends.
//!
//! Try it: `nc -l 4481` in one terminal (it prints what arrives), then
//! `cargo run -p primitives --bin client_shorthand` in another.

use std::io::Write;
use std::net::TcpStream;

use anyhow::Context;

/// What we send: a request line, then the empty line that ends the
/// (header-less) request. HTTP ends every line with `\r\n`.
const REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";

fn main() -> anyhow::Result<()> {
    let host = conventions::host("localhost");
    let port = conventions::port()?;

    // ANCHOR: shorthand
    {
        // Ruby: TCPSocket.new(host, port), or Socket.tcp(host, port) do ... end.
        // One call that stands for:
        //   getaddrinfo(3)   resolve the name into addresses;
        //   then for each address until one works:
        //     socket(2)      create a socket of the matching domain;
        //     connect(2)     bind to an ephemeral port, handshake.
        // If every address fails, we get the last address's error.
        let mut connection = TcpStream::connect((host.as_str(), port))
            .map_err(|err| conventions::connect_error(format!("{host}:{port}"), err))?;
        println!("connected to {}", connection.peer_addr()?);

        // write(2), as many times as it takes to send every byte.
        connection
            .write_all(REQUEST)
            .context("writing the request")?;
        println!("sent {:?}", String::from_utf8_lossy(REQUEST));
    } // `connection` is dropped here: close(2), like the end of Ruby's block.
    println!("closed the connection");
    // ANCHOR_END: shorthand

    Ok(())
}
