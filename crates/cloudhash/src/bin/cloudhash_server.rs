//! CloudHash, our first real server: a key-value store you talk to over TCP.
//!
//! One request per connection. The client writes its request and closes its
//! writing side; the server reads until end of file, answers, and closes. So
//! the end of the connection is what marks the end of the request.
//!
//! `SET key value` stores a value and answers it; `GET key` answers the
//! stored value, or nothing at all for a missing key. Anything else gets a
//! one-line `ERR …` reply (the exact texts are in the `cloudhash` library
//! docs), and the server goes on serving the next connection.
//!
//! It serves one connection at a time, like the Ruby book's server.
//!
//! Try it: `cargo run -p cloudhash --bin cloudhash_server`, then in another
//! terminal `echo "SET prez obama" | nc -N localhost 4481` and
//! `echo "GET prez" | nc -N localhost 4481`.

use std::io::{Read, Write};
use std::net::SocketAddr;

use anyhow::Context;
use cloudhash::{MAX_REQUEST, Store};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    // ANCHOR: listen
    // Ruby: TCPServer.new(port) — socket(2), setsockopt(2), bind(2) and
    // listen(2) in one call. We make each call ourselves.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;

    // TCPServer.new also sets SO_REUSEADDR, and so do we: a connection that
    // the server closed first (one it refused, or one still open when you
    // pressed Ctrl-C) lingers in TIME_WAIT on port 4481 for a minute, and
    // without this option a restart in that minute fails with EADDRINUSE.
    // (The Socket Options chapter has the details.)
    listener
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;

    // A server that holds data listens on loopback only, unless HOST says so.
    let addr: SocketAddr = conventions::listen_addr("127.0.0.1")?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    listener.listen(128).context("listen(2)")?;

    // Ruby: server.local_address — getsockname(2), which tells us the port
    // the kernel picked when PORT=0.
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);
    // ANCHOR_END: listen

    // ANCHOR: serve
    // Ruby: @storage = {}. Ours is safe to share between threads, which a
    // serial server does not need yet (see the `cloudhash` library).
    let store = Store::new();

    // Ruby: Socket.accept_loop(@server) { |connection| … }
    loop {
        let (mut connection, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                // A connection that failed between the handshake and our
                // accept is that client's problem, not a reason to stop.
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        if let Err(err) = handle(&mut connection, &store) {
            // A client that resets or vanishes mid-request costs us only
            // this connection.
            let peer = peer
                .as_socket()
                .map_or("a client".into(), |a| a.to_string());
            eprintln!("{peer}: {err}");
        }
        // Ruby: connection.close. Dropping the socket calls close(2), which
        // sends our FIN: that is how the client knows the reply is complete.
        drop(connection);
    }
    // ANCHOR_END: serve
}

// ANCHOR: handle
/// Reads one request up to end of file, answers it. Ruby: `handle(connection)`.
fn handle(connection: &mut Socket, store: &Store) -> std::io::Result<()> {
    // Ruby: connection.read — read(2) until it returns 0 (EOF), i.e. until
    // the client has shut down its writing side.
    //
    // But never more than MAX_REQUEST + 1 bytes: `take` (which wraps our
    // borrow of the socket, not the socket) reports EOF after that many, so
    // a client sending gigabytes costs us at most 1 MiB of memory. Getting
    // the extra byte tells us the request is too large; `process` then
    // refuses it without looking further.
    let mut request = Vec::new();
    connection
        .take(MAX_REQUEST as u64 + 1)
        .read_to_end(&mut request)?;

    // Ruby: connection.write(process(request)) — write(2) until every byte
    // of the reply is out.
    let reply = store.process(&request);
    connection.write_all(&reply.to_bytes())?;
    Ok(())
}
// ANCHOR_END: handle
