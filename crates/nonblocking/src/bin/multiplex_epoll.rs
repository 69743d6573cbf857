//! Many connections, one thread, waiting in epoll_wait(2). Linux only.
//!
//! select(2) and poll(2) take the whole list of descriptors on every call,
//! and the kernel walks all of it, however few are ready. epoll splits that
//! in two. The *interest list* lives in the kernel: epoll_ctl(2) adds,
//! changes or removes one descriptor when something about it changes (a new
//! connection, output to flush, a closed client). epoll_wait(2) then returns
//! only the *ready list*: the descriptors that have something to report,
//! which the kernel collects as packets arrive. A wait costs the same with
//! ten idle connections or ten thousand.
//!
//! This server holds thousands of connections: it starts by raising its open
//! file limit to the hard limit. It uses epoll's default, level-triggered
//! mode: a socket is reported as long as it is ready, not only when it
//! becomes ready, so reading just once per report loses nothing.
//!
//! It prints `accepted` (with the descriptor number), `closed` or `dropped`
//! once per connection event.
//!
//! Try it: `cargo run -p nonblocking --bin multiplex_epoll`, then `nc
//! localhost 4481` in two or three other terminals and type into each.

#[cfg(target_os = "linux")]
fn main() -> anyhow::Result<()> {
    linux::main()
}

#[cfg(not(target_os = "linux"))]
fn main() -> anyhow::Result<()> {
    anyhow::bail!("epoll is Linux only; try multiplex_poll instead")
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::HashMap;
    use std::io::ErrorKind;
    use std::os::fd::{AsRawFd, RawFd};

    use anyhow::Context;
    use nix::errno::Errno;
    use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
    use nonblocking::multiplex::{Connection, Status, out_of_descriptors, raise_open_file_limit};
    use socket2::{Domain, SockAddr, Socket, Type};

    pub fn main() -> anyhow::Result<()> {
        // Every connection is a descriptor; 1024 is a common soft limit.
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

        // ANCHOR: create
        // epoll_create1(2): a new, empty interest list, itself a descriptor.
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create1(2)")?;
        // epoll_ctl(EPOLL_CTL_ADD): watch the listener for readability. The
        // u64 is ours to choose; the kernel hands it back with each event.
        // We use the descriptor number, which is unique while it is open.
        let listening = EpollEvent::new(EpollFlags::EPOLLIN, key(&listener));
        epoll
            .add(&listener, listening)
            .context("epoll_ctl(EPOLL_CTL_ADD) for the listener")?;
        // ANCHOR_END: create

        conventions::announce(local);
        eprintln!("open file limit: {limit}");

        let mut server = Server {
            epoll,
            listener,
            connections: HashMap::new(),
            accepting: true,
        };
        // ANCHOR: wait
        // Room for up to 256 events per wait; more stay queued for the next.
        let mut events = vec![EpollEvent::empty(); 256];
        loop {
            // Sleep until something on the interest list is ready; the
            // kernel copies out only the ready ones.
            let ready_count = match server.epoll.wait(&mut events, EpollTimeout::NONE) {
                Ok(count) => count,
                Err(Errno::EINTR) => continue,
                Err(err) => return Err(err).context("epoll_wait(2)"),
            };
            for event in &events[..ready_count] {
                let fd = event.data() as RawFd;
                if fd == server.listener.as_raw_fd() {
                    server.accept_all()?;
                } else {
                    server.serve(fd, event.events())?;
                }
            }
        }
        // ANCHOR_END: wait
    }

    /// Everything the loop works on.
    struct Server {
        epoll: Epoll,
        listener: Socket,
        /// Keyed by descriptor number, the key each event carries.
        connections: HashMap<RawFd, Watched>,
        /// False after accept(2) ran out of descriptors, until one closes.
        accepting: bool,
    }

    /// A connection and what we last told epoll to watch it for.
    struct Watched {
        connection: Connection,
        interest: EpollFlags,
    }

    impl Server {
        // ANCHOR: accept
        /// Accepts every queued connection and puts it on the interest list.
        fn accept_all(&mut self) -> anyhow::Result<()> {
            while self.accepting {
                let (socket, peer) = match self.listener.accept() {
                    Ok(accepted) => accepted,
                    Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                    Err(err) if out_of_descriptors(&err) => {
                        eprintln!("accept(2): {err}; not accepting until a connection closes");
                        // Level-triggered, the listener would be reported
                        // again at once: stop watching it for now.
                        return self.set_accepting(false);
                    }
                    Err(err) => {
                        eprintln!("accept(2): {err}");
                        break;
                    }
                };
                let Some(peer) = peer.as_socket() else {
                    continue;
                };
                if let Err(err) = socket.set_nonblocking(true) {
                    eprintln!("fcntl(O_NONBLOCK) on a connection from {peer}: {err}");
                    continue;
                }
                // Level-triggered (no EPOLLET): the socket is reported for
                // as long as there is something to read.
                let interest = EpollFlags::EPOLLIN;
                let event = EpollEvent::new(interest, key(&socket));
                if let Err(err) = self.epoll.add(&socket, event) {
                    eprintln!("epoll_ctl(EPOLL_CTL_ADD) for {peer}: {err}");
                    continue;
                }
                let fd = socket.as_raw_fd();
                println!("accepted {peer} (fd {fd})");
                let connection = Connection::new(socket, peer);
                self.connections.insert(
                    fd,
                    Watched {
                        connection,
                        interest,
                    },
                );
            }
            Ok(())
        }
        // ANCHOR_END: accept

        // ANCHOR: serve
        /// Serves the connection an event is about, then tells the kernel
        /// what to watch it for next, if that changed.
        fn serve(&mut self, fd: RawFd, flags: EpollFlags) -> anyhow::Result<()> {
            // A descriptor closed earlier in this same batch of events. (A
            // connection accepted since may already reuse the number; serving
            // it once too often is harmless: reading or writing just gets
            // EAGAIN.)
            let Some(watched) = self.connections.get_mut(&fd) else {
                return Ok(());
            };
            // EPOLLERR and EPOLLHUP are always reported, asked for or not; a
            // read then returns the error or EOF.
            let readable =
                flags.intersects(EpollFlags::EPOLLIN | EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP);
            let writable = flags.contains(EpollFlags::EPOLLOUT);
            let peer = watched.connection.peer;
            match watched.connection.serve(readable, writable) {
                Ok(Status::Open) => {}
                Ok(Status::Finished) => return self.close(fd, format!("closed {peer}")),
                Err(err) => return self.close(fd, format!("dropped {peer}: {err}")),
            }

            // Level-triggered epoll must not be asked about writability while
            // there is nothing to write (an idle socket is nearly always
            // writable: we would be woken for nothing, over and over), nor
            // about readability during backpressure.
            let mut interest = EpollFlags::empty();
            if watched.connection.wants_to_read() {
                interest |= EpollFlags::EPOLLIN;
            }
            if watched.connection.wants_to_write() {
                interest |= EpollFlags::EPOLLOUT;
            }
            // The interest list is in the kernel: tell it only what changed.
            if interest != watched.interest {
                let mut event = EpollEvent::new(interest, key(&watched.connection.socket));
                if let Err(err) = self.epoll.modify(&watched.connection.socket, &mut event) {
                    return self.close(
                        fd,
                        format!("dropped {peer}: epoll_ctl(EPOLL_CTL_MOD): {err}"),
                    );
                }
                watched.interest = interest;
            }
            Ok(())
        }
        // ANCHOR_END: serve

        /// Takes a connection off the interest list (epoll_ctl(EPOLL_CTL_DEL))
        /// and closes it. (Closing alone would take it off too; we say it.)
        fn close(&mut self, fd: RawFd, line: String) -> anyhow::Result<()> {
            if let Some(watched) = self.connections.remove(&fd) {
                let _ = self.epoll.delete(&watched.connection.socket);
                // `watched` is dropped here: close(2).
            }
            println!("{line}");
            if self.accepting {
                Ok(())
            } else {
                // A descriptor is free again.
                self.set_accepting(true)
            }
        }

        /// Starts or stops watching the listener (an empty event set means
        /// "stay on the list, but report nothing").
        fn set_accepting(&mut self, accepting: bool) -> anyhow::Result<()> {
            self.accepting = accepting;
            let flags = if accepting {
                EpollFlags::EPOLLIN
            } else {
                EpollFlags::empty()
            };
            let mut event = EpollEvent::new(flags, key(&self.listener));
            self.epoll
                .modify(&self.listener, &mut event)
                .context("epoll_ctl(EPOLL_CTL_MOD) for the listener")
        }
    }

    /// The u64 stored with a descriptor on the interest list: its number.
    fn key(socket: &Socket) -> u64 {
        socket.as_raw_fd() as u64
    }
}
