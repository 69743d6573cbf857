//! Exercise (Multiplexing Connections): a chat server on poll(2).
//!
//! Turn the poll(2) loop below into a chat room: every line a client sends
//! goes to every *other* connected client. One thread serves everybody, as
//! `multiplex_poll` does: the sockets are non-blocking and the only place
//! the server ever waits is poll(2).
//!
//! The contract the tests check:
//! - binds `127.0.0.1` on `PORT` (default 4481; the tests set `PORT=0`) and
//!   prints `Listening on <ip>:<port>` (done for you);
//! - prints `accepted <ip>:<port>` (the client's address) once it has
//!   accepted a client, and `closed <ip>:<port>` once it has dropped one
//!   (the client closed its side, or reading or writing failed);
//! - sends each complete line (up to and including its `\n`) that a client
//!   sends, unchanged, to every other client, in the order the lines
//!   arrived, and never back to the client that sent it;
//! - holds back the start of a line until its `\n` arrives, so that lines
//!   from different clients never mix;
//! - never blocks in `write`: what a socket does not take now waits in that
//!   client's `outbox` until poll(2) says the socket is writable
//!   (`POLLOUT`), so a client that never reads cannot hold up the others;
//! - a client leaving (or failing) never stops the server.
//!
//! Run the tests with `just exercise poll_chat`
//! (or `cargo test -p poll_chat` inside `exercises/`).
//! Stuck? `just hint poll_chat`.

// These are the imports the solution uses; the allow keeps the unsolved
// file free of warnings until you use them.
#[allow(unused_imports)]
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsFd;

use anyhow::Context;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::{Domain, SockAddr, Socket, Type};

/// One chat client.
#[allow(dead_code)] // until you use every field
struct Client {
    /// Non-blocking, like the listener.
    socket: Socket,
    peer: SocketAddr,
    /// Bytes received after the last `\n`: the start of a line.
    partial: Vec<u8>,
    /// Lines from the others, waiting until the socket takes them.
    outbox: Vec<u8>,
}

fn main() -> anyhow::Result<()> {
    let addr = conventions::listen_addr("127.0.0.1")?;
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    listener.listen(128).context("listen(2)")?;
    listener
        .set_nonblocking(true)
        .context("fcntl(O_NONBLOCK)")?;
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);

    #[allow(unused_mut)]
    let mut clients: Vec<Client> = Vec::new();
    loop {
        // Entry 0 is the listener, entry i + 1 is clients[i]. Every client
        // is watched for reading; for writing only while its outbox holds
        // something (an idle socket is almost always writable).
        let mut pollfds = vec![PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        for client in &clients {
            let mut events = PollFlags::POLLIN;
            if !client.outbox.is_empty() {
                events |= PollFlags::POLLOUT;
            }
            pollfds.push(PollFd::new(client.socket.as_fd(), events));
        }
        match poll(&mut pollfds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err).context("poll(2)"),
        }
        // What happened to each entry. Collected first because `pollfds`
        // borrows the sockets, and serving a client needs it mutably.
        #[allow(unused_variables)]
        let revents: Vec<PollFlags> = pollfds
            .iter()
            .map(|pollfd| pollfd.revents().unwrap_or(PollFlags::empty()))
            .collect();

        // TODO 1: for each client whose revents has POLLIN (or POLLHUP or
        //         POLLERR, which a read turns into EOF or an error): read
        //         once, append to its `partial`, and take every complete line
        //         out of `partial`. A read of 0 bytes or an error means the
        //         client is gone.
        // TODO 2: append each complete line to the `outbox` of every client
        //         except its sender (and except clients that are gone).
        // TODO 3: write as much of each outbox as the socket takes now; stop
        //         at `ErrorKind::WouldBlock` and keep the rest for POLLOUT.
        //         A write error means that client is gone.
        // TODO 4: drop the clients that are gone, printing `closed <peer>`.
        //         Mind the indices: revents[i + 1] belongs to clients[i] as
        //         they were when `pollfds` was built.
        // TODO 5: if revents[0] has POLLIN, accept every waiting connection
        //         (until `WouldBlock`), make it non-blocking, print
        //         `accepted <peer>` and push a `Client`.
        todo!("serve the chat clients")
    }
}
