//! Exercise (Timeouts): an echo server that hangs up on idle clients.
//!
//! The server below already works: it echoes every byte back to the client
//! that sent it, one connection after another. Its weakness is the `read`
//! in `echo`: it waits for as long as it takes. A client that connects and
//! says nothing holds the server for ever, and every other client waits in
//! the accept queue behind it. Give the server an idle timeout.
//!
//! The contract the tests check:
//! - binds `127.0.0.1` on `PORT` and announces it (done for you);
//! - echoes every byte back, in order, until the client closes its side,
//!   then closes the connection and serves the next one (done for you);
//! - `TIMEOUT` is in seconds (default 5; fractions such as `0.3` work, and
//!   the tests use them; `timeout_from_env` below reads it for you). When a
//!   client has sent nothing for `TIMEOUT`, the server writes exactly
//!   `timed out\n` to it, closes the connection, and serves the next client;
//! - it is an *idle* timeout: every byte that arrives restarts the wait, so
//!   a client that keeps talking is never cut off, however long it talks;
//! - one client's trouble (a reset, say) never stops the server.
//!
//! Run the tests with `just exercise idle_timeout_echo`
//! (or `cargo test -p idle_timeout_echo` inside `exercises/`).
//! Stuck? `just hint idle_timeout_echo`.

use std::io::{Read, Write};
use std::time::Duration;
// These are the imports the solution uses; the allow keeps the unsolved
// file free of warnings until you use them.
#[allow(unused_imports)]
use std::os::fd::AsFd;

use anyhow::Context;
#[allow(unused_imports)]
use nix::errno::Errno;
#[allow(unused_imports)]
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let timeout = timeout_from_env()?;
    let addr = conventions::listen_addr("127.0.0.1")?;

    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    listener.listen(128).context("listen(2)")?;
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);

    loop {
        let (mut connection, _peer) = listener.accept().context("accept(2)")?;
        if let Err(err) = echo(&mut connection, timeout) {
            eprintln!("connection ended with an error: {err}");
        }
        // `connection` is dropped here: close(2).
    }
}

/// Echoes until the client closes its side.
fn echo(connection: &mut Socket, timeout: Duration) -> std::io::Result<()> {
    // TODO: use `timeout`. This line only keeps the compiler quiet.
    let _ = timeout;
    let mut buffer = [0u8; 16 * 1024];
    loop {
        // TODO: before this read can wait for ever, wait for the socket to
        // become readable, for at most `timeout` (Ruby:
        // `IO.select([connection], nil, nil, timeout)`). If the time runs
        // out, write `timed out\n` and return, which closes the connection.
        let n = connection.read(&mut buffer)?;
        if n == 0 {
            return Ok(()); // EOF: the client closed its side
        }
        connection.write_all(&buffer[..n])?;
    }
}

/// `TIMEOUT` from the environment, in seconds (fractions allowed), or 5 s.
fn timeout_from_env() -> anyhow::Result<Duration> {
    let Ok(text) = std::env::var("TIMEOUT") else {
        return Ok(Duration::from_secs(5));
    };
    let seconds: f64 = text
        .trim()
        .parse()
        .with_context(|| format!("TIMEOUT={text:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(seconds)
        .with_context(|| format!("TIMEOUT={text:?} must be zero or more seconds"))
}
