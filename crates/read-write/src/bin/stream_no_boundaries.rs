//! TCP carries a stream of bytes, not a series of messages.
//!
//! This program is both ends of one loopback connection. The client makes
//! three separate `write(2)` calls, "a", "b" and "c", then closes its writing
//! side. Only then does the server start reading, with a buffer big enough
//! for everything. The three writes are already waiting, side by side, in the
//! server's receive buffer, and the kernel hands them over as one run of
//! bytes (on Linux, in a single read): the reader cannot tell where one write
//! ended and the next began.
//! What TCP does promise is that every byte arrives, once, in order; the last
//! line checks exactly that.
//!
//! Try it: `cargo run -p read-write --bin stream_no_boundaries`

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    // ANCHOR: setup
    // The server side: a listener on loopback. Port 0 lets the kernel pick a
    // free port, because this program is its own client and needs no fixed one.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    let addr: SocketAddr = "127.0.0.1:0".parse()?;
    listener.bind(&SockAddr::from(addr)).context("bind(2)")?;
    listener.listen(128).context("listen(2)")?;
    let server_addr = listener.local_addr().context("getsockname(2)")?;

    // The client side. connect(2) returns once the kernel has completed the
    // handshake and queued the connection on the listener: nobody has to be
    // inside accept(2) yet, so one thread can play both parts.
    let mut client = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    client.connect(&server_addr).context("connect(2)")?;
    let (mut server, _peer) = listener.accept().context("accept(2)")?;
    // ANCHOR_END: setup

    // ANCHOR: write
    // Three writes, three separate system calls. Each one copies its bytes
    // into the kernel and returns; nothing marks where one write ends.
    let pieces: [&[u8]; 3] = [b"a", b"b", b"c"];
    let mut sent = Vec::new();
    for (number, piece) in pieces.iter().enumerate() {
        client.write_all(piece).context("write(2)")?;
        sent.extend_from_slice(piece);
        println!(
            "client write #{}: {} byte(s) {:?}",
            number + 1,
            piece.len(),
            String::from_utf8_lossy(piece)
        );
    }
    // Half-close: "I will send nothing more". The server's reads will see
    // EOF once they have drained everything written before this.
    client.shutdown(Shutdown::Write).context("shutdown(2)")?;
    println!("client shutdown(Write): no more data will follow");
    // ANCHOR_END: write

    // ANCHOR: read
    // Only now does the server read, so all three writes are already sitting
    // in its receive buffer. One read(2) returns as much as is there and fits.
    let mut received = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    let mut reads = 0;
    loop {
        let n = server.read(&mut buffer).context("read(2)")?;
        reads += 1;
        if n == 0 {
            println!("server read #{reads}: 0 bytes, EOF");
            break;
        }
        received.extend_from_slice(&buffer[..n]);
        println!(
            "server read #{reads}: {n} byte(s) {:?}",
            String::from_utf8_lossy(&buffer[..n])
        );
    }
    // ANCHOR_END: read

    // ANCHOR: compare
    // How the bytes were cut up differs between the two sides; the bytes
    // themselves, and their order, do not.
    println!(
        "write calls: {}, sent {:?}; read calls with data: {}, received {:?}",
        pieces.len(),
        String::from_utf8_lossy(&sent),
        reads - 1,
        String::from_utf8_lossy(&received)
    );
    println!(
        "same bytes in the same order: {}",
        if sent == received { "yes" } else { "NO" }
    );
    // ANCHOR_END: compare
    anyhow::ensure!(
        sent == received,
        "TCP lost or reordered bytes on loopback?!"
    );
    Ok(())
}
