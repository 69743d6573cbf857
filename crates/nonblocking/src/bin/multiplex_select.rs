//! Many connections, one thread, waiting in select(2).
//!
//! The echo server of `multiplex_busy`, but instead of trying every socket
//! over and over, it hands the kernel two sets of descriptors: "tell me when
//! any of these is readable, or any of those writable", and sleeps in
//! select(2) until one is. Then it serves exactly the sockets the kernel
//! named. This is Ruby's `IO.select(readers, writers)`. Idle, it uses no CPU.
//!
//! select's sets are fixed-size bitmaps (`fd_set`) with one bit per
//! descriptor number, FD_SETSIZE = 1024 bits. A connection whose descriptor
//! is 1024 or higher cannot be put in a set at all, so this server refuses
//! it: it writes one line to the client, closes the connection, and goes on
//! serving everyone else.
//!
//! It prints `accepted` (with the descriptor number), `closed`, `dropped` or
//! `refused` once per connection event.
//!
//! Try it: `cargo run -p nonblocking --bin multiplex_select`, then `nc
//! localhost 4481` in two or three other terminals and type into each.

use std::io::{ErrorKind, Write};
use std::os::fd::{AsFd, AsRawFd};

use anyhow::Context;
use nix::errno::Errno;
use nix::sys::select::{FD_SETSIZE, FdSet, select};
use nonblocking::multiplex::{Connection, Status, out_of_descriptors, raise_open_file_limit};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    // Without this, a system whose soft limit is 1024 would stop us with
    // EMFILE before any descriptor reached FD_SETSIZE.
    let limit = raise_open_file_limit().context("raising RLIMIT_NOFILE")?;

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
    listener.listen(1024).context("listen(2)")?;
    listener
        .set_nonblocking(true)
        .context("fcntl(O_NONBLOCK)")?;
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);
    // Not a per-connection line, so it goes to stderr.
    eprintln!("open file limit: {limit}; select(2) watches descriptors below {FD_SETSIZE} only");

    let mut connections: Vec<Connection> = Vec::new();
    let mut accepting = true;

    loop {
        // ANCHOR: build_sets
        // Ruby: IO.select(readers, writers). Both sets are rebuilt before
        // every call, because select(2) overwrites them with its answer.
        let mut readers = FdSet::new();
        let mut writers = FdSet::new();
        // select(2) needs the highest descriptor in any set, plus one: the
        // kernel scans bits 0 up to there, for every call.
        let mut highest = listener.as_raw_fd();
        if accepting {
            readers.insert(listener.as_fd());
        }
        for connection in &connections {
            let fd = connection.socket.as_fd();
            if connection.wants_to_read() {
                readers.insert(fd);
            }
            if connection.wants_to_write() {
                writers.insert(fd);
            }
            highest = highest.max(fd.as_raw_fd());
        }
        // ANCHOR_END: build_sets

        // ANCHOR: select
        // Sleep until at least one descriptor is ready. No timeout (None):
        // Ruby's IO.select without its fourth argument.
        match select(highest + 1, &mut readers, &mut writers, None, None) {
            Ok(_ready_count) => {}
            // A signal interrupted the wait: wait again.
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err).context("select(2)"),
        }

        // On return, each set holds only the descriptors that are ready.
        // Finding them means testing every connection's bit: O(n) again.
        let new_connections = readers.contains(listener.as_fd());
        let ready: Vec<(bool, bool)> = connections
            .iter()
            .map(|connection| {
                let fd = connection.socket.as_fd();
                (readers.contains(fd), writers.contains(fd))
            })
            .collect();
        // ANCHOR_END: select
        // (`ready` is collected first because the sets borrow the sockets,
        // and serving a connection needs it mutably.)

        // ANCHOR: serve
        let mut ready = ready.into_iter();
        connections.retain_mut(|connection| {
            let (readable, writable) = ready.next().unwrap_or((false, false));
            if !readable && !writable {
                return true;
            }
            match connection.serve(readable, writable) {
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
        // ANCHOR_END: serve

        if new_connections {
            while accepting {
                match listener.accept() {
                    Ok((socket, peer)) => {
                        let Some(peer) = peer.as_socket() else {
                            continue;
                        };
                        if let Err(err) = socket.set_nonblocking(true) {
                            eprintln!("fcntl(O_NONBLOCK) on a connection from {peer}: {err}");
                            continue;
                        }
                        // ANCHOR: refuse
                        // FD_SET with a descriptor ≥ FD_SETSIZE writes past
                        // the end of the bitmap: undefined behaviour in C,
                        // a panic in nix. So this connection never goes near
                        // an FdSet. We tell the client why and close it.
                        let fd = socket.as_raw_fd();
                        if fd as usize >= FD_SETSIZE {
                            let reason = format!(
                                "descriptor {fd} does not fit in select's fd_set (FD_SETSIZE is {FD_SETSIZE})"
                            );
                            // One short line into an empty send buffer: this
                            // write does not block. If it fails, the client
                            // has gone anyway.
                            let _ =
                                (&socket).write_all(format!("server full: {reason}\n").as_bytes());
                            println!("refused {peer}: {reason}");
                            continue; // `socket` is dropped: close(2)
                        }
                        // ANCHOR_END: refuse
                        println!("accepted {peer} (fd {fd})");
                        connections.push(Connection::new(socket, peer));
                    }
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
        }
    }
}
