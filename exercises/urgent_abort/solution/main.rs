//! Exercise (Urgent Data): an urgent "abort" byte that cancels a long
//! transfer.
//!
//! Reference solution.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use anyhow::Context;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{MsgFlags, recv};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let addr = conventions::listen_addr("127.0.0.1")?;
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    // SO_REUSEADDR, so that a restarted server can bind at once (Socket Options).
    listener
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;
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
        let (mut connection, peer) = listener.accept().context("accept(2)")?;
        let peer = peer.as_socket().context("not an IP peer")?;
        println!("accepted {peer}");
        if let Err(err) = serve(&mut connection, peer) {
            eprintln!("{peer}: {err:#}");
        }
    }
}

fn serve(connection: &mut Socket, peer: SocketAddr) -> anyhow::Result<()> {
    // Non-blocking writes: a write that would block returns EAGAIN, and we
    // wait in poll for room to write *or* an urgent byte, whichever comes
    // first. A blocking write would sleep through the urgent byte.
    connection
        .set_nonblocking(true)
        .context("fcntl(O_NONBLOCK)")?;

    let mut lines: u64 = 0;
    let mut line = Vec::new();
    let mut written = 0;
    let mut said_stopped = false;
    loop {
        // An urgent byte? EINVAL: none. EAGAIN: announced, not here yet.
        let mut urgent = [0u8; 1];
        match recv(connection.as_raw_fd(), &mut urgent, MsgFlags::MSG_OOB) {
            Ok(1) if urgent[0] == b'!' => break,
            Ok(1) => println!(
                "{peer} sent urgent byte {:?}; ignoring it",
                String::from_utf8_lossy(&urgent)
            ),
            Ok(_) | Err(Errno::EINVAL) | Err(Errno::EAGAIN) => {}
            Err(err) => return Err(err).context("recv(2) with MSG_OOB"),
        }

        if written == line.len() {
            line = format!("data {lines}\n").into_bytes();
            lines += 1;
            written = 0;
        }
        match connection.write(&line[written..]) {
            Ok(n) => written += n,
            Err(err) if err.kind() == ErrorKind::WouldBlock => {
                if !said_stopped {
                    println!("{peer} stopped reading");
                    said_stopped = true;
                }
                let mut fds = [PollFd::new(
                    connection.as_fd(),
                    PollFlags::POLLOUT | PollFlags::POLLPRI,
                )];
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(err) => return Err(err).context("poll(2)"),
                }
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err).context("write(2)"),
        }
    }

    println!("aborted by {peer} after {lines} lines");
    // Finish the line in progress, then say so. Blocking now: the client
    // reads to the end.
    connection
        .set_nonblocking(false)
        .context("fcntl(O_NONBLOCK)")?;
    connection
        .write_all(&line[written..])
        .and_then(|()| connection.write_all(b"aborted\n"))
        .context("write(2)")?;
    connection
        .shutdown(Shutdown::Write)
        .context("shutdown(2)")?;

    // The urgent byte left a one-byte hole in the normal stream that no read
    // has passed, and close(2) on a socket with unread data sends RST, which
    // can destroy what we just wrote before the client reads it. So read
    // until the client closes too (a read steps over the hole), then close.
    connection
        .set_read_timeout(Some(Duration::from_secs(5)))
        .context("setsockopt(SO_RCVTIMEO)")?;
    let mut sink = [0u8; 1024];
    loop {
        match connection.read(&mut sink) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err).context("waiting for the client to close"),
        }
    }
}
