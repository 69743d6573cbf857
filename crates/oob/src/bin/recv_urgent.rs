//! Receives TCP urgent data apart from the normal stream: `poll(2)` for
//! readable (`POLLIN`) and urgent (`POLLPRI`) events, `recv(MSG_OOB)` for the
//! urgent byte, plain reads for everything else.
//!
//! A server: it listens on 127.0.0.1:`PORT` (default 4481) and serves one
//! connection after another, printing what it receives and which kind it is:
//!
//! ```text
//! Listening on 127.0.0.1:4481
//! accepted 127.0.0.1:50314
//! normal: "normal data before "
//! urgent: !
//! normal: "normal data after\n"
//! 127.0.0.1:50314 closed the connection
//! ```
//!
//! The urgent byte is not sent any faster than the rest: it travels in
//! order, with a mark saying where it is. Whether `urgent: !` is printed
//! before or after the normal data in front of it depends only on whether
//! the server had read that data by the time the urgent byte arrived.
//!
//! Try it: `cargo run -p oob --bin recv_urgent`, then in another terminal
//! `cargo run -p oob --bin send_urgent`. (`nc` cannot send urgent data.)

use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, AsRawFd};

use anyhow::Context;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{MsgFlags, recv};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
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
        // One client's trouble (a reset, say) ends only its connection.
        match serve(&mut connection) {
            Ok(()) => println!("{peer} closed the connection"),
            Err(err) => eprintln!("{peer}: {err:#}"),
        }
    }
}

fn serve(connection: &mut Socket) -> anyhow::Result<()> {
    let mut buffer = [0u8; 1024];
    loop {
        // ANCHOR: poll
        // Wait for normal data (POLLIN) or urgent data (POLLPRI). On Linux,
        // POLLPRI on a TCP socket means "an urgent byte has arrived and has
        // not been read yet".
        let mut fds = [PollFd::new(
            connection.as_fd(),
            PollFlags::POLLIN | PollFlags::POLLPRI,
        )];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err).context("poll(2)"),
        }
        let events = fds[0].revents().unwrap_or(PollFlags::empty());
        // ANCHOR_END: poll

        // ANCHOR: urgent
        // Urgent data first. Once a read has gone past the urgent mark, the
        // kernel forgets the urgent byte, and recv(MSG_OOB) has nothing
        // left to return.
        if events.contains(PollFlags::POLLPRI) {
            // Ruby: connection.recv(1, Socket::MSG_OOB). (socket2 has
            // recv_out_of_band too, but it wants a MaybeUninit buffer; nix's
            // recv takes a plain one and reads exactly like the C call.)
            let mut urgent = [0u8; 1];
            match recv(connection.as_raw_fd(), &mut urgent, MsgFlags::MSG_OOB) {
                Ok(1) => println!("urgent: {}", char::from(urgent[0]).escape_default()),
                Ok(_) => {}
                // The urgent pointer has arrived but not the byte it points
                // to (EAGAIN), or there is no urgent byte to read (EINVAL:
                // already read, overwritten by a later one, or never sent).
                // Neither is an error for us: the normal data is still there.
                Err(Errno::EAGAIN) => println!("urgent: not here yet (EAGAIN)"),
                Err(Errno::EINVAL) => println!("urgent: nothing to read (EINVAL)"),
                Err(err) => return Err(err).context("recv(2) with MSG_OOB"),
            }
        }
        // ANCHOR_END: urgent

        // ANCHOR: normal
        // Normal data, or the end of the stream. A read never goes past the
        // urgent mark: it stops just before it, so that the urgent byte can
        // be read first.
        if events.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            // Ruby: connection.readpartial(1024)
            match connection.read(&mut buffer) {
                Ok(0) => return Ok(()),
                Ok(n) => println!("normal: {:?}", String::from_utf8_lossy(&buffer[..n])),
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => return Err(err).context("read(2)"),
            }
        }
        // ANCHOR_END: normal
    }
}
