//! Resolving a name, and bounding the wait with a deadline.
//!
//! `getaddrinfo(3)`, the C library's resolver, is a blocking call with no
//! timeout argument: it reads `/etc/hosts`, may ask the nameservers in
//! `/etc/resolv.conf` and wait for their answers (glibc: 5 s per try, 2 tries
//! per server by default), and only then returns. There is no
//! non-blocking mode to switch on and no descriptor to `poll`.
//!
//! So the example runs the lookup on a thread of its own and waits for the
//! answer on a channel for at most `TIMEOUT` seconds (default 5; fractions
//! such as `0.5` work). The lookup blocks only that thread. If the deadline
//! passes first, we stop waiting, but the thread cannot be stopped: it stays
//! blocked in `getaddrinfo` until the resolver gives up on its own.
//!
//! It prints one line per address, in the order the resolver returns them:
//!
//! ```text
//! localhost has address 127.0.0.1
//! localhost has IPv6 address ::1
//! ```
//!
//! and exits 0. A name that does not resolve is an error (exit 1), as is a
//! lookup that outlives the deadline.
//!
//! Try it: `cargo run -p timeouts --bin dns_lookup -- localhost`

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let name = std::env::args()
        .nth(1)
        .context("usage: dns_lookup NAME   (e.g. dns_lookup localhost)")?;
    let timeout = timeouts::timeout_from_env()?;

    let lookup_name = name.clone();
    let answer = with_deadline(timeout, move || lookup(&lookup_name));
    let addrs = match answer {
        Some(Ok(addrs)) => addrs,
        Some(Err(err)) => return Err(err).with_context(|| format!("resolving {name:?} failed")),
        None => bail!(
            "resolving {name:?} timed out after {timeout:?} \
             (the lookup goes on, abandoned, in its own thread)"
        ),
    };

    for addr in addrs {
        match addr {
            SocketAddr::V4(v4) => println!("{name} has address {}", v4.ip()),
            SocketAddr::V6(v6) => println!("{name} has IPv6 address {}", v6.ip()),
        }
    }
    Ok(())
}

// ANCHOR: lookup
/// The blocking call: getaddrinfo(3), through std's `ToSocketAddrs`.
/// Ruby: `Addrinfo.getaddrinfo(name, nil)` or `Socket.getaddrinfo`.
fn lookup(name: &str) -> io::Result<Vec<SocketAddr>> {
    // The port is part of the question getaddrinfo answers; we only want
    // the addresses, so any port does. An IP address such as "127.0.0.1" is
    // parsed on the spot, without calling the resolver at all.
    let addrs = (name, 0).to_socket_addrs()?;
    Ok(addrs.collect())
}
// ANCHOR_END: lookup

// ANCHOR: deadline
/// Runs `job` on a new thread and waits at most `timeout` for its result:
/// `None` if the time ran out first.
///
/// This bounds how long *we* wait, not how long the job runs. A thread
/// blocked in a system call or in C code cannot be interrupted from outside,
/// so the abandoned thread goes on until `job` returns, and its result is
/// then thrown away (its `send` fails because nobody holds the receiver).
fn with_deadline<T: Send + 'static>(
    timeout: Duration,
    job: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        // Blocks this thread only; the caller's thread goes on waiting on
        // the channel, with a timeout.
        let _ = sender.send(job());
    });
    match receiver.recv_timeout(timeout) {
        Ok(result) => Some(result),
        Err(RecvTimeoutError::Timeout) => None,
        // The thread ended without sending: `job` panicked. Pass it on.
        Err(RecvTimeoutError::Disconnected) => panic!("the lookup thread panicked"),
    }
}
// ANCHOR_END: deadline

#[cfg(test)]
mod tests {
    use super::*;

    // No test of the binary can make a real lookup hang without a network,
    // so the deadline is tested here with a job that never finishes.
    #[test]
    fn a_job_that_never_answers_is_abandoned_at_the_deadline() {
        let (_never_sent, never) = mpsc::channel::<()>();
        let result = with_deadline(Duration::from_millis(50), move || never.recv());
        assert!(result.is_none());
    }

    #[test]
    fn a_job_that_answers_in_time_gives_its_answer() {
        let result = with_deadline(Duration::from_secs(10), || 6 * 7);
        assert_eq!(result, Some(42));
    }

    #[test]
    fn localhost_resolves_through_the_blocking_call() {
        let addrs = lookup("localhost").unwrap();
        assert!(
            addrs.iter().any(|addr| addr.ip().is_loopback()),
            "{addrs:?}"
        );
    }
}
