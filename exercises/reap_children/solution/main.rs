//! Exercise (Process per connection): reap your children. (A solution.)
//!
//! The parent blocks SIGCHLD and reads it from a signalfd; poll(2) waits for
//! a client or a signal, whichever comes first. After every wake-up it reaps
//! with waitpid(WNOHANG) until no exited child is left.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;

use anyhow::Context;
use nix::unistd::{ForkResult, fork};
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

    // SIGCHLD is blocked (held pending by the kernel) and delivered as a
    // readable signalfd instead.
    let mut sigchld = SigSet::empty();
    sigchld.add(Signal::SIGCHLD);
    let unblocked = sigchld
        .thread_swap_mask(SigmaskHow::SIG_BLOCK)
        .context("sigprocmask(2)")?;
    let signal_fd =
        SignalFd::with_flags(&sigchld, SfdFlags::SFD_NONBLOCK).context("signalfd(2)")?;

    loop {
        let mut ready = [
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
            PollFd::new(signal_fd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut ready, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(err) => return Err(err).context("poll(2)"),
        }
        // Empty the signalfd (its content does not matter), then reap.
        while signal_fd
            .read_signal()
            .context("reading the signalfd")?
            .is_some()
        {}
        reap();

        let client_is_waiting = ready[0]
            .revents()
            .is_some_and(|events| events.contains(PollFlags::POLLIN));
        if !client_is_waiting {
            continue;
        }
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
                drop(signal_fd);
                // The child inherited the blocked mask: undo it.
                let _ = unblocked.thread_set_mask();
                echo(TcpStream::from(connection));
                std::process::exit(0);
            }
            Ok(ForkResult::Parent { child }) => println!("child {child} serves {peer}"),
            Err(err) => eprintln!("fork(2) failed: {err}"),
        }
    }
}

/// Collects every exited child, without blocking.
fn reap() {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(status) => {
                if let Some(pid) = status.pid() {
                    println!("reaped {pid}");
                }
            }
        }
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
