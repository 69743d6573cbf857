//! Timeouts the kernel keeps for you: `SO_RCVTIMEO` and `SO_SNDTIMEO`.
//!
//! Instead of non-blocking calls and `poll`, you can ask the kernel to bound
//! every blocking call on a socket: with `SO_RCVTIMEO` set, a `read` that
//! waits that long without data gives up; `SO_SNDTIMEO` does the same for
//! `write` (and, on Linux, for `connect`). What the error looks like is the
//! surprise: not `TimedOut` but `EAGAIN`, the errno a non-blocking socket
//! returns, which Rust calls `ErrorKind::WouldBlock`.
//!
//! The example is self-contained: it makes a loopback connection to itself
//! whose other end never sends or reads, and shows the three cases with
//! `TIMEOUT` (default 5 s; fractions such as `0.5` work):
//!
//! ```text
//! SO_RCVTIMEO is 500ms
//! read gave up: kind WouldBlock, errno EAGAIN: Resource temporarily unavailable (os error 11)
//! SO_SNDTIMEO is 500ms
//! write gave up after 4291584 bytes: kind WouldBlock, errno EAGAIN: Resource temporarily unavailable (os error 11)
//! connect gave up: kind InProgress, errno EINPROGRESS: Operation now in progress (os error 115)
//! ```
//!
//! Try it: `TIMEOUT=0.5 cargo run -p timeouts --bin socket_timeouts`

use std::io::{self, Read, Write};

use anyhow::{Context, bail};
use nix::errno::Errno;
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let timeout = timeouts::timeout_from_env()?;
    if timeout.as_micros() == 0 {
        // The kernel reads a zero timeval (and socket2 rounds anything under
        // a microsecond down to one) as "no timeout": block for ever.
        bail!("TIMEOUT=0 would switch the timeouts off; use a positive TIMEOUT");
    }

    // A loopback connection to ourselves. `_peer` never reads or writes.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    listener
        .bind(&SockAddr::from(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            0,
        ))))
        .context("bind(2)")?;
    listener.listen(1).context("listen(2)")?;
    let local = listener.local_addr()?;
    let mut client = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    client.connect(&local).context("connect(2)")?;
    let (_peer, _) = listener.accept().context("accept(2)")?;

    // ANCHOR: rcvtimeo
    // setsockopt(SOL_SOCKET, SO_RCVTIMEO, timeval). Ruby:
    // socket.setsockopt(Socket::SOL_SOCKET, Socket::SO_RCVTIMEO, [secs, usecs].pack("l_2"))
    client
        .set_read_timeout(Some(timeout))
        .context("setsockopt(SO_RCVTIMEO)")?;
    // getsockopt reads it back, as the kernel stores it.
    println!(
        "SO_RCVTIMEO is {:?}",
        client.read_timeout()?.unwrap_or_default()
    );

    // An ordinary blocking read: nothing comes, so after TIMEOUT it fails.
    let mut buffer = [0u8; 1024];
    match client.read(&mut buffer) {
        Ok(n) => bail!("expected the read to time out, but it returned {n} bytes"),
        Err(err) => println!("read gave up: {}", describe(&err)),
    }
    // ANCHOR_END: rcvtimeo

    // ANCHOR: sndtimeo
    // setsockopt(SOL_SOCKET, SO_SNDTIMEO, timeval)
    client
        .set_write_timeout(Some(timeout))
        .context("setsockopt(SO_SNDTIMEO)")?;
    println!(
        "SO_SNDTIMEO is {:?}",
        client.write_timeout()?.unwrap_or_default()
    );

    // Blocking writes into a peer that never reads. They succeed until both
    // buffers are full. A write that gets part of its bytes in before the
    // timeout returns that count, not an error; only a write that could not
    // send a single byte for TIMEOUT fails.
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    let err = loop {
        match client.write(&chunk) {
            Ok(n) => sent += n,
            Err(err) => break err,
        }
    };
    println!("write gave up after {sent} bytes: {}", describe(&err));
    // ANCHOR_END: sndtimeo

    // ANCHOR: connect
    // SO_SNDTIMEO bounds connect(2) too, on Linux. To make a connect hang we
    // need a listener whose accept queue is full (see `full_backlog`): a
    // backlog of 0 holds one waiting connection, so we make one ourselves.
    let full = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    full.bind(&SockAddr::from(std::net::SocketAddr::from((
        [127, 0, 0, 1],
        0,
    ))))
    .context("bind(2)")?;
    full.listen(0).context("listen(2)")?;
    let full_addr = full.local_addr()?;
    let filler = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    filler
        .connect(&full_addr)
        .context("connect(2) to fill the queue")?;

    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    socket
        .set_write_timeout(Some(timeout))
        .context("setsockopt(SO_SNDTIMEO)")?;
    match socket.connect(&full_addr) {
        Ok(()) => bail!("expected the connect to time out, but it connected"),
        // Not ETIMEDOUT either: the kernel stops waiting but leaves the
        // handshake going, as for a non-blocking connect.
        Err(err) => println!("connect gave up: {}", describe(&err)),
    }
    // ANCHOR_END: connect
    Ok(())
}

/// `kind WouldBlock, errno EAGAIN: Resource temporarily unavailable (os error 11)`:
/// Rust's error kind, the errno's name, and the error as it prints.
fn describe(err: &io::Error) -> String {
    let errno = err
        .raw_os_error()
        .map(|code| format!("{:?}", Errno::from_raw(code)))
        .unwrap_or_else(|| "none".to_string());
    format!("kind {:?}, errno {errno}: {err}", err.kind())
}
