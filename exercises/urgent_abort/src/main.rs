//! Exercise (Urgent Data): an urgent "abort" byte that cancels a long
//! transfer.
//!
//! The server below accepts connections one after another. Make it stream
//! numbered lines to each client, without end, until the client sends the
//! byte `!` as urgent data (`send` with `MSG_OOB`). Urgent data is how
//! telnet and FTP clients interrupt a transfer: it is flagged to the
//! receiver ahead of the normal data queued in front of it.
//!
//! The contract the tests check:
//! - binds `127.0.0.1` on `PORT` and prints `Listening on <ip>:<port>` (done
//!   below), and `accepted <peer>` for each connection (done below);
//! - writes `data 0\n`, `data 1\n`, `data 2\n`, … to the client;
//! - the first time a write would block because the client is not reading,
//!   prints `<peer> stopped reading` (once per connection), and still
//!   notices an urgent byte while it waits;
//! - an urgent byte other than `!` is ignored, with the line
//!   `<peer> sent urgent byte "x"; ignoring it` (for `x`), and the stream
//!   goes on;
//! - on `!`: prints `aborted by <peer> after N lines`, where N is the number
//!   of `data` lines the client will receive; finishes the line it was in
//!   the middle of; writes `aborted\n`; and ends the connection cleanly
//!   (FIN, not RST: the client must be able to read everything, then
//!   end-of-file);
//! - a client that goes away is reported on stderr, and the server serves
//!   the next one.
//!
//! Run the tests with `just exercise urgent_abort`
//! (or `cargo test -p urgent_abort` inside `exercises/`).
//! Stuck? `just hint urgent_abort`.

use std::net::SocketAddr;

// These are the imports the solution uses; the allow keeps the unsolved
// file free of warnings until you use them.
#[allow(unused_imports)]
use std::io::{ErrorKind, Read, Write};
#[allow(unused_imports)]
use std::os::fd::{AsFd, AsRawFd};

use anyhow::Context;
#[allow(unused_imports)]
use nix::errno::Errno;
#[allow(unused_imports)]
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
#[allow(unused_imports)]
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
    // TODO: stream `data N\n` lines until the client sends `!` with MSG_OOB.
    // TODO: keep watching for urgent data while a write would block.
    // TODO: on `!`, finish the line, write `aborted\n`, and close cleanly.
    let _ = connection;
    todo!("stream to {peer} until it sends an urgent !")
}
