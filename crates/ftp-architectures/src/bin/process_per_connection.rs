//! Process per connection: the parent accepts each connection and fork(2)s a
//! child to serve it; the child serves that one client and exits, while the
//! parent goes straight back to accept(2).
//!
//! Three things the Ruby example leaves to luck are done on purpose here:
//!
//! - **Reaping.** A child that exits stays a zombie until its parent collects
//!   its exit status with waitpid(2). The parent reaps as soon as the kernel
//!   sends it SIGCHLD, so no zombie outlives its client.
//! - **A cap.** At most `MAX_CONNECTIONS` children (default 64) live at once;
//!   a client past the cap gets `421` and is closed, instead of the machine
//!   running out of processes.
//! - **A clean stop.** On SIGINT or SIGTERM the parent stops accepting, sends
//!   SIGTERM to every child, reaps them all and exits 0: no orphan is left.
//!   A child still running `SHUTDOWN_GRACE` seconds (default 5) later gets
//!   SIGKILL, so one stuck child cannot hang the stop.
//!
//! The parent stays single-threaded: that is what makes fork(2) safe here.
//!
//! Prints `Listening on <ip>:<port>`, then one line per event:
//! `child <pid> serves <peer> (<n> of <max>)`, `child <pid> exited with status
//! <code> (<n> live)` (or `killed by <signal>`), `refused <peer>:
//! MAX_CONNECTIONS (<max>) reached`, and on a signal `<signal>: stopping <n>
//! children` then `stopped` (plus `<pid> still running after <grace>: SIGKILL` for a child
//! that outlived the grace period). Exits 0 after a signal, 1 if it cannot start.
//!
//! Try it: `FTP_ROOT=. cargo run -p ftp-architectures --bin process_per_connection`,
//! then in another terminal `curl ftp://127.0.0.1:4481/` or
//! `lftp -p 4481 127.0.0.1`.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::fd::AsFd;
use std::time::Duration;

use anyhow::Context;
use ftp_architectures::{Config, Reply};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::prctl;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;

    // Ruby: TCPServer.new(port) — socket(2), bind(2), listen(2).
    let listener =
        Socket::new(Domain::for_address(config.listen), Type::STREAM, None).context("socket(2)")?;
    listener
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;
    listener
        .bind(&SockAddr::from(config.listen))
        .map_err(|err| conventions::bind_error(config.listen, err))?;
    listener.listen(128).context("listen(2)")?;
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;

    // ANCHOR: signals
    // Ruby: trap(:INT) and friends. Instead of running a handler at some
    // random point of our loop, we block the three signals (the kernel then
    // keeps them pending) and have the kernel report them on a file
    // descriptor, a signalfd. poll(2) can wait for it and for the listener at
    // the same time, so a signal can never slip in between "check" and
    // "accept" and go unnoticed.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT); // Ctrl-C
    signals.add(Signal::SIGTERM); // kill <pid>
    signals.add(Signal::SIGCHLD); // one of our children exited
    let unblocked = signals
        .thread_swap_mask(SigmaskHow::SIG_BLOCK)
        .context("sigprocmask(2)")?;
    let signal_fd =
        SignalFd::with_flags(&signals, SfdFlags::SFD_NONBLOCK).context("signalfd(2)")?;
    // ANCHOR_END: signals

    conventions::announce(local);
    eprintln!(
        "serving {} with at most {} children",
        config.root.display(),
        config.max_connections
    );

    // The pids of the children that are alive (or exited, not yet reaped).
    let mut children: BTreeSet<Pid> = BTreeSet::new();

    // ANCHOR: accept_loop
    loop {
        // Wait until a client connects or a signal arrives, whichever is first.
        let mut ready = [
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
            PollFd::new(signal_fd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut ready, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(err) => return Err(err).context("poll(2)"),
        }

        // Signals first: SIGINT/SIGTERM end the loop; SIGCHLD only says
        // "reap", which the sweep below does in any case.
        while let Some(info) = signal_fd.read_signal().context("reading the signalfd")? {
            let signal = Signal::try_from(info.ssi_signo as i32).ok();
            if let Some(stop @ (Signal::SIGINT | Signal::SIGTERM)) = signal {
                return stop_children(stop, listener, children, config.shutdown_grace);
            }
        }
        reap_children(&mut children);

        let client_is_waiting = ready[0]
            .revents()
            .is_some_and(|events| events.contains(PollFlags::POLLIN));
        if !client_is_waiting {
            continue;
        }
        // Ruby: @control_socket.accept
        let (connection, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        let Some(peer) = peer.as_socket() else {
            continue; // not an IP address: cannot happen on a TCP listener
        };

        if children.len() >= config.max_connections {
            // Past the cap: say so and close. A brand-new connection's send
            // buffer is empty, so this short write cannot block the parent.
            let _ = (&connection).write_all(Reply::too_many_connections().as_bytes());
            println!(
                "refused {peer}: MAX_CONNECTIONS ({}) reached",
                config.max_connections
            );
            continue; // dropping `connection` closes it
        }

        let parent = getpid();
        // SAFETY: this process has exactly one thread (we never start one),
        // so the child is a complete copy with no lock held by a thread that
        // does not exist in it; see `serve_in_child`.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                serve_in_child(connection, listener, signal_fd, unblocked, parent, &config)
            }
            Ok(ForkResult::Parent { child }) => {
                children.insert(child);
                println!(
                    "child {child} serves {peer} ({} of {})",
                    children.len(),
                    config.max_connections
                );
            }
            Err(err) => {
                eprintln!("fork(2) failed: {err}");
                let _ = (&connection).write_all(Reply::too_many_connections().as_bytes());
            }
        }
        // The parent's copy of the connection is closed here, when
        // `connection` goes out of scope. It must be: the client only sees
        // end-of-file once *every* descriptor for its socket is closed, and
        // the parent would otherwise leak one descriptor per client.
    }
    // ANCHOR_END: accept_loop
}

// ANCHOR: child
/// The child's side of fork(2): everything the parent had, copied on write,
/// including the listener, the signalfd and the signal mask.
///
/// POSIX allows only async-signal-safe calls in the child of a process that
/// had several threads (another thread might have held the allocator's lock
/// at the instant of the fork, and that thread does not exist in the child to
/// release it). Our parent has one thread, so the child may do anything; we
/// still keep its first steps to plain system calls: close(2),
/// sigprocmask(2), prctl(2).
fn serve_in_child(
    connection: Socket,
    listener: Socket,
    signal_fd: SignalFd,
    unblocked: SigSet,
    parent: Pid,
    config: &Config,
) -> ! {
    // The child never accepts and never waits for signals this way.
    drop(listener);
    drop(signal_fd);
    // Undo the parent's blocking, so that SIGTERM (and Ctrl-C) end the child
    // with their default action.
    if unblocked.thread_set_mask().is_err() {
        std::process::exit(1);
    }
    // Linux: if the parent dies, even by SIGKILL, send us SIGTERM, so that
    // no child outlives it as an orphan. If it died before this line, our
    // parent is already someone else: stop now.
    if prctl::set_pdeathsig(Signal::SIGTERM).is_err() || getppid() != parent {
        std::process::exit(1);
    }

    if let Err(err) = ftp_architectures::serve_connection(connection, config) {
        eprintln!("child {}: connection ended: {err}", getpid());
    }
    // Ruby: the end of the fork block. Never return into the parent's loop:
    // this process would start accepting as a second parent.
    std::process::exit(0);
}
// ANCHOR_END: child

// ANCHOR: reap
/// Ruby: Process.detach. Collects the exit status of every child that has
/// exited, without blocking (WNOHANG). Signals do not queue: several children
/// exiting together may raise a single SIGCHLD, so we loop until waitpid(2)
/// says no more.
fn reap_children(children: &mut BTreeSet<Pid>) {
    loop {
        let status = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
            Ok(status) => status,
            Err(err) => {
                eprintln!("waitpid(2) failed: {err}");
                return;
            }
        };
        let Some(pid) = status.pid() else { continue };
        children.remove(&pid);
        println!("child {pid} {} ({} live)", describe(status), children.len());
    }
}
// ANCHOR_END: reap

// ANCHOR: stop
/// SIGINT or SIGTERM: stop accepting, stop every child, reap them, exit.
fn stop_children(
    signal: Signal,
    listener: Socket,
    children: BTreeSet<Pid>,
    grace: Duration,
) -> anyhow::Result<()> {
    println!("{signal}: stopping {} children", children.len());
    // Closing the listener first: a client that connects from now on is
    // refused by the kernel instead of waiting in a queue nobody reads.
    drop(listener);
    for &pid in &children {
        // ESRCH cannot happen: an exited child stays a zombie until reaped.
        let _ = kill(pid, Signal::SIGTERM);
    }
    // Wait for them, but not forever: a child that blocks or ignores
    // SIGTERM (or is stopped) gets SIGKILL once `grace` (SHUTDOWN_GRACE) is up.
    for (pid, status) in ftp_architectures::reap_or_kill(children, grace) {
        println!("child {pid} {}", describe(status));
    }
    println!("stopped");
    Ok(())
}
// ANCHOR_END: stop

/// "exited with status 0", "killed by SIGTERM".
fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exited with status {code}"),
        WaitStatus::Signaled(_, signal, _) => format!("killed by {signal}"),
        other => format!("changed state: {other:?}"),
    }
}
