//! Exercise (Nagle's Algorithm): take the 40 ms stall out of a client.
//!
//! Reference solution.

use std::io::{Read, Write};
use std::net::ToSocketAddrs;
use std::time::Instant;

use anyhow::{Context, bail};
use socket2::{Domain, SockAddr, Socket, Type};

const REQUESTS: [&str; 5] = [
    "SET lang rust",
    "GET lang",
    "GET ruby",
    "SET lang ruby",
    "GET lang",
];

fn main() -> anyhow::Result<()> {
    let mut socket = connect()?;

    // setsockopt(IPPROTO_TCP, TCP_NODELAY, 1): small writes leave at once.
    socket
        .set_tcp_nodelay(true)
        .context("setsockopt(TCP_NODELAY)")?;

    // getsockopt(2): what the kernel really has for this socket.
    let nodelay = socket.tcp_nodelay().context("getsockopt(TCP_NODELAY)")?;
    println!("TCP_NODELAY: {}", if nodelay { "on" } else { "off" });

    for request in REQUESTS {
        let start = Instant::now();
        send_frame(&mut socket, request.as_bytes())?;
        let reply = read_frame(&mut socket)?;
        let millis = start.elapsed().as_secs_f64() * 1000.0;
        println!(
            "{request} -> {} ({millis:.2} ms)",
            String::from_utf8_lossy(&reply)
        );
    }

    // `exit` gets no reply: the server closes the connection.
    send_frame(&mut socket, b"exit")?;
    let mut rest = Vec::new();
    socket
        .read_to_end(&mut rest)
        .context("waiting for the server to close")?;
    Ok(())
}

/// Sends `payload` as one frame: its length as 4 big-endian bytes, then the
/// bytes themselves, in a single write.
fn send_frame(socket: &mut Socket, payload: &[u8]) -> anyhow::Result<()> {
    let length = u32::try_from(payload.len()).context("payload over 4 GiB")?;
    // Header and payload in one buffer, one write(2), one segment.
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(payload);
    socket.write_all(&frame).context("sending a frame")?;
    Ok(())
}

/// Reads one frame and returns its payload.
fn read_frame(socket: &mut Socket) -> anyhow::Result<Vec<u8>> {
    let mut header = [0u8; 4];
    socket
        .read_exact(&mut header)
        .context("the server closed the connection instead of replying")?;
    let length = u32::from_be_bytes(header);
    if length > 1024 * 1024 {
        bail!("the server announced a {length}-byte reply; the limit is 1 MiB");
    }
    let mut payload = vec![0u8; length as usize];
    socket
        .read_exact(&mut payload)
        .context("the server closed the connection in the middle of a reply")?;
    Ok(payload)
}

/// Connects to HOST:PORT (default localhost:4481), trying each address the
/// name resolves to in turn.
fn connect() -> anyhow::Result<Socket> {
    let host = conventions::host("localhost");
    let port = conventions::port()?;
    let addrs = (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host}"))?;
    let mut last_error = anyhow::anyhow!("{host} resolves to no address");
    for addr in addrs {
        let socket =
            Socket::new(Domain::for_address(addr), Type::STREAM, None).context("socket(2)")?;
        match socket.connect(&SockAddr::from(addr)) {
            Ok(()) => return Ok(socket),
            Err(err) => last_error = conventions::connect_error(addr, err),
        }
    }
    Err(last_error.context(format!("no server at {host}:{port}")))
}
