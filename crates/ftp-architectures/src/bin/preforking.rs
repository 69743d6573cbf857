//! Preforking: the master binds the listener, then fork(2)s `CONCURRENCY`
//! workers (default 4) before any client arrives. Every worker calls
//! accept(2) on the same listening socket, inherited across fork; the kernel
//! hands each new connection to exactly one of them. The master never
//! accepts: it waits for signals.
//!
//! - A worker that dies (a crash, an OOM kill, `kill -9`) is reaped and
//!   replaced, so the pool stays at `CONCURRENCY`; at most one replacement
//!   per second, so a worker that keeps dying at once is not respawned in a
//!   tight loop.
//! - On SIGINT or SIGTERM the master closes its listener, sends SIGTERM to
//!   every worker, reaps them all (with SIGKILL for any still running after
//!   `SHUTDOWN_GRACE` seconds, default 5) and exits 0: no zombie, no orphan. A worker
//!   also gets SIGTERM from the kernel if the master dies any other way.
//!
//! Prints `Listening on <ip>:<port>`, then `started worker <pid>` for each
//! worker, `worker <pid> serves <peer>` per connection, `worker <pid> exited
//! with status <code>` or `worker <pid> killed by <signal>` when one dies
//! (followed by `started worker <pid>` for its replacement), and on a signal
//! `<signal>: stopping <n> workers`, one line per worker, `stopped`. Exits 0
//! after a signal, 1 if it cannot start.
//!
//! Try it: `FTP_ROOT=. cargo run -p ftp-architectures --bin preforking`, then
//! in another terminal `curl ftp://127.0.0.1:4481/` or `lftp -p 4481 127.0.0.1`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::Context;
use ftp_architectures::{Config, wait_for_signal};
use nix::errno::Errno;
use nix::sys::prctl;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid};
use socket2::{Domain, SockAddr, Socket, Type};

/// The shortest time between two replacement workers.
const RESPAWN_INTERVAL: Duration = Duration::from_secs(1);

fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    anyhow::ensure!(config.concurrency > 0, "CONCURRENCY must be at least 1");

    // ANCHOR: listen
    // 1. The master creates the listening socket, once. Every worker forked
    //    below inherits this very socket (a copy of the descriptor, not a
    //    new socket), so they all accept from one queue.
    let listener =
        Socket::new(Domain::for_address(config.listen), Type::STREAM, None).context("socket(2)")?;
    listener
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;
    listener
        .bind(&SockAddr::from(config.listen))
        .map_err(|err| conventions::bind_error(config.listen, err))?;
    listener.listen(128).context("listen(2)")?;
    // ANCHOR_END: listen
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);
    eprintln!(
        "serving {} with {} workers",
        config.root.display(),
        config.concurrency
    );

    // ANCHOR: block_signals
    // Ruby: trap(:INT) and Process.wait. The master does nothing but wait
    // for signals, so it blocks them (the kernel keeps them pending) and
    // takes them one at a time with sigwait(2). Blocking them *before* the
    // first fork means no SIGCHLD can be lost in between.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals.add(Signal::SIGCHLD);
    let unblocked = signals
        .thread_swap_mask(SigmaskHow::SIG_BLOCK)
        .context("sigprocmask(2)")?;
    // ANCHOR_END: block_signals

    // ANCHOR: prefork
    // 2. Fork the horde, before any client has connected.
    let mut workers: BTreeSet<Pid> = BTreeSet::new();
    for _ in 0..config.concurrency {
        workers.insert(spawn_worker(&listener, &unblocked, &config)?);
    }
    // ANCHOR_END: prefork

    // ANCHOR: master_loop
    // 4. The master keeps an eye on its workers. A worker that dies as soon
    //    as it starts (a crash, a bad FTP_ROOT) must not make the master
    //    fork in a tight loop: it starts at most one replacement per
    //    RESPAWN_INTERVAL, and waits out the rest of it if need be.
    let mut last_spawn = Instant::now();
    let mut stop_signals = SigSet::empty();
    stop_signals.add(Signal::SIGINT);
    stop_signals.add(Signal::SIGTERM);
    loop {
        match signals.wait().context("sigwait(3)")? {
            Signal::SIGCHLD => {
                // One SIGCHLD may stand for several exits: reap them all.
                // Ruby: "Process #{pid} quit unexpectedly", and a new one.
                for dead in reap_workers(&mut workers) {
                    // Wait out the rest of the interval (none if it has
                    // passed); SIGINT or SIGTERM cuts the wait short.
                    let rest = RESPAWN_INTERVAL.saturating_sub(last_spawn.elapsed());
                    if let Some(stop) = wait_for_signal(&stop_signals, rest)? {
                        return stop_workers(stop, listener, workers, config.shutdown_grace);
                    }
                    last_spawn = Instant::now();
                    match spawn_worker(&listener, &unblocked, &config) {
                        Ok(pid) => {
                            workers.insert(pid);
                        }
                        Err(err) => eprintln!("could not replace worker {dead}: {err:#}"),
                    }
                }
            }
            stop => return stop_workers(stop, listener, workers, config.shutdown_grace),
        }
    }
    // ANCHOR_END: master_loop
}

// ANCHOR: spawn_worker
/// Forks one worker and returns its pid. The worker never returns.
fn spawn_worker(listener: &Socket, unblocked: &SigSet, config: &Config) -> anyhow::Result<Pid> {
    let master = getpid();
    // SAFETY: the master has exactly one thread (it never starts one), so
    // the child is a complete copy with no lock held by a missing thread.
    match unsafe { fork() }.context("fork(2)")? {
        ForkResult::Parent { child } => {
            println!("started worker {child}");
            Ok(child)
        }
        ForkResult::Child => {
            // Plain system calls first (see process_per_connection for why):
            // let SIGINT and SIGTERM end the worker again, and ask the kernel
            // for SIGTERM should the master die, even by SIGKILL.
            if unblocked.thread_set_mask().is_err()
                || prctl::set_pdeathsig(Signal::SIGTERM).is_err()
                || getppid() != master
            {
                std::process::exit(1);
            }
            work(listener, config)
        }
    }
}

/// 3. A worker: accept on the shared listener, serve, repeat — forever.
///    Several workers block in accept(2) on the same socket at once; each
///    connection wakes exactly one of them.
fn work(listener: &Socket, config: &Config) -> ! {
    let me = getpid();
    loop {
        let (connection, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("worker {me}: accept(2) failed: {err}");
                continue;
            }
        };
        if let Some(peer) = peer.as_socket() {
            println!("worker {me} serves {peer}");
        }
        if let Err(err) = ftp_architectures::serve_connection(connection, config) {
            eprintln!("worker {me}: connection ended: {err}");
        }
    }
}
// ANCHOR_END: spawn_worker

// ANCHOR: reap
/// Ruby: Process.wait, without blocking. Returns the pids of the workers that
/// exited since the last call, and forgets them.
fn reap_workers(workers: &mut BTreeSet<Pid>) -> Vec<Pid> {
    let mut dead = Vec::new();
    loop {
        let status = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return dead,
            Ok(status) => status,
            Err(err) => {
                eprintln!("waitpid(2) failed: {err}");
                return dead;
            }
        };
        if let Some(pid) = status.pid().filter(|pid| workers.remove(pid)) {
            println!("worker {pid} {}", describe(status));
            dead.push(pid);
        }
    }
}
// ANCHOR_END: reap

// ANCHOR: stop
/// SIGINT or SIGTERM: stop every worker, reap them, exit.
fn stop_workers(
    signal: Signal,
    listener: Socket,
    workers: BTreeSet<Pid>,
    grace: Duration,
) -> anyhow::Result<()> {
    println!("{signal}: stopping {} workers", workers.len());
    // The workers' copies still accept until they die; closing ours now
    // means the socket is gone as soon as the last worker is.
    drop(listener);
    for &pid in &workers {
        // Ruby: Process.kill(:TERM, pid). A worker that already exited is a
        // zombie until reaped, so the pid is still ours to signal.
        let _ = kill(pid, Signal::SIGTERM);
    }
    // Wait for them, but not forever: a worker still running after
    // `grace` (SHUTDOWN_GRACE) gets SIGKILL, which it cannot ignore.
    for (pid, status) in ftp_architectures::reap_or_kill(workers, grace) {
        println!("worker {pid} {}", describe(status));
    }
    println!("stopped");
    Ok(())
}
// ANCHOR_END: stop

/// "exited with status 0", "killed by SIGKILL".
fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exited with status {code}"),
        WaitStatus::Signaled(_, signal, _) => format!("killed by {signal}"),
        other => format!("changed state: {other:?}"),
    }
}
