//! Many connections, one thread, waiting in poll(2).
//!
//! The echo server of `multiplex_select`, with select's bitmaps replaced by
//! an array: one `struct pollfd { fd, events, revents }` per descriptor we
//! care about. `events` says what we wait for (POLLIN: readable, POLLOUT:
//! writable); the kernel fills in `revents` with what happened. There is no
//! FD_SETSIZE: any descriptor number fits, as many as the open file limit
//! allows. What poll keeps from select is the cost: the whole array goes to
//! the kernel and back on every call, and both sides walk all of it.
//!
//! It prints `accepted` (with the descriptor number), `closed` or `dropped`
//! once per connection event.
//!
//! Try it: `cargo run -p nonblocking --bin multiplex_poll`, then `nc
//! localhost 4481` in two or three other terminals and type into each.

use std::io::ErrorKind;
use std::os::fd::{AsFd, AsRawFd};

use anyhow::Context;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nonblocking::multiplex::{Connection, Status, out_of_descriptors, raise_open_file_limit};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    // poll(2) has no descriptor limit of its own; the process's open file
    // limit is the only one left, so raise it as far as we may.
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
    eprintln!("open file limit: {limit}");

    let mut connections: Vec<Connection> = Vec::new();
    let mut accepting = true;

    loop {
        // ANCHOR: build_pollfds
        // One entry per descriptor, rebuilt for every call: entry 0 is the
        // listener, entry i + 1 is connections[i].
        let listener_events = if accepting {
            PollFlags::POLLIN
        } else {
            // An entry with no events: poll(2) ignores it (it would still
            // report an error on it, which a listener does not have).
            PollFlags::empty()
        };
        let mut pollfds = vec![PollFd::new(listener.as_fd(), listener_events)];
        for connection in &connections {
            let mut events = PollFlags::empty();
            if connection.wants_to_read() {
                events |= PollFlags::POLLIN;
            }
            if connection.wants_to_write() {
                events |= PollFlags::POLLOUT;
            }
            pollfds.push(PollFd::new(connection.socket.as_fd(), events));
        }
        // ANCHOR_END: build_pollfds

        // ANCHOR: poll
        // Sleep until at least one entry has something to report.
        match poll(&mut pollfds, PollTimeout::NONE) {
            Ok(_ready_count) => {}
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err).context("poll(2)"),
        }
        // What happened to each entry. The kernel always reports POLLERR
        // (an error is pending) and POLLHUP (the peer is gone), asked for or
        // not; a read or write on such a socket returns the error or EOF, so
        // both count as "readable".
        let revents: Vec<PollFlags> = pollfds
            .iter()
            .map(|pollfd| pollfd.revents().unwrap_or(PollFlags::empty()))
            .collect();
        // ANCHOR_END: poll
        // (`revents` is collected first because the entries borrow the
        // sockets, and serving a connection needs it mutably.)

        // ANCHOR: serve
        let readable_flags = PollFlags::POLLIN | PollFlags::POLLERR | PollFlags::POLLHUP;
        let mut connection_revents = revents[1..].iter();
        connections.retain_mut(|connection| {
            let revents = connection_revents
                .next()
                .copied()
                .unwrap_or(PollFlags::empty());
            if revents.is_empty() {
                return true;
            }
            let readable = revents.intersects(readable_flags);
            let writable = revents.contains(PollFlags::POLLOUT);
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

        if revents[0].contains(PollFlags::POLLIN) {
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
                        println!("accepted {peer} (fd {})", socket.as_raw_fd());
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
