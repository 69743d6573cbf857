//! Reading whatever has arrived, without waiting for more: Ruby's
//! `readpartial`, which is what a plain Rust `read` already is.
//!
//! Each read(2) blocks only until *some* bytes are there, then returns them,
//! however few, even though the buffer has room for 100 KiB. So the server
//! prints data as soon as the client sends it, without waiting for the
//! client to close. End of file is where the two languages differ: Ruby's
//! `readpartial` raises `EOFError`, Rust's `read` returns `Ok(0)`, and the
//! loop below checks for that 0 itself.
//!
//! Try it: `cargo run -p read-write --bin readpartial`, then in another
//! terminal `nc localhost 4481` and type a few lines: each shows up in the
//! server as soon as you press Enter. Ctrl-D sends EOF.

use std::io::{self, Read};
use std::net::SocketAddr;

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

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
        if let Err(err) = print_as_it_arrives(&mut connection) {
            eprintln!("reading from {peer} failed: {err}");
        }
        // Ruby: connection.close
        drop(connection);
        println!("closed the connection");
    }
}

// ANCHOR: loop
/// Ruby: `while data = connection.readpartial(1024 * 100) do puts data end`,
/// with `rescue EOFError`.
fn print_as_it_arrives(connection: &mut Socket) -> io::Result<()> {
    // 100 KiB, as in the Ruby example: a maximum, not an amount to wait for.
    // On the heap, because it is large for a stack frame.
    let mut buffer = vec![0u8; 1024 * 100];
    loop {
        let n = match connection.read(&mut buffer) {
            Ok(n) => n,
            // A signal arrived before any data did: just ask again.
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        // Where Ruby raises EOFError, Rust returns Ok(0). Nothing raises, so
        // forgetting this check would spin forever reading 0 bytes.
        if n == 0 {
            println!("read(2) returned 0 bytes: EOF");
            return Ok(());
        }
        println!(
            "read(2) returned {n} bytes: {:?}",
            String::from_utf8_lossy(&buffer[..n])
        );
    }
}
// ANCHOR_END: loop
