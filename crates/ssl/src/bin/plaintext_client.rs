//! A client that knows nothing about TLS, talking to a TLS server, so you can
//! see the failure from the client's side.
//!
//! It connects to `HOST`:`PORT` (default localhost:4481), sends one line of
//! plaintext and prints, in hex, whatever the server sends back before it
//! closes the connection. Against `ssl_server` that is a TLS *alert*: a
//! five-byte record header and two bytes saying what went wrong.
//!
//! ```text
//! connected to 127.0.0.1:4481
//! sent 5 bytes of plaintext: "ohai\n"
//! received 7 bytes: 15 03 03 00 02 02 32
//! that is a TLS alert record: fatal, decode_error (50)
//! the server closed the connection
//! ```
//!
//! Try it: `cargo run -p ssl --bin ssl_server` in one terminal, then
//! `cargo run -p ssl --bin plaintext_client` in another, and watch the
//! server's terminal too.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, bail};
use socket2::{Domain, SockAddr, Socket, Type};

/// What we say, in plaintext, where the server expects a TLS ClientHello.
const PLAINTEXT: &[u8] = b"ohai\n";

fn main() -> anyhow::Result<()> {
    let host = conventions::host("localhost");
    let port = conventions::port()?;

    // An ordinary TCP connection, as in Client Lifecycle.
    let addrs: Vec<SocketAddr> = (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host:?}"))?
        .collect();
    let mut connected = None;
    for addr in addrs {
        let socket =
            Socket::new(Domain::for_address(addr), Type::STREAM, None).context("socket(2)")?;
        match socket.connect(&SockAddr::from(addr)) {
            Ok(()) => {
                connected = Some((socket, addr));
                break;
            }
            Err(err) => eprintln!("{:#}", conventions::connect_error(addr, err)),
        }
    }
    let Some((mut socket, addr)) = connected else {
        bail!("could not connect to {host}:{port}");
    };
    println!("connected to {addr}");
    // A server that waits for more (a TLS server does not: five bytes are a
    // whole record header to it) must not hang us.
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .context("setsockopt(SO_RCVTIMEO)")?;

    // ANCHOR: speak_plaintext
    // What any plaintext protocol would do first: send a line.
    socket.write_all(PLAINTEXT).context("write(2)")?;
    println!(
        "sent {} bytes of plaintext: {:?}",
        PLAINTEXT.len(),
        String::from_utf8_lossy(PLAINTEXT)
    );

    // Read until the server closes, keeping every byte.
    let mut answer = Vec::new();
    let ending = loop {
        let mut buffer = [0u8; 1024];
        match socket.read(&mut buffer) {
            Ok(0) => break "the server closed the connection",
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(err) if err.kind() == ErrorKind::ConnectionReset => {
                break "the server reset the connection";
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => {
                break "the server sent nothing more for 5s; giving up";
            }
            Err(err) => return Err(err).context("read(2)"),
        }
    };
    // ANCHOR_END: speak_plaintext

    // ANCHOR: decode_alert
    let hex: Vec<String> = answer.iter().map(|byte| format!("{byte:02x}")).collect();
    println!("received {} bytes: {}", answer.len(), hex.join(" "));
    // A TLS record starts with a 5-byte header: content type, protocol
    // version (2 bytes), length (2 bytes). Content type 21 (0x15) is an
    // alert, whose 2-byte body is a level and a description (RFC 8446 §6).
    if let [0x15, 0x03, _, 0x00, 0x02, level, description] = answer[..] {
        let level = match level {
            1 => "warning",
            2 => "fatal",
            _ => "unknown level",
        };
        println!(
            "that is a TLS alert record: {level}, {} ({description})",
            alert_name(description)
        );
    }
    println!("{ending}");
    // ANCHOR_END: decode_alert
    Ok(())
}

/// The names of the alerts a server is likely to send a plaintext client.
fn alert_name(description: u8) -> &'static str {
    match description {
        0 => "close_notify",
        10 => "unexpected_message",
        22 => "record_overflow",
        40 => "handshake_failure",
        47 => "illegal_parameter",
        50 => "decode_error",
        70 => "protocol_version",
        80 => "internal_error",
        _ => "see RFC 8446 section 6",
    }
}
