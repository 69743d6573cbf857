//! The shorthand: `accept_loop` again, written with `std::net::TcpListener`.
//!
//! Ruby's `TCPServer.new(4481)` and Rust's `TcpListener::bind` both fold the
//! first steps of the lifecycle into one call. On Linux, `TcpListener::bind`
//! makes exactly these system calls (check with `strace -f -e trace=network`):
//!
//! 1. `socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_IP)` — create
//! 2. `setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)` — so a restarted server can
//!    bind again while old connections linger in TIME_WAIT (Socket Options)
//! 3. `bind(0.0.0.0:4481)`
//! 4. `listen(128)` — std's fixed backlog on Linux; Ruby passes `SOMAXCONN`
//!
//! and `incoming()` is `Socket.accept_loop`: an endless iterator that calls
//! accept(2) once per item. The behaviour is the same as `accept_loop`: one
//! line, `accepted a connection from <ip>:<port>`, per connection, which is
//! then closed.
//!
//! Try it: `cargo run -p primitives --bin tcp_listener_shorthand`, then in
//! another terminal `nc localhost 4481 < /dev/null`.

use std::net::{SocketAddr, TcpListener};

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let addr: SocketAddr = conventions::listen_addr("0.0.0.0")?;

    // ANCHOR: shorthand
    // Ruby: server = TCPServer.new(4481)
    // = socket(2) + setsockopt(SO_REUSEADDR) + bind(2) + listen(2, 128)
    let listener = TcpListener::bind(addr).map_err(|err| conventions::bind_error(addr, err))?;
    conventions::announce(listener.local_addr().context("getsockname(2)")?);

    // Ruby: Socket.accept_loop(server) { |connection| connection.close }
    // Each item of incoming() is the result of one accept(2).
    for connection in listener.incoming() {
        let connection = match connection {
            Ok(connection) => connection,
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        // incoming() drops the address accept(2) returned, so ask again with
        // getpeername(2). That fails if the client has already reset.
        match connection.peer_addr() {
            Ok(client_addr) => println!("accepted a connection from {client_addr}"),
            Err(err) => eprintln!("accepted a connection that is already gone: {err}"),
        }
        // close(2) — Ruby: connection.close
        drop(connection);
    }
    // ANCHOR_END: shorthand

    // Never reached: incoming() has no end; a failed accept(2) is an item.
    Ok(())
}
