//! Exercise (Process per connection): reap your children.
//!
//! This server forks a child for each connection; the child echoes every
//! line back until the client closes, then exits. It works, but the parent
//! never asks how its children ended, so each child that exits stays in the
//! process table as a zombie (`ps` shows `<defunct>`, state `Z`) for as long
//! as the parent lives. Enough clients, and the machine runs out of pids.
//!
//! Make the parent reap every child as soon as it exits — also while no new
//! client connects, so "reap before each accept" is not enough: the parent
//! must hear SIGCHLD while it waits for clients.
//!
//! The contract the tests check:
//! - binds `127.0.0.1` on `PORT` (default 4481; the tests set `PORT=0`) and
//!   prints `Listening on <ip>:<port>` (done for you);
//! - forks a child per connection and prints `child <pid> serves <ip>:<port>`
//!   (done for you); the child echoes lines until the client closes;
//! - prints `reaped <pid>` once it has collected that child's exit status
//!   with waitpid(2);
//! - once every client has gone, the server has no child left at all, not
//!   even a zombie (the tests read `/proc`).
//!
//! Run the tests with `just exercise reap_children`
//! (or `cargo test -p reap_children` inside `exercises/`).
//! Stuck? `just hint reap_children`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use anyhow::Context;
// These are the imports the solution uses; the allow keeps the unsolved
// file free of warnings until you use them.
use nix::unistd::{ForkResult, fork};
#[allow(unused_imports)]
use nix::{
    errno::Errno,
    poll::{PollFd, PollFlags, PollTimeout, poll},
    sys::signal::{SigSet, SigmaskHow, Signal},
    sys::signalfd::{SfdFlags, SignalFd},
    sys::wait::{WaitPidFlag, WaitStatus, waitpid},
};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let addr = conventions::listen_addr("127.0.0.1")?;
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    listener.set_reuse_address(true)?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    listener.listen(128).context("listen(2)")?;
    let local = listener.local_addr()?.as_socket().context("not IP")?;
    conventions::announce(local);

    // TODO: learn about exiting children while this loop waits for clients.
    //       One way: block SIGCHLD and read it from a signalfd, then wait
    //       with poll(2) for either the listener or the signalfd.

    loop {
        let (connection, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        let peer = peer.as_socket().context("not an IP peer")?;
        // SAFETY: this process has a single thread, so the child is a
        // complete copy of it.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                drop(listener);
                echo(TcpStream::from(connection));
                std::process::exit(0);
            }
            Ok(ForkResult::Parent { child }) => println!("child {child} serves {peer}"),
            Err(err) => eprintln!("fork(2) failed: {err}"),
        }
        // The parent's copy of the connection is closed here.

        // TODO: reap every child that has exited (waitpid with WNOHANG, in a
        //       loop: one SIGCHLD may stand for several exits) and print
        //       `reaped <pid>` for each.
    }
}

/// Sends every line back until the client closes.
fn echo(stream: TcpStream) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        if writer.write_all(format!("{line}\n").as_bytes()).is_err() {
            return;
        }
    }
}
