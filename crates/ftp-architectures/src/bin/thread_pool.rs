//! Thread pool: `CONCURRENCY` threads (default 4), started before any client
//! arrives, each calling accept(2) on the same listening socket and serving
//! the connection it gets, then accepting again. It is preforking with
//! threads: the kernel hands each connection to one waiting thread, and at
//! most `CONCURRENCY` clients are served at once while the others wait in
//! the listen queue. Nothing but `std` and the listener.
//!
//! A panic while serving one client is caught, so it ends that connection
//! only: the thread lives on and the pool keeps its size (the thread
//! version of the preforking master replacing a dead worker).
//!
//! Ctrl-C or SIGTERM end the whole process, every thread with it.
//!
//! Prints `Listening on <ip>:<port>`, then `worker <n> serves <peer>` per
//! connection. Exits 1 if it cannot start.
//!
//! Try it: `FTP_ROOT=. cargo run -p ftp-architectures --bin thread_pool`,
//! then in another terminal `curl ftp://127.0.0.1:4481/` or
//! `lftp -p 4481 127.0.0.1`.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;

use anyhow::Context;
use ftp_architectures::Config;
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    anyhow::ensure!(config.concurrency > 0, "CONCURRENCY must be at least 1");

    // Ruby: TCPServer.new(port) — socket(2), bind(2), listen(2).
    let listener =
        Socket::new(Domain::for_address(config.listen), Type::STREAM, None).context("socket(2)")?;
    listener
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;
    listener
        .bind(&SockAddr::from(config.listen))
        .map_err(|err| conventions::bind_error(config.listen, err))?;
    listener.listen(128).context("listen(2)")?;
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);
    eprintln!(
        "serving {} with {} threads",
        config.root.display(),
        config.concurrency
    );

    // ANCHOR: pool
    // Ruby: CONCURRENCY.times { threads.add(spawn_thread) }. Every thread
    // gets a handle (an Arc) on the one listener and the one config.
    let listener = Arc::new(listener);
    let config = Arc::new(config);
    let mut threads = Vec::new();
    for n in 0..config.concurrency {
        let (listener, config) = (Arc::clone(&listener), Arc::clone(&config));
        let thread = thread::Builder::new()
            .name(format!("worker {n}"))
            .spawn(move || work(n, &listener, &config))
            .context("starting a thread")?;
        threads.push(thread);
    }
    // Ruby: sleep. The workers never finish, so main waits here for good;
    // if main returned, the process would exit and take every thread along.
    for thread in threads {
        let _ = thread.join();
    }
    Ok(())
    // ANCHOR_END: pool
}

// ANCHOR: work
/// One thread of the pool: accept, serve, repeat. Several threads block in
/// accept(2) on the same socket; each connection wakes exactly one of them.
fn work(n: usize, listener: &Socket, config: &Config) {
    loop {
        let (connection, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("worker {n}: accept(2) failed: {err}");
                continue;
            }
        };
        if let Some(peer) = peer.as_socket() {
            println!("worker {n} serves {peer}");
        }
        // A panic would otherwise end this thread and shrink the pool for
        // good. The handler holds no state shared with other threads, so
        // nothing can be left half-changed by unwinding out of it.
        let served = panic::catch_unwind(AssertUnwindSafe(|| {
            ftp_architectures::serve_connection(connection, config)
        }));
        match served {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("worker {n}: connection ended: {err}"),
            Err(_) => eprintln!("worker {n}: the handler panicked; connection closed"),
        }
    }
}
// ANCHOR_END: work
