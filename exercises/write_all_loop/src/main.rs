//! Exercise (Sockets Can Write): write it all, however many calls it takes.
//!
//! One `write` is one write(2) call, and the kernel may take fewer bytes
//! than it was given: it returns how many it took, and the rest is yours to
//! send again. `Write::write_all` is the loop that deals with this; here you
//! write that loop yourself.
//!
//! This server sends 1 MiB to each client. Its socket has a small send
//! buffer and a 1-second send timeout, so when the client reads slowly, a
//! write(2) returns after the timeout with only part of what it was given.
//!
//! The contract the tests check:
//! - binds `127.0.0.1` on `PORT`, prints `Listening on <ip>:<port>`, sends
//!   each client the payload and prints `sent 1048576 bytes to <peer>, write
//!   calls: K` (all done for you below, around your `write_all`);
//! - `write_all` sends every byte of `buf`, in order, exactly once, calling
//!   `write` (never `write_all`) as often as it takes, and returns the
//!   number of `write` calls that took bytes;
//! - it prints `write(2) took N bytes` after each such call;
//! - `write` returning `Ok(0)` means the kernel will take nothing more:
//!   return an error of kind `ErrorKind::WriteZero`;
//! - an error of kind `ErrorKind::Interrupted` (a signal arrived before
//!   any byte was taken) means "call `write` again";
//! - any other error (the client has gone: `EPIPE`, `ECONNRESET`; or the
//!   send timeout expired with nothing taken: `WouldBlock`) is returned, so
//!   the server reports it and serves the next client.
//!
//! Try it: `cargo run -p write_all_loop` inside `exercises/`, then in
//! another terminal `nc localhost 4481 </dev/null | wc -c`: it prints 1048576.
//!
//! Run the tests with `just exercise write_all_loop`
//! (or `cargo test -p write_all_loop` inside `exercises/`).
//! Stuck? `just hint write_all_loop`.

// These are the imports the solution uses; the allow keeps the unsolved
// file free of warnings until you use them.
#[allow(unused_imports)]
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

/// What each client is sent: 1 MiB, far more than the buffers below hold.
const PAYLOAD_LEN: usize = 1024 * 1024;

fn main() -> anyhow::Result<()> {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
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

    // Bytes 0, 1, …, 250, 0, 1, …: a lost, repeated or reordered piece shows.
    let payload: Vec<u8> = (0..PAYLOAD_LEN).map(|i| (i % 251) as u8).collect();

    loop {
        let (connection, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        let peer = peer.as_socket().context("not an IP peer")?;

        // A small, fixed send buffer, and a send timeout (SO_SNDTIMEO) like
        // many production servers set so that a stalled client cannot hold
        // them forever. A blocking write(2) that has taken some bytes when
        // the timeout expires returns that count: a partial write.
        connection
            .set_send_buffer_size(16 * 1024)
            .context("setsockopt(SO_SNDBUF)")?;
        connection
            .set_write_timeout(Some(Duration::from_secs(1)))
            .context("setsockopt(SO_SNDTIMEO)")?;

        match write_all(&connection, &payload) {
            Ok(calls) => println!(
                "sent {} bytes to {peer}, write calls: {calls}",
                payload.len()
            ),
            Err(err) => eprintln!("sending to {peer} failed: {err}"),
        }
        // `connection` is dropped here: close(2).
    }
}

/// Writes all of `buf` to `socket` with as many write(2) calls as it takes,
/// printing what each call took. Returns the number of calls that took bytes.
fn write_all(mut socket: &Socket, buf: &[u8]) -> io::Result<usize> {
    // (`&Socket` implements `Write`, so `socket.write(…)` works on it.)
    // TODO: keep track of how much of `buf` has been written.
    // TODO: while something is left: call `socket.write` with what is left
    //       and handle its four outcomes (see the contract above).
    let _ = (&mut socket, buf);
    todo!("write {} bytes with a loop over write(2)", buf.len())
}
