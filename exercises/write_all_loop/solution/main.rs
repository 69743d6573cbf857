//! Exercise (Sockets Can Write): write it all, however many calls it takes.
//!
//! Reference solution.

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
    let mut written = 0;
    let mut calls = 0;
    while written < buf.len() {
        // Offer only what is left: the kernel may take any part of it.
        match socket.write(&buf[written..]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "write(2) took 0 bytes",
                ));
            }
            Ok(n) => {
                written += n;
                calls += 1;
                println!("write(2) took {n} bytes");
            }
            // A signal arrived before any byte was taken: nothing happened.
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
    Ok(calls)
}
