//! Thread per connection: the main thread accepts each connection and starts
//! a thread to serve it; the thread serves that one client and ends, while
//! the main thread goes straight back to accept(2).
//!
//! Threads share the process's memory, so nothing is copied and nothing has
//! to be reaped: a Rust thread that is not joined is detached, and the
//! kernel frees it when it ends. What is left to do by hand is the cap: at
//! most `MAX_CONNECTIONS` (default 64) threads serve at once, and a client
//! past the cap gets `421` and is closed. The count is an atomic counter
//! whose slot is given back by a guard's `Drop`, so it is given back however
//! the thread ends, a panic included.
//!
//! Ctrl-C or SIGTERM end the whole process, every thread with it: their
//! default action is to terminate the process, and threads are not processes.
//!
//! Prints `Listening on <ip>:<port>`, then `thread serves <peer> (<n> of
//! <max>)` per connection, `<peer> done (<n> live)` when its thread is done,
//! and `refused <peer>: MAX_CONNECTIONS (<max>) reached`. Exits 1 if it
//! cannot start.
//!
//! Try it: `FTP_ROOT=. cargo run -p ftp-architectures --bin thread_per_connection`,
//! then in another terminal `curl ftp://127.0.0.1:4481/` or
//! `lftp -p 4481 127.0.0.1`.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use anyhow::Context;
use ftp_architectures::{Config, Reply};
use socket2::{Domain, SockAddr, Socket, Type};

// ANCHOR: slot
/// One of the `MAX_CONNECTIONS` places. Taking one counts the connection;
/// dropping it, which Rust does when its thread ends in any way (a return,
/// an early `?`, or unwinding from a panic), gives the place back.
struct Slot {
    live: Arc<AtomicUsize>,
}

impl Slot {
    /// A slot, or `None` if `max` are taken. `fetch_update` makes "check and
    /// increment" one atomic step, so two threads could never both take the
    /// last place.
    fn take(live: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        live.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()?;
        Some(Slot {
            live: Arc::clone(live),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}
// ANCHOR_END: slot

fn main() -> anyhow::Result<()> {
    // Shared, read-only, by every thread: an Arc gives each its own handle.
    let config = Arc::new(Config::from_env()?);

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
        "serving {} with at most {} threads",
        config.root.display(),
        config.max_connections
    );

    let live = Arc::new(AtomicUsize::new(0));

    // ANCHOR: accept_loop
    loop {
        // Ruby: @control_socket.accept
        let (connection, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        let Some(peer) = peer.as_socket() else {
            continue; // not an IP address: cannot happen on a TCP listener
        };

        let Some(slot) = Slot::take(&live, config.max_connections) else {
            // A brand-new connection's send buffer is empty: this cannot block.
            let _ = (&connection).write_all(Reply::too_many_connections().as_bytes());
            println!(
                "refused {peer}: MAX_CONNECTIONS ({}) reached",
                config.max_connections
            );
            continue; // dropping `connection` closes it
        };
        println!(
            "thread serves {peer} ({} of {})",
            live.load(Ordering::SeqCst),
            config.max_connections
        );

        // Ruby: Thread.new { ... }. `move` gives the thread its own
        // connection, slot and handle on the config: nothing it uses can be
        // freed or changed under it by the main thread.
        let config = Arc::clone(&config);
        let live_now = Arc::clone(&live);
        let spawned = thread::Builder::new()
            .name(peer.to_string())
            .spawn(move || {
                let result = ftp_architectures::serve_connection(connection, &config);
                drop(slot); // the connection is closed: give the place back
                if let Err(err) = result {
                    eprintln!("connection from {peer} ended: {err}");
                }
                println!("{peer} done ({} live)", live_now.load(Ordering::SeqCst));
            });
        // If the kernel cannot make another thread (EAGAIN), the closure is
        // dropped unrun: that closes the connection and frees the slot.
        if let Err(err) = spawned {
            eprintln!("could not start a thread for {peer}: {err}");
        }
    }
    // ANCHOR_END: accept_loop
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_given_back_when_its_thread_panics() {
        let live = Arc::new(AtomicUsize::new(0));
        let slot = Slot::take(&live, 1).expect("a free place");
        assert!(Slot::take(&live, 1).is_none(), "the cap is 1");

        let ended = thread::spawn(move || {
            let _slot = slot;
            panic!("a bug in the handler (this panic is part of the test)");
        })
        .join();

        assert!(ended.is_err(), "the thread panicked");
        assert_eq!(live.load(Ordering::SeqCst), 0);
        assert!(Slot::take(&live, 1).is_some(), "the place is free again");
    }
}
