//! Sends TCP urgent data: some normal data, one byte with `MSG_OOB`, then
//! more normal data.
//!
//! It connects to `HOST`:`PORT` (default localhost:4481), where `recv_urgent`
//! or `oob_inline` should be listening, sends the three parts and closes.
//! `URGENT` (default `!`) says which byte to send as urgent data; give it
//! several (`URGENT=12`) and each is sent with a `send(MSG_OOB)` of its own,
//! to show that TCP keeps only one urgent mark.
//!
//! ```text
//! connected to 127.0.0.1:4481
//! sent 19 bytes of normal data: "normal data before "
//! sent 1 byte with MSG_OOB: "!"
//! sent 18 bytes of normal data: "normal data after\n"
//! ```
//!
//! Try it: `cargo run -p oob --bin recv_urgent` in one terminal, then
//! `cargo run -p oob --bin send_urgent` in another.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{Context, bail};
use socket2::{Domain, SockAddr, Socket, Type};

const BEFORE: &[u8] = b"normal data before ";
const AFTER: &[u8] = b"normal data after\n";

fn main() -> anyhow::Result<()> {
    let host = conventions::host("localhost");
    let port = conventions::port()?;
    let urgent = std::env::var("URGENT").unwrap_or_else(|_| "!".to_string());

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
            // Not fatal yet: the next address may work.
            Err(err) => eprintln!("{:#}", conventions::connect_error(addr, err)),
        }
    }
    let Some((mut socket, addr)) = connected else {
        bail!("could not connect to {host}:{port}");
    };
    println!("connected to {addr}");

    // ANCHOR: send
    // Ruby: socket.write(…). Normal data, as always.
    socket.write_all(BEFORE).context("write(2)")?;
    println!(
        "sent {} bytes of normal data: {:?}",
        BEFORE.len(),
        String::from_utf8_lossy(BEFORE)
    );

    // Ruby: socket.send("!", Socket::MSG_OOB). send(2) is write(2) with
    // flags; MSG_OOB marks the *last* byte of what this call sends as
    // urgent. That is why we send one byte per call: in a longer buffer,
    // all but the last byte would be ordinary data.
    for byte in urgent.bytes() {
        let sent = socket
            .send_out_of_band(&[byte])
            .context("send(2) with MSG_OOB")?;
        println!(
            "sent {sent} byte with MSG_OOB: {:?}",
            String::from_utf8_lossy(&[byte])
        );
    }

    socket.write_all(AFTER).context("write(2)")?;
    println!(
        "sent {} bytes of normal data: {:?}",
        AFTER.len(),
        String::from_utf8_lossy(AFTER)
    );
    // ANCHOR_END: send

    // Dropping the socket closes it: close(2) sends FIN after the data.
    Ok(())
}
