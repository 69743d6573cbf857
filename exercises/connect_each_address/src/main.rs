//! Exercise (DNS Lookup): try each address in turn, each with a timeout.
//!
//! A name often resolves to several addresses (`localhost` to `::1` and
//! `127.0.0.1`, a busy site to a dozen), and some of them may be dead. A
//! good client tries them in order and takes the first that answers, and a
//! dead address must cost it at most a bounded wait, not the minutes a
//! blocking `connect` spends retrying a SYN that nobody answers.
//!
//! This program gets the list a resolver would return as its arguments, so
//! that the tests can mix addresses that refuse, hang and accept:
//!
//! ```text
//! connect_each_address 127.0.0.1:4481 127.0.0.1:4482 [::1]:4481
//! ```
//!
//! The contract the tests check:
//! - tries the addresses in the order given, one at a time;
//! - gives each attempt at most `TIMEOUT` seconds (default 5; fractions such
//!   as `0.3` work, and the tests use them; `timeout_from_env` below reads
//!   it for you);
//! - for each address that fails prints one line `ADDRESS: REASON`, where
//!   REASON is exactly `timed out` when the attempt ran out of time, and the
//!   `std::io::Error` as it displays otherwise (e.g.
//!   `127.0.0.1:4481: Connection refused (os error 111)`);
//! - at the first address that accepts, prints `connected to ADDRESS` and
//!   exits 0 without trying the rest;
//! - if none accepts, exits 1 (return an error from `main`) without panicking.
//!
//! Run the tests with `just exercise connect_each_address`
//! (or `cargo test -p connect_each_address` inside `exercises/`).
//! Stuck? `just hint connect_each_address`.

use std::net::{SocketAddr, TcpStream};
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
#[allow(unused_imports)]
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let timeout = timeout_from_env()?;
    let addrs = addresses_from_args()?;

    // TODO: this connects to the first address only, and with a blocking
    // connect that has no time limit. Try each address in turn instead,
    // each with a non-blocking connect and a poll for writability with
    // `timeout` (the chapter's `connect_timeout` shows the steps), printing
    // a line for each failure as the contract above says.
    let _ = timeout;
    let first = addrs[0];
    let _stream = TcpStream::connect(first).with_context(|| format!("connecting to {first}"))?;
    println!("connected to {first}");
    Ok(())
}

/// The addresses given as arguments, e.g. `127.0.0.1:4481` or `[::1]:4481`.
fn addresses_from_args() -> anyhow::Result<Vec<SocketAddr>> {
    let addrs = std::env::args()
        .skip(1)
        .map(|arg| {
            arg.parse()
                .with_context(|| format!("{arg:?} is not an IP:PORT address"))
        })
        .collect::<anyhow::Result<Vec<SocketAddr>>>()?;
    anyhow::ensure!(
        !addrs.is_empty(),
        "usage: connect_each_address ADDRESS... (e.g. 127.0.0.1:4481 [::1]:4481)"
    );
    Ok(addrs)
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
