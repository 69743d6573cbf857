//! Reading in fixed-size chunks, the way Ruby's `read(1024)` does.
//!
//! Ruby's `connection.read(1024)` does not return until it has 1024 bytes or
//! the client has closed its side (EOF). Rust's `read` (one read(2) call) is
//! different: it returns as soon as *any* bytes are there, perhaps only a few.
//! To get Ruby's behaviour you loop, asking each read(2) only for the space
//! still left, until the chunk is full or a read returns 0.
//!
//! The server prints every read(2) (indented) and every finished chunk, so
//! you can see a chunk that took several reads to fill.
//!
//! Try it: `cargo run -p read-write --bin read_chunks`, then in another
//! terminal `head -c 2500 /dev/zero | nc -N localhost 4481`, which prints
//! chunks of 1024, 1024 and 452 bytes.

use std::io::{self, Read};
use std::net::SocketAddr;

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

// ANCHOR: size
const ONE_KB: usize = 1024;
// ANCHOR_END: size

fn main() -> anyhow::Result<()> {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    // Ruby's tcp_server_loop sets SO_REUSEADDR, and so do we: this server
    // closes connections first, which leaves each one in TIME_WAIT on this
    // port for a minute, and without the option a restart within that
    // minute fails with EADDRINUSE. (Socket Options has the details.)
    listener
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;
    let addr: SocketAddr = conventions::listen_addr("127.0.0.1")?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    listener.listen(128).context("listen(2)")?;
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);

    // Ruby: Socket.tcp_server_loop(4481) { |connection| ... }
    loop {
        let (mut connection, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        let peer = peer.as_socket().context("not an IP peer")?;
        println!("connection from {peer}");
        // A reset (the client vanished) ends this connection, not the server.
        if let Err(err) = print_chunks(&mut connection) {
            eprintln!("reading from {peer} failed: {err}");
        }
        // Ruby: connection.close
        drop(connection);
        println!("closed the connection");
    }
}

// ANCHOR: loop
/// Ruby: `while data = connection.read(one_kb) do puts data end`
fn print_chunks(connection: &mut Socket) -> io::Result<()> {
    let mut chunk = [0u8; ONE_KB];
    for number in 1.. {
        let (len, calls, eof) = fill_chunk(connection, &mut chunk)?;
        if len > 0 {
            let end = if eof { ", cut short by EOF" } else { "" };
            println!("chunk {number}: {len} bytes (read(2) calls: {calls}){end}");
        }
        if eof {
            // Ruby's read(1024) would now return nil and end the while loop.
            println!("EOF");
            break;
        }
    }
    Ok(())
}
// ANCHOR_END: loop

// ANCHOR: fill
/// Fills `chunk` the way Ruby's `read(n)` does: keeps calling read(2) until
/// the chunk is full or the client has closed its side. Returns how many bytes
/// it holds, how many read(2) calls that took, and whether EOF was reached.
///
/// (`Read::read_exact` loops the same way, but treats EOF before the end of
/// the chunk as an error and does not say how far it got.)
fn fill_chunk(connection: &mut Socket, chunk: &mut [u8]) -> io::Result<(usize, usize, bool)> {
    let mut filled = 0;
    let mut calls = 0;
    while filled < chunk.len() {
        // Ask only for the space left, so no byte of the next chunk is taken.
        let n = match connection.read(&mut chunk[filled..]) {
            Ok(n) => n,
            // A signal arrived before any data did: just ask again.
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        calls += 1;
        if n == 0 {
            println!("  read(2) returned 0 bytes: EOF");
            return Ok((filled, calls, true));
        }
        filled += n;
        println!(
            "  read(2) returned {n} bytes; chunk has {filled} of {}",
            chunk.len()
        );
    }
    Ok((filled, calls, false))
}
// ANCHOR_END: fill
