//! Exercise (Timeouts): an echo server that hangs up on idle clients.
//!
//! Reference solution. It waits in poll(2) with a timeout before each read,
//! as the chapter's `read_timeout` does. The socket stays in blocking mode:
//! once poll says "readable", the read returns at once, and `write_all` can
//! keep blocking for a client that is slow to read its echo.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::Duration;

use anyhow::Context;
use nix::errno::Errno;
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

/// Echoes until the client closes its side, or says nothing for `timeout`.
fn echo(connection: &mut Socket, timeout: Duration) -> std::io::Result<()> {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        // A fresh wait before every read: an idle timeout.
        if !readable_within(connection, timeout)? {
            connection.write_all(b"timed out\n")?;
            return Ok(());
        }
        let n = connection.read(&mut buffer)?;
        if n == 0 {
            return Ok(()); // EOF: the client closed its side
        }
        connection.write_all(&buffer[..n])?;
    }
}

/// Sleeps in poll(2) until `connection` is readable (true: data, EOF or an
/// error is waiting) or `timeout` has passed (false).
fn readable_within(connection: &Socket, timeout: Duration) -> std::io::Result<bool> {
    // poll counts whole milliseconds; round up so that 0.3 s is 300 ms and
    // a tiny timeout does not become 0, "do not wait at all".
    let millis = timeout.as_nanos().div_ceil(1_000_000);
    let poll_timeout = PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX);
    let mut fds = [PollFd::new(connection.as_fd(), PollFlags::POLLIN)];
    loop {
        match poll(&mut fds, poll_timeout) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(errno.into()),
        }
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
