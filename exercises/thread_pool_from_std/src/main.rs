//! Exercise (Thread Pool): a fixed pool of threads, from `std` parts.
//!
//! This line-echo server serves one client after another on its main
//! thread: while one client is connected, the next waits. Turn it into a
//! thread pool: `CONCURRENCY` threads (read for you below, default 4),
//! started once, each accepting connections and serving them with
//! `handle_client`, for as long as the server runs. No crate beyond `std`.
//!
//! The contract the tests check:
//! - binds `127.0.0.1` on `PORT` (default 4481; the tests set `PORT=0`) and
//!   prints `Listening on <ip>:<port>` (done for you);
//! - echoes every line back until the client closes (`handle_client`, done
//!   for you: leave it as it is);
//! - serves `CONCURRENCY` clients at the same time;
//! - serves *no more* than that: the next client waits (in the kernel's
//!   listen queue) until a pool thread is free, and is served then;
//! - runs exactly `CONCURRENCY` threads besides the main one, however many
//!   clients come and go: threads are reused, never started per client.
//!
//! Run the tests with `just exercise thread_pool_from_std`
//! (or `cargo test -p thread_pool_from_std` inside `exercises/`).
//! Stuck? `just hint thread_pool_from_std`.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

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
    eprintln!("{concurrency} threads wanted; serving one client at a time for now");

    // TODO: start `concurrency` threads that each run the loop below, on a
    //       listener they share, then keep `main` waiting for them.
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
