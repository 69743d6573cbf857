//! Exercise (DNS Lookup): try each address in turn, each with a timeout.
//!
//! Reference solution: the chapter's non-blocking connect + poll + SO_ERROR,
//! once per address.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::time::Duration;

use anyhow::{Context, bail};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let timeout = timeout_from_env()?;
    let addrs = addresses_from_args()?;

    for addr in &addrs {
        match connect_within(*addr, timeout) {
            Ok(_socket) => {
                println!("connected to {addr}");
                return Ok(());
            }
            Err(err) if err.kind() == io::ErrorKind::TimedOut => println!("{addr}: timed out"),
            Err(err) => println!("{addr}: {err}"),
        }
    }
    bail!("no address accepted a connection")
}

/// A connect that gives up after `timeout`.
fn connect_within(addr: SocketAddr, timeout: Duration) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(err) if err.raw_os_error() == Some(Errno::EINPROGRESS as i32) => {
            // Round up to whole milliseconds, so a tiny timeout is not 0.
            let millis = timeout.as_nanos().div_ceil(1_000_000);
            let poll_timeout = PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLOUT)];
            // (A signal would restart the full wait here; the chapter's
            // version keeps a deadline instead.)
            loop {
                match poll(&mut fds, poll_timeout) {
                    Ok(0) => return Err(io::ErrorKind::TimedOut.into()),
                    Ok(_) => break,
                    Err(Errno::EINTR) => continue,
                    Err(errno) => return Err(errno.into()),
                }
            }
            // Writable: the handshake is over. SO_ERROR says how it went.
            if let Some(err) = socket.take_error()? {
                return Err(err);
            }
        }
        Err(err) => return Err(err),
    }
    socket.set_nonblocking(false)?;
    Ok(socket)
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
