//! Writing to a connection: greet each client, then hang up.
//!
//! For each connection the server writes the 8 bytes `Welcome!` and closes
//! it, like Ruby's `connection.write("Welcome!")` followed by
//! `connection.close`. The client sees the greeting, then end of file.
//!
//! Ruby's `write` sends the whole string, calling write(2) as often as it
//! takes. A single Rust `write` is one write(2) call, which may take fewer
//! bytes than it was given; `write_all` is the loop that Ruby's `write` is.
//!
//! Try it: `cargo run -p read-write --bin write_welcome`, then in another
//! terminal `nc localhost 4481`, which prints `Welcome!` and exits when the
//! server closes the connection.

use std::io::Write;
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

        // ANCHOR: write
        // Ruby: connection.write("Welcome!")
        // write_all calls write(2) until every byte has been taken, retrying
        // if a signal interrupts it. When it returns, the bytes are in this
        // socket's send buffer in the kernel, not yet necessarily at the
        // client: the kernel sends them on its own schedule.
        let greeting = b"Welcome!";
        match connection.write_all(greeting) {
            Ok(()) => println!("wrote {} bytes to {peer}", greeting.len()),
            // E.g. EPIPE or ECONNRESET: the client has already gone.
            Err(err) => eprintln!("writing to {peer} failed: {err}"),
        }

        // Ruby: connection.close. Whatever is still in the send buffer is
        // delivered first, then the kernel sends FIN: the client's EOF.
        drop(connection);
        // ANCHOR_END: write
        println!("closed the connection");
    }
}
