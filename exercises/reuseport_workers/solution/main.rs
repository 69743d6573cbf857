//! Exercise (Hybrids): workers that each have their own listener on one
//! port, thanks to SO_REUSEPORT.
//!
//! Reference solution.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, RawFd};
use std::thread;

use anyhow::{Context, bail};
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
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

    let mut threads = Vec::new();
    for (index, listener) in listeners.into_iter().enumerate() {
        threads.push(thread::spawn(move || worker(index, listener)));
    }
    for thread in threads {
        match thread.join() {
            Ok(result) => result?,
            Err(_) => bail!("a worker panicked"),
        }
    }
    Ok(())
}

/// `count` listening sockets on one address and port. With `PORT=0` the
/// first one gets a port from the kernel and the others bind that port.
fn open_listeners(addr: SocketAddr, count: usize) -> anyhow::Result<Vec<Socket>> {
    let mut listeners: Vec<Socket> = Vec::with_capacity(count);
    let mut addr = addr;
    for _ in 0..count {
        let listener =
            Socket::new(Domain::for_address(addr), Type::STREAM, None).context("socket(2)")?;
        // On every socket, before bind: "I agree to share this port".
        listener
            .set_reuse_port(true)
            .context("setsockopt(SO_REUSEPORT)")?;
        listener
            .bind(&SockAddr::from(addr))
            .map_err(|err| conventions::bind_error(addr, err))?;
        listener.listen(1024).context("listen(2)")?;
        listener
            .set_nonblocking(true)
            .context("fcntl(O_NONBLOCK)")?;
        if addr.port() == 0 {
            addr = listener
                .local_addr()?
                .as_socket()
                .context("not an IP socket")?;
        }
        listeners.push(listener);
    }
    Ok(listeners)
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
