//! Many connections, one thread, no waiting at all: a busy loop.
//!
//! An echo server that serves every client at once from a single thread.
//! The listener and every connection are non-blocking, so no call ever puts
//! the thread to sleep. The loop just tries everything, over and over: accept
//! a new connection? read from each connection? write what is still unsent?
//! Whatever would block fails at once with `EAGAIN` (Rust: `WouldBlock`) and
//! the loop moves on to the next socket.
//!
//! It works, and it is the shape of every multiplexing server, but it never
//! rests: with no client at all it still runs flat out, one whole CPU core
//! spent asking the kernel questions whose answer is "not yet". (Measured in
//! the chapter: 100% of a core while idle.) The other `multiplex_*` servers
//! ask the kernel to wait for them instead.
//!
//! It prints `accepted` (with the descriptor number), `closed` or `dropped`
//! once per connection event.
//!
//! Try it: `cargo run -p nonblocking --bin multiplex_busy`, then `nc localhost
//! 4481` in two or three other terminals and type into each; and watch `top`.

use std::io::ErrorKind;
use std::os::fd::AsRawFd;

use anyhow::Context;
use nonblocking::multiplex::{Connection, Status, out_of_descriptors};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    // A connection the server closes first (one it refused, or one still
    // open when you press Ctrl-C) lingers in TIME_WAIT on this port for a
    // minute; without SO_REUSEADDR a restart in that minute fails with
    // EADDRINUSE. (Socket Options has the details.)
    listener
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;
    let addr = conventions::listen_addr("127.0.0.1")?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    // A longer queue than Part 1's 128: a server for many clients should not
    // make a burst of them wait for a retransmitted SYN.
    listener.listen(1024).context("listen(2)")?;
    // ANCHOR: nonblocking_listener
    // The listener too: accept(2) with nobody waiting fails with EAGAIN
    // instead of sleeping (Ruby: accept_nonblock).
    listener
        .set_nonblocking(true)
        .context("fcntl(O_NONBLOCK)")?;
    // ANCHOR_END: nonblocking_listener
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);

    let mut connections: Vec<Connection> = Vec::new();
    // False after accept(2) ran out of file descriptors, until one closes.
    let mut accepting = true;

    // ANCHOR: busy_loop
    loop {
        // 1. A new connection? Take every one that is queued.
        while accepting {
            match listener.accept() {
                Ok((socket, peer)) => {
                    let Some(peer) = peer.as_socket() else {
                        continue;
                    };
                    // An accepted socket does not inherit O_NONBLOCK on
                    // Linux: set it on every connection.
                    if let Err(err) = socket.set_nonblocking(true) {
                        eprintln!("fcntl(O_NONBLOCK) on a connection from {peer}: {err}");
                        continue;
                    }
                    println!("accepted {peer} (fd {})", socket.as_raw_fd());
                    connections.push(Connection::new(socket, peer));
                }
                // Nobody is waiting to be accepted: on to the connections.
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) if out_of_descriptors(&err) => {
                    eprintln!("accept(2): {err}; not accepting until a connection closes");
                    accepting = false;
                }
                Err(err) => {
                    eprintln!("accept(2): {err}");
                    break;
                }
            }
        }

        // 2. Every connection, ready or not: try to read (and echo what
        // arrives), try to write what is still unsent. Whatever would block
        // is skipped until the next time round.
        connections.retain_mut(|connection| {
            // (Not reading during backpressure: see `wants_to_read`.)
            let try_to_read = connection.wants_to_read();
            match connection.serve(try_to_read, true) {
                Ok(Status::Open) => true,
                Ok(Status::Finished) => {
                    println!("closed {}", connection.peer);
                    accepting = true;
                    false
                }
                Err(err) => {
                    println!("dropped {}: {err}", connection.peer);
                    accepting = true;
                    false
                }
            }
        });
        // 3. And round again, at once: this is the busy part.
    }
    // ANCHOR_END: busy_loop
}
