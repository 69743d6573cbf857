//! Exercise (Thread Pool): a fixed pool of threads, from `std` parts.
//! (A solution.)
//!
//! Every thread gets an `Arc` of the one listener and blocks in `accept` on
//! it; the kernel wakes one waiting thread per connection. `main` joins the
//! threads, which never finish, so it waits for good.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let addr = conventions::listen_addr("127.0.0.1")?;
    let concurrency: usize = match std::env::var("CONCURRENCY") {
        Ok(text) => text.parse().context("CONCURRENCY is not a number")?,
        Err(_) => 4,
    };
    // std's shorthand for socket(2), bind(2) and listen(2).
    let listener = TcpListener::bind(addr).map_err(|err| conventions::bind_error(addr, err))?;
    conventions::announce(listener.local_addr()?);

    let listener = Arc::new(listener);
    let mut pool = Vec::new();
    for _ in 0..concurrency {
        let listener = Arc::clone(&listener);
        let thread = thread::Builder::new()
            .spawn(move || serve_forever(&listener))
            .context("starting a thread")?;
        pool.push(thread);
    }
    for thread in pool {
        let _ = thread.join();
    }
    Ok(())
}

/// One pool thread: accept, serve, repeat.
fn serve_forever(listener: &TcpListener) {
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        if let Err(err) = handle_client(stream) {
            eprintln!("{peer}: {err}");
        }
    }
}

/// Sends every line back until the client closes.
fn handle_client(stream: TcpStream) -> io::Result<()> {
    let mut writer = stream.try_clone()?;
    for line in BufReader::new(stream).lines() {
        writer.write_all(format!("{}\n", line?).as_bytes())?;
    }
    Ok(())
}
