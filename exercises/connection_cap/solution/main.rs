//! Exercise (Thread per connection): cap the number of connections.
//! (A solution.)
//!
//! A `Slot` is one place under the cap. It is taken with one atomic
//! check-and-increment and given back in `Drop`, which Rust runs when the
//! thread's closure ends in any way, unwinding from a panic included.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use anyhow::Context;

struct Slot {
    live: Arc<AtomicUsize>,
}

impl Slot {
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

fn main() -> anyhow::Result<()> {
    let addr = conventions::listen_addr("127.0.0.1")?;
    let max_connections: usize = match std::env::var("MAX_CONNECTIONS") {
        Ok(text) => text.parse().context("MAX_CONNECTIONS is not a number")?,
        Err(_) => 64,
    };
    // std's shorthand for socket(2), bind(2) and listen(2).
    let listener = TcpListener::bind(addr).map_err(|err| conventions::bind_error(addr, err))?;
    conventions::announce(listener.local_addr()?);
    eprintln!("at most {max_connections} connections");

    let live = Arc::new(AtomicUsize::new(0));

    loop {
        let (mut stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        let Some(slot) = Slot::take(&live, max_connections) else {
            let _ = stream.write_all(b"421 Too many connections\r\n");
            continue; // dropping the stream closes it
        };
        thread::spawn(move || {
            // The closure owns the slot: it is dropped when the closure
            // returns or unwinds.
            let _slot = slot;
            if let Err(err) = echo(stream) {
                eprintln!("{peer}: {err}");
            }
        });
    }
}

/// Sends every line back until the client closes.
fn echo(stream: TcpStream) -> io::Result<()> {
    let mut writer = stream.try_clone()?;
    for line in BufReader::new(stream).lines() {
        let line = line?;
        // A stand-in for a bug in a real handler.
        if line == "panic" {
            panic!("the handler has a bug");
        }
        writer.write_all(format!("{line}\n").as_bytes())?;
    }
    Ok(())
}
