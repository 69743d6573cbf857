//! CloudHash over a persistent connection, one command per line.
//!
//! The CloudHash server of Part 1 knew a request had ended when the client
//! closed its side: one request per connection. Here a newline ends each
//! request instead, so one connection carries as many as the client likes:
//!
//! - a request is one line, ending in `\n` (a `\r` before it is dropped too,
//!   so `\r\n` works); the reply is one line ending in `\n`, in the order the
//!   requests came, however many arrive in one read;
//! - `exit` (or the client closing its side) ends the session;
//! - a line may be at most 64 KiB (`framing::MAX_LINE`), its newline
//!   included. A longer one gets `ERR line too long` and the connection is
//!   closed, after reading no more than that;
//! - every connection has its own thread and all of them share one store, so
//!   a slow or idle client does not hold up the others (Part 3 compares this
//!   with the other ways to serve many clients).
//!
//! The commands and replies (`SET k v` → `OK`, `GET k` → `VALUE v` or `NIL`,
//! errors → `ERR …`) are in `src/lib.rs`.
//!
//! Try it: `cargo run -p framing --bin newline_server`, then in another
//! terminal `nc localhost 4481` and type `SET prez obama`, `GET prez`,
//! `GET vp`, `exit`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::thread;

use anyhow::Context;
use framing::{MAX_LINE, Outcome, Store};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let addr = conventions::listen_addr("127.0.0.1")?;
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    // This server closes connections itself (on `exit`), which leaves them in
    // TIME_WAIT on its port for a minute; SO_REUSEADDR lets a restarted
    // server bind anyway. Ruby's TCPServer.new sets it too (Socket Options).
    listener
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    listener.listen(128).context("listen(2)")?;
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);

    // ANCHOR: accept
    let store = Store::new();
    loop {
        let (connection, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // Out of file descriptors, say: this client is lost, but the
            // server goes on for the next one.
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        let peer = peer.as_socket().map_or("?".into(), |peer| peer.to_string());
        // A thread per connection: each one can block in read(2) on its own
        // client while the others are served.
        let store = store.clone();
        let spawned = thread::Builder::new().spawn(move || {
            if let Err(err) = serve(&connection, &store) {
                eprintln!("{peer}: {err}");
            }
            // `connection` is dropped here: close(2).
        });
        if let Err(err) = spawned {
            eprintln!("cannot start a thread for a new connection: {err}");
        }
    }
    // ANCHOR_END: accept
}

// ANCHOR: serve
/// Answers one line after another until `exit`, EOF or a line over the cap.
fn serve(connection: &Socket, store: &Store) -> std::io::Result<()> {
    // Ruby: connection.gets. A BufReader reads from the kernel in 8 KiB
    // chunks and hands out one line at a time; whatever came after the line
    // (the next requests of a pipelining client) stays in its buffer for the
    // next call.
    let mut reader = BufReader::new(connection);
    let mut writer = connection;
    let mut line = Vec::new();
    loop {
        line.clear();
        // read_until, not read_line: a request is bytes, and read_line
        // would reject a line that is not UTF-8. `take` stops the read after
        // MAX_LINE bytes, newline or not: the cap on what we buffer.
        let n = (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(()); // EOF between requests: the client is done.
        }
        let Some(request) = line.strip_suffix(b"\n") else {
            if n == MAX_LINE {
                return refuse_long_line(connection);
            }
            eprintln!("client closed its side in the middle of a line; {n} bytes dropped");
            return Ok(());
        };
        // The protocol, not the OS, says what ends a line: accept \r\n too.
        let request = request.strip_suffix(b"\r").unwrap_or(request);

        match framing::process(store, request) {
            Outcome::Exit => return Ok(()),
            Outcome::Reply(mut reply) => {
                // Ruby: connection.puts(reply). One write(2) per reply, with
                // the newline in the same buffer (see the Nagle chapter).
                reply.push(b'\n');
                writer.write_all(&reply)?;
            }
        }
    }
}
// ANCHOR_END: serve

// ANCHOR: refuse
/// The client sent MAX_LINE bytes without a newline: say why, then hang up
/// without reading the rest.
fn refuse_long_line(connection: &Socket) -> std::io::Result<()> {
    let mut writer = connection;
    let message = format!("ERR line too long (the limit is {MAX_LINE} bytes, newline included)\n");
    writer.write_all(message.as_bytes())?;
    // Half-close first: the error line and then our FIN are queued in order.
    // The close(2) that follows, with the client's unread bytes still in our
    // receive buffer, makes Linux send a RST, which also stops a client that
    // is still writing — but the client reads our line and FIN first.
    connection.shutdown(Shutdown::Write)?;
    Ok(())
}
// ANCHOR_END: refuse
