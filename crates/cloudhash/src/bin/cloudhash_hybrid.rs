//! CloudHash on the hybrid architecture: several worker threads, each
//! running its own event loop over its own connections. Linux only.
//!
//! One event loop (`cloudhash_evented`) uses one core however many the
//! machine has. The hybrid runs `WORKERS` of them (default: one per core),
//! all serving one shared store (`framing::Store`, a map behind a mutex).
//! Each worker has its own epoll instance and its own listening socket, all
//! bound to the same port with `SO_REUSEPORT`: the kernel spreads incoming
//! connections over the listeners (by a hash of the client's address and
//! port), so the workers never touch each other's connections and need no
//! lock but the store's. A connection stays with the worker that accepted it.
//!
//! The protocol, the caps and the batching are `cloudhash_evented`'s: both
//! run the event loop in `src/reactor.rs` (see that binary's doc; this
//! crate depends on `framing` for the store and request handling).
//!
//! Try it: `WORKERS=4 cargo run -p cloudhash --bin cloudhash_hybrid`, then
//! `nc localhost 4481` in a few terminals: a value set in one is there in
//! the others, whichever worker serves them.

#[cfg(target_os = "linux")]
fn main() -> anyhow::Result<()> {
    use std::sync::mpsc;
    use std::thread;

    use anyhow::Context;
    use framing::Store;

    let workers = workers()?;
    let addr = conventions::listen_addr("127.0.0.1")?;
    // ANCHOR: listeners
    // The first listener may be asked for port 0; the others must then bind
    // the port the kernel chose for it.
    let first = listener(addr).map_err(|err| conventions::bind_error(addr, err))?;
    let local = first
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    let mut listeners = vec![first];
    for _ in 1..workers {
        listeners.push(listener(local).map_err(|err| conventions::bind_error(local, err))?);
    }
    // ANCHOR_END: listeners

    // ANCHOR: workers
    let store = Store::new();
    let (ended_tx, ended_rx) = mpsc::channel();
    for (i, listener) in listeners.into_iter().enumerate() {
        let store = store.clone();
        let ended = ended_tx.clone();
        thread::Builder::new()
            .name(format!("worker {i}"))
            .spawn(move || {
                let result = cloudhash::reactor::run(listener, store);
                let _ = ended.send((i, result));
            })
            .context("starting a worker thread")?;
    }
    // Every worker is running: ready.
    conventions::announce(local);
    eprintln!("{workers} workers, each with its own listener and event loop");
    // A worker returns only if its event loop failed. Rather than go on
    // with fewer workers (and connections that hang on a dead listener),
    // stop the whole server.
    match ended_rx.recv() {
        Ok((i, Err(err))) => Err(err.context(format!("worker {i} stopped"))),
        Ok((i, Ok(()))) => anyhow::bail!("worker {i} stopped"),
        Err(_) => anyhow::bail!("every worker stopped"),
    }
    // ANCHOR_END: workers
}

/// A listening socket on `addr` that other sockets may bind too.
#[cfg(target_os = "linux")]
fn listener(addr: std::net::SocketAddr) -> std::io::Result<socket2::Socket> {
    use socket2::{Domain, SockAddr, Socket, Type};

    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    // ANCHOR: reuseport
    // SO_REUSEPORT: every socket with this option set, of the same user, may
    // bind the same address and port; the kernel then hands each new
    // connection to one of them.
    socket.set_reuse_port(true)?;
    // ANCHOR_END: reuseport
    socket.bind(&SockAddr::from(addr))?;
    socket.listen(1024)?;
    Ok(socket)
}

/// `WORKERS` from the environment, default: the number of CPUs.
#[cfg(target_os = "linux")]
fn workers() -> anyhow::Result<usize> {
    use anyhow::Context;

    let Ok(text) = std::env::var("WORKERS") else {
        return Ok(std::thread::available_parallelism().map_or(2, |n| n.get()));
    };
    let workers: usize = text
        .trim()
        .parse()
        .with_context(|| format!("WORKERS={text:?} is not a whole number"))?;
    if !(1..=256).contains(&workers) {
        anyhow::bail!("WORKERS must be between 1 and 256");
    }
    Ok(workers)
}

#[cfg(not(target_os = "linux"))]
fn main() -> anyhow::Result<()> {
    anyhow::bail!("cloudhash_hybrid uses epoll, which is Linux only")
}
