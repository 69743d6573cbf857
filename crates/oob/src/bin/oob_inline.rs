//! Urgent data left in the normal stream: with `SO_OOBINLINE` the urgent
//! byte is not taken out of the stream, and the receiver finds it by asking
//! whether it is *at the mark* (`sockatmark(3)`).
//!
//! A server: it listens on 127.0.0.1:`PORT` (default 4481), turns
//! `SO_OOBINLINE` on, and serves one connection after another. Before each
//! read it asks whether the next byte is the urgent one; if so it reads
//! that byte alone, otherwise it reads normally. Reads stop at the mark, so
//! no read ever swallows the urgent byte along with the data before it.
//!
//! ```text
//! Listening on 127.0.0.1:4481
//! accepted 127.0.0.1:50322
//! normal: "normal data before "
//! urgent, at the mark: !
//! normal: "normal data after\n"
//! 127.0.0.1:50322 closed the connection
//! ```
//!
//! TCP has one urgent pointer per connection, so there is one mark: send
//! two urgent bytes before the receiver reaches the first (`URGENT=12`
//! with `send_urgent`) and only the second is at the mark; the first has
//! become ordinary data.
//!
//! Try it: `cargo run -p oob --bin oob_inline`, then in another terminal
//! `cargo run -p oob --bin send_urgent`.

use std::io::{self, ErrorKind, Read};
use std::os::fd::{AsFd, AsRawFd, RawFd};

use anyhow::Context;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::{Domain, SockAddr, Socket, Type};

// ANCHOR: sockatmark
// sockatmark(3) is POSIX and in every C library, but neither the libc crate
// nor nix declares it (yet), so we declare it ourselves. glibc implements
// it as ioctl(fd, SIOCATMARK).
unsafe extern "C" {
    fn sockatmark(fd: RawFd) -> i32;
}

/// Whether the next byte to read is the urgent byte: 1 yes, 0 no, -1 error.
fn at_mark(socket: &Socket) -> io::Result<bool> {
    // SAFETY: sockatmark only reads the descriptor number we pass; a bad
    // one makes it fail with EBADF, nothing worse.
    match unsafe { sockatmark(socket.as_raw_fd()) } {
        -1 => Err(io::Error::last_os_error()),
        answer => Ok(answer == 1),
    }
}
// ANCHOR_END: sockatmark

fn main() -> anyhow::Result<()> {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    // ANCHOR: oobinline
    // setsockopt(SO_OOBINLINE). Set on the listener, so that every accepted
    // connection has it from its first byte on (accepted sockets inherit
    // the listener's options).
    listener
        .set_out_of_band_inline(true)
        .context("setsockopt(SO_OOBINLINE)")?;
    // ANCHOR_END: oobinline
    let addr = conventions::listen_addr("127.0.0.1")?;
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
        match serve(&mut connection) {
            Ok(()) => println!("{peer} closed the connection"),
            Err(err) => eprintln!("{peer}: {err:#}"),
        }
    }
}

fn serve(connection: &mut Socket) -> anyhow::Result<()> {
    let mut buffer = [0u8; 1024];
    loop {
        // ANCHOR: read_loop
        // Wait until there is something to read. Asking about the mark
        // before the data is there would be asking too early: an urgent
        // byte arriving while we sat in read(2) would come back as if it
        // were normal data.
        let mut fds = [PollFd::new(
            connection.as_fd(),
            PollFlags::POLLIN | PollFlags::POLLPRI,
        )];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err).context("poll(2)"),
        }

        if at_mark(connection).context("sockatmark(3)")? {
            // The next byte is the urgent one. Read it alone: at the mark, a
            // longer read would go on into the data after it.
            let mut urgent = [0u8; 1];
            connection.read_exact(&mut urgent).context("read(2)")?;
            println!(
                "urgent, at the mark: {}",
                char::from(urgent[0]).escape_default()
            );
            continue;
        }

        // Not at the mark: a normal read, which stops short of the mark if
        // there is one ahead.
        match connection.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => println!("normal: {:?}", String::from_utf8_lossy(&buffer[..n])),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err).context("read(2)"),
        }
        // ANCHOR_END: read_loop
    }
}
