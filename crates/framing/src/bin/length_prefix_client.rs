//! The CloudHash client for `length_prefix_server`: every request and every
//! reply is a 4-byte big-endian length followed by that many bytes, so a
//! value can contain newlines (or any byte at all).
//!
//! It connects once, stores a two-line value, reads it back, asks for a key
//! that is not there, then sends `exit` and waits for the server to close.
//! Requests and replies are printed with `\n` and other unprintable bytes
//! escaped, so that each stays on one line of output.
//!
//! Try it: `cargo run -p framing --bin length_prefix_server` in one
//! terminal, then `cargo run -p framing --bin length_prefix_client` in
//! another (HOST and PORT default to localhost and 4481).

use std::io::{Read, Write};
use std::net::ToSocketAddrs;

use anyhow::{Context, bail};
use framing::MAX_FRAME;
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let mut socket = connect()?;

    // ANCHOR: requests
    let requests: [&[u8]; 3] = [
        b"SET poem roses are red\nviolets are blue",
        b"GET poem",
        b"GET vp",
    ];
    for request in requests {
        send_frame(&mut socket, request).context("sending a request")?;
        let reply = read_frame(&mut socket).context("reading a reply")?;
        println!("{} -> {}", request.escape_ascii(), reply.escape_ascii());
    }
    // ANCHOR_END: requests

    // `exit` gets no reply: the server closes the connection.
    send_frame(&mut socket, b"exit").context("sending exit")?;
    let mut rest = Vec::new();
    socket
        .read_to_end(&mut rest)
        .context("waiting for the server to close")?;
    if !rest.is_empty() {
        bail!("expected the server to close after exit, got {rest:?}");
    }
    println!("exit -> (connection closed)");
    Ok(())
}

// ANCHOR: frames
/// One frame: the payload's length as 4 big-endian bytes, then the payload,
/// in a single write.
fn send_frame(socket: &mut Socket, payload: &[u8]) -> anyhow::Result<()> {
    let length = u32::try_from(payload.len()).context("payload over 4 GiB")?;
    let frame = [length.to_be_bytes().as_slice(), payload].concat();
    socket.write_all(&frame)?;
    Ok(())
}

/// Reads one frame and returns its payload. The length is checked against
/// the cap before anything is allocated: a client must not trust a server
/// any more than a server trusts a client.
fn read_frame(socket: &mut Socket) -> anyhow::Result<Vec<u8>> {
    let mut header = [0u8; 4];
    // Ruby's read(4) waits for all 4 bytes; Rust's read returns what is
    // there, so read_exact loops until it has them (or fails at EOF).
    socket
        .read_exact(&mut header)
        .context("the server closed the connection instead of replying")?;
    let length = u32::from_be_bytes(header);
    if length > MAX_FRAME {
        bail!("the server announced a {length}-byte reply; the limit is {MAX_FRAME}");
    }
    let mut payload = vec![0u8; length as usize];
    socket
        .read_exact(&mut payload)
        .context("the server closed the connection in the middle of a reply")?;
    Ok(payload)
}
// ANCHOR_END: frames

/// Connects to HOST:PORT (default localhost:4481), trying each address the
/// name resolves to in turn: `localhost` is often `::1` first, while the
/// server listens on 127.0.0.1.
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
