//! Exercise (Thread per connection): cap the number of connections.
//!
//! This server starts a thread per connection; each thread echoes lines
//! back until its client closes. Nothing limits how many threads it starts,
//! so a flood of clients costs a thread (and its stack) each, until the
//! process hits a limit and fails in ways you did not choose.
//!
//! Add a cap of `MAX_CONNECTIONS` live connections (read for you below):
//!
//! - binds `127.0.0.1` on `PORT` (default 4481; the tests set `PORT=0`) and
//!   prints `Listening on <ip>:<port>` (done for you);
//! - serves at most `MAX_CONNECTIONS` clients at once (default 64);
//! - a client past the cap reads exactly `421 Too many connections\r\n`,
//!   then the server closes that connection and goes on accepting;
//! - a connection gives its place back when its thread ends, *however* it
//!   ends. This handler has a deliberate bug: a client that sends the line
//!   `panic` makes its thread panic. That must give the place back too.
//!
//! Run the tests with `just exercise connection_cap`
//! (or `cargo test -p connection_cap` inside `exercises/`).
//! Stuck? `just hint connection_cap`.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use anyhow::Context;

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

    // TODO: a shared count of live connections, and a guard type whose
    //       Drop gives a place back.

    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        // TODO: past the cap, write `421 Too many connections\r\n`, close
        //       the connection and go back to accept.
        thread::spawn(move || {
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
