//! The evented architecture (the reactor pattern): one process, one thread,
//! one epoll instance, and every client a small state machine. The thread
//! only ever waits in epoll_wait(2); every socket is non-blocking, so no
//! client, however slow, can make the others wait. Linux only.
//!
//! The reactor itself (the event loop and the per-connection state machine)
//! is `src/reactor.rs`, because the `hybrid` server runs the very same one
//! in each of its worker processes. This file sets the stage: it raises the
//! open file limit, makes the listener non-blocking, and starts the loop.
//!
//! Try it: `FTP_ROOT=. cargo run -p ftp-architectures --bin evented`, then
//! in other terminals `curl ftp://127.0.0.1:4481/` (a listing) or
//! `lftp -p 4481 127.0.0.1`, as many at once as you like.
//!
//! Ctrl-C or SIGTERM end it: their default action terminates the process,
//! and the kernel closes every connection it held.

#[cfg(target_os = "linux")]
fn main() -> anyhow::Result<()> {
    linux::main()
}

#[cfg(not(target_os = "linux"))]
fn main() -> anyhow::Result<()> {
    anyhow::bail!("the evented server uses epoll, which is Linux only")
}

#[cfg(target_os = "linux")]
mod linux {
    use anyhow::Context;
    use ftp_architectures::Config;
    use ftp_architectures::reactor::Reactor;
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    use socket2::{Domain, SockAddr, Socket, Type};

    pub fn main() -> anyhow::Result<()> {
        let config = Config::from_env()?;

        // ANCHOR: rlimit
        // Every client is a descriptor (two during a transfer), and a soft
        // limit of 1024 open files is common. Any process may raise its soft
        // limit up to the hard one: do that first.
        let (_soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit(2)")?;
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).context("setrlimit(2)")?;
        // ANCHOR_END: rlimit

        // ANCHOR: listen
        // Ruby: TCPServer.new(port) — socket(2), bind(2), listen(2).
        let listener = Socket::new(Domain::for_address(config.listen), Type::STREAM, None)
            .context("socket(2)")?;
        listener
            .set_reuse_address(true)
            .context("setsockopt(SO_REUSEADDR)")?;
        listener
            .bind(&SockAddr::from(config.listen))
            .map_err(|err| conventions::bind_error(config.listen, err))?;
        // A long accept queue: a burst of clients waits here until the loop
        // comes round to the listener.
        listener.listen(1024).context("listen(2)")?;
        // Readable listener means "accept(2) will not block"; but a client
        // may give up between the two, so accept must be non-blocking too.
        listener
            .set_nonblocking(true)
            .context("fcntl(O_NONBLOCK)")?;
        // ANCHOR_END: listen
        let local = listener
            .local_addr()?
            .as_socket()
            .context("not an IP socket")?;

        // ANCHOR: run
        eprintln!("serving {}", config.root.display());
        let mut reactor = Reactor::new(listener, config)?;
        eprintln!("room for {} clients at once", reactor.capacity());
        conventions::announce(local);
        reactor.run()
        // ANCHOR_END: run
    }
}
