//! Exercise (Hybrids): workers that each have their own listener on one
//! port, thanks to SO_REUSEPORT.
//!
//! nginx (with `listen ... reuseport`) and many other servers give every
//! worker a listening socket of its own, all bound to the same port. The
//! kernel then spreads new connections over the listeners by a hash of each
//! connection's addresses and ports, so the workers never compete for one
//! accept queue. This server does that with threads: `WORKERS` of them
//! (default: one per core), each running the small echo reactor `worker`
//! below (complete, nothing to do there) on its own listener.
//!
//! Your part:
//! - `open_listeners`: `count` listening sockets on `addr`, all on the same
//!   port. A second bind to a port in use fails with EADDRINUSE unless
//!   *every* socket on it, the first included, set SO_REUSEPORT before its
//!   bind. With `PORT=0` the first bind gets a port from the kernel: the
//!   others must bind to that port, not to 0 (which would give each its own).
//!   Each listener must also be non-blocking, as `worker` expects.
//! - `main`: run `worker(index, listener)` for each listener on a thread of
//!   its own, and wait for them (they run until the process is stopped).
//!
//! The tests check that the kernel lists `WORKERS` listening sockets on the
//! port (`ss -ltn` shows them too), that each client is greeted by a worker
//! with `worker <index>`, that with 200 clients every worker gets some, and
//! that every worker echoes.
//!
//! Run the tests with `just exercise reuseport_workers`
//! (or `cargo test -p reuseport_workers` inside `exercises/`).
//! Stuck? `just hint reuseport_workers`.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, RawFd};
use std::thread;

use anyhow::{Context, bail};
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
// The solution uses these; the allow keeps the unsolved file free of warnings.
#[allow(unused_imports)]
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let addr = conventions::listen_addr("127.0.0.1")?;
    let workers = worker_count()?;

    let listeners = open_listeners(addr, workers)?;
    let local = listeners[0]
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);

    // TODO 2: for each listener (with its index), start a thread that runs
    //         `worker(index, listener)`; then join every thread, and return
    //         the first error a worker returns.
    todo!("one thread per listener")
}

/// `count` listening sockets on one address and port. With `PORT=0` the
/// first one gets a port from the kernel and the others bind that port.
fn open_listeners(addr: SocketAddr, count: usize) -> anyhow::Result<Vec<Socket>> {
    // TODO 1: `count` times: Socket::new, set_reuse_port(true) (before
    //         bind!), bind to `addr`, listen, set_nonblocking(true). With
    //         port 0, bind the later sockets to the port the first one got
    //         (its `local_addr()`).
    todo!("{count} listeners on {addr}")
}

/// `WORKERS` from the environment, or one per core.
fn worker_count() -> anyhow::Result<usize> {
    let count = match std::env::var("WORKERS") {
        Ok(text) => text
            .trim()
            .parse()
            .with_context(|| format!("WORKERS={text:?} is not a number"))?,
        Err(_) => thread::available_parallelism().map_or(1, NonZeroUsize::get),
    };
    if count == 0 {
        bail!("WORKERS must be at least 1");
    }
    Ok(count)
}

#[allow(dead_code)] // until main starts the workers
/// One worker: a reactor of its own (its own epoll, its own listener) that
/// greets each client with `worker <index>` and echoes what it sends.
fn worker(index: usize, listener: Socket) -> anyhow::Result<()> {
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create1(2)")?;
    let listener_key = listener.as_raw_fd() as u64;
    epoll
        .add(
            &listener,
            EpollEvent::new(EpollFlags::EPOLLIN, listener_key),
        )
        .context("epoll_ctl(EPOLL_CTL_ADD)")?;
    // Each client's socket, and the bytes it has not taken yet.
    let mut clients: HashMap<RawFd, (Socket, Vec<u8>)> = HashMap::new();
    let mut events = vec![EpollEvent::empty(); 64];
    loop {
        let ready = match epoll.wait(&mut events, EpollTimeout::NONE) {
            Ok(ready) => ready,
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err).context("epoll_wait(2)"),
        };
        for event in &events[..ready] {
            if event.data() == listener_key {
                while let Ok((socket, _)) = listener.accept() {
                    let fd = socket.as_raw_fd();
                    let mut unsent = format!("worker {index}\n").into_bytes();
                    if socket.set_nonblocking(true).is_err() || flush(&socket, &mut unsent).is_err()
                    {
                        continue;
                    }
                    let event = EpollEvent::new(interest(&unsent), fd as u64);
                    if epoll.add(&socket, event).is_ok() {
                        clients.insert(fd, (socket, unsent));
                    }
                }
                continue;
            }
            let fd = event.data() as RawFd;
            let Some((socket, unsent)) = clients.get_mut(&fd) else {
                continue;
            };
            if serve(socket, unsent).is_err() {
                let _ = epoll.delete(&*socket);
                clients.remove(&fd);
                continue;
            }
            let mut event = EpollEvent::new(interest(unsent), fd as u64);
            let _ = epoll.modify(&*socket, &mut event);
        }
    }
}

/// Reads what is there (unless too much is unsent) and echoes it. An
/// error, or the client closing, ends the connection.
fn serve(socket: &mut Socket, unsent: &mut Vec<u8>) -> std::io::Result<()> {
    if unsent.len() < 64 * 1024 {
        let mut chunk = [0u8; 4096];
        match socket.read(&mut chunk) {
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => unsent.extend_from_slice(&chunk[..n]),
            Err(err) if err.kind() == ErrorKind::WouldBlock => {}
            Err(err) => return Err(err),
        }
    }
    flush(socket, unsent)
}

/// Writes what the socket takes now.
fn flush(mut socket: &Socket, unsent: &mut Vec<u8>) -> std::io::Result<()> {
    while !unsent.is_empty() {
        match socket.write(unsent) {
            Ok(n) => drop(unsent.drain(..n)),
            Err(err) if err.kind() == ErrorKind::WouldBlock => break,
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Readable while the client reads its echo; writable while some is unsent.
fn interest(unsent: &[u8]) -> EpollFlags {
    if unsent.is_empty() {
        EpollFlags::EPOLLIN
    } else if unsent.len() < 64 * 1024 {
        EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT
    } else {
        EpollFlags::EPOLLOUT
    }
}
