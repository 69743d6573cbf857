//! Non-blocking reads: a server that never sleeps inside a read.
//!
//! For each connection it switches the socket to non-blocking mode and reads
//! up to 4 KiB at a time. When no data is there, `read` does not wait: it
//! fails at once with `EAGAIN` (Rust: `ErrorKind::WouldBlock`). The server
//! then asks `poll(2)` to wait until the socket is readable, and tries again,
//! which is Ruby's `read_nonblock` + `IO.select([connection])` + `retry`.
//!
//! It prints one line per event, so you can see that it never spins: every
//! `would block` line is followed by a wait in `poll`, and there is at most
//! one of them for each chunk the client sends (plus one before its EOF):
//!
//! ```text
//! accepted 127.0.0.1:50412
//! read would block: waiting in poll for readability
//! read 6 bytes: "gekko\n"
//! read would block: waiting in poll for readability
//! EOF after 6 bytes (read would have blocked 2 times); closing the connection
//! ```
//!
//! Try it: `cargo run -p nonblocking --bin read_nonblock`, then in another
//! terminal `nc -N localhost 4481` and type a few lines (Ctrl-D to finish:
//! `-N` makes nc pass your end of input on as an EOF).

use std::io::{ErrorKind, Read};
use std::os::fd::AsFd;

use anyhow::Context;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    // A plain blocking listener, as in Part 1 (Ruby: Socket.tcp_server_loop).
    // Only the connections are made non-blocking here; see `accept_nonblock`
    // for a listener that does not block either.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    // Our closed connections linger in TIME_WAIT for a minute; without this
    // option a restart within that minute fails with EADDRINUSE. (Socket
    // Options has the details.)
    listener
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;
    let addr = conventions::listen_addr("127.0.0.1")?;
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
        match peer.as_socket() {
            Some(peer) => println!("accepted {peer}"),
            None => println!("accepted a connection"),
        }
        // One client's failure (a reset, say) must not stop the server.
        if let Err(err) = serve(&mut connection) {
            eprintln!("connection ended with an error: {err:#}");
        }
        // `connection` is dropped here: close(2).
    }
}

fn serve(connection: &mut Socket) -> anyhow::Result<()> {
    // ANCHOR: set_nonblocking
    // fcntl(fd, F_SETFL, O_NONBLOCK): from now on no call on this socket
    // puts the thread to sleep. Ruby's read_nonblock does this for you.
    connection
        .set_nonblocking(true)
        .context("fcntl(O_NONBLOCK)")?;
    // ANCHOR_END: set_nonblocking

    let mut buffer = [0u8; 4096];
    let mut total = 0;
    let mut would_block = 0;
    // ANCHOR: read_loop
    loop {
        // Ruby: connection.read_nonblock(4096). socket2's `read` is recv(2)
        // with no flags, which on a socket is the same as read(2).
        match connection.read(&mut buffer) {
            // Ruby raises EOFError here; recv(2) returns 0: the client closed
            // its side and nothing more will ever arrive.
            Ok(0) => break,
            Ok(n) => {
                total += n;
                let text = String::from_utf8_lossy(&buffer[..n]);
                println!("read {n} bytes: {text:?}");
            }
            // Ruby: rescue Errno::EAGAIN. Nothing to read *yet*.
            Err(err) if err.kind() == ErrorKind::WouldBlock => {
                would_block += 1;
                println!("read would block: waiting in poll for readability");
                // Ruby: IO.select([connection]). Sleep until the kernel says a
                // read will not block (data, EOF or an error is waiting), then
                // `retry` by going round the loop. Calling read again at once
                // instead would spin, burning a CPU core while waiting.
                wait_until_readable(connection)?;
            }
            // A signal arrived while in recv(2): nothing happened, try again.
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err).context("recv(2)"),
        }
    }
    // ANCHOR_END: read_loop
    println!(
        "EOF after {total} bytes (read would have blocked {would_block} times); closing the connection"
    );
    Ok(())
}

// ANCHOR: poll
/// Blocks in poll(2) until `connection` is readable.
fn wait_until_readable(connection: &Socket) -> anyhow::Result<()> {
    // One descriptor, interested in POLLIN ("a read would not block").
    let mut fds = [PollFd::new(connection.as_fd(), PollFlags::POLLIN)];
    loop {
        // PollTimeout::NONE: no timeout, wait as long as it takes.
        match poll(&mut fds, PollTimeout::NONE) {
            // We do not look at revents: whatever woke us (data, EOF, an
            // error), the next read reports it.
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err).context("poll(2)"),
        }
    }
}
// ANCHOR_END: poll
