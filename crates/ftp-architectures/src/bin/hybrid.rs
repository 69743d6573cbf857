//! The hybrid architecture, as nginx does it: preforked worker processes,
//! each running its own reactor. Preforking spreads the work over every
//! core (a reactor is one thread: it uses one core at most); the reactor
//! lets each worker serve thousands of clients. Linux only (epoll).
//!
//! The master process creates the listener, forks `CONCURRENCY` workers
//! (default: one per core) and then only supervises: it replaces a worker
//! that dies (at most one replacement per second, so a worker that keeps
//! dying at once is not respawned in a tight loop) and, on SIGINT or
//! SIGTERM, stops every worker, waits for each (SIGKILL for any still running
//! after `SHUTDOWN_GRACE` seconds, default 5), and exits with status 0. It prints one line per worker event:
//!
//! ```text
//! Listening on 127.0.0.1:4481
//! started worker 4242
//! started worker 4243
//! worker 4242 killed by SIGKILL
//! started worker 4250
//! SIGINT: stopping 2 workers
//! worker 4243 killed by SIGTERM
//! worker 4250 killed by SIGTERM
//! stopped
//! ```
//!
//! (The same lines as `preforking`'s master: the supervision is the same;
//! only what each worker runs differs.)
//!
//! All workers wait on the one listening socket they inherited. The listener
//! is on each worker's epoll with `EPOLLEXCLUSIVE`, so a new client wakes
//! one worker instead of all of them; the kernel hands each connection to
//! exactly one `accept`.
//!
//! Try it: `FTP_ROOT=. cargo run -p ftp-architectures --bin hybrid`, then
//! `curl ftp://127.0.0.1:4481/` in another terminal; `kill -9` one of the
//! worker PIDs and watch the master start another.

#[cfg(target_os = "linux")]
fn main() -> anyhow::Result<()> {
    linux::main()
}

#[cfg(not(target_os = "linux"))]
fn main() -> anyhow::Result<()> {
    anyhow::bail!("the hybrid server's workers use epoll, which is Linux only")
}

#[cfg(target_os = "linux")]
mod linux {
    use std::num::NonZeroUsize;
    use std::time::{Duration, Instant};

    use anyhow::{Context, bail};
    use ftp_architectures::reactor::Reactor;
    use ftp_architectures::{Config, reap_or_kill, wait_for_signal};
    use nix::errno::Errno;
    use nix::sys::prctl;
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    use nix::sys::signal::{SigSet, Signal, kill};
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    use nix::unistd::{ForkResult, Pid, fork, getpid, getppid};
    use socket2::{Domain, SockAddr, Socket, Type};

    /// The shortest time between two replacement workers.
    const RESPAWN_INTERVAL: Duration = Duration::from_secs(1);

    pub fn main() -> anyhow::Result<()> {
        let config = Config::from_env()?;
        let concurrency = worker_count(&config)?;

        // Raised in the master, inherited by every worker.
        let (_soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit(2)")?;
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).context("setrlimit(2)")?;

        // ANCHOR: listen
        // One listener, made before any fork: every worker inherits it.
        let listener = Socket::new(Domain::for_address(config.listen), Type::STREAM, None)
            .context("socket(2)")?;
        listener
            .set_reuse_address(true)
            .context("setsockopt(SO_REUSEADDR)")?;
        listener
            .bind(&SockAddr::from(config.listen))
            .map_err(|err| conventions::bind_error(config.listen, err))?;
        listener.listen(1024).context("listen(2)")?;
        // The O_NONBLOCK flag belongs to the open socket, which all workers
        // share: when a client wakes two workers, one accept(2) gets it and
        // the other gets EAGAIN instead of sleeping.
        listener
            .set_nonblocking(true)
            .context("fcntl(O_NONBLOCK)")?;
        // ANCHOR_END: listen
        let local = listener
            .local_addr()?
            .as_socket()
            .context("not an IP socket")?;
        conventions::announce(local);
        eprintln!(
            "serving {} with {concurrency} workers",
            config.root.display()
        );

        // ANCHOR: signals
        // The master's signals are blocked and taken one at a time with
        // sigwait(2): no handler runs in the middle of anything, and a
        // signal that arrives while we are busy stays pending until we ask.
        let mut signals = SigSet::empty();
        signals.add(Signal::SIGINT);
        signals.add(Signal::SIGTERM);
        signals.add(Signal::SIGCHLD);
        signals.thread_block().context("sigprocmask(2)")?;
        // ANCHOR_END: signals

        // ANCHOR: spawn_all
        let mut workers = Vec::with_capacity(concurrency);
        for _ in 0..concurrency {
            workers.push(spawn_worker(&listener, &config, &signals)?);
        }
        // ANCHOR_END: spawn_all

        // ANCHOR: supervise
        // Ruby: `loop { pid = Process.wait; ... }` plus `trap(:INT)`.
        // At most one replacement per RESPAWN_INTERVAL: a worker that dies
        // as soon as it starts must not make the master fork in a loop.
        let mut last_spawn = Instant::now();
        let mut stop_signals = SigSet::empty();
        stop_signals.add(Signal::SIGINT);
        stop_signals.add(Signal::SIGTERM);
        loop {
            match signals.wait().context("sigwait(2)")? {
                signal @ (Signal::SIGINT | Signal::SIGTERM) => {
                    stop_workers(signal, &workers, config.shutdown_grace);
                    return Ok(());
                }
                // One or more workers died (signals of one kind do not
                // queue up: two deaths can make one SIGCHLD).
                _ => {
                    for dead in reap_dead_workers()? {
                        workers.retain(|&worker| worker != dead);
                        // Wait out the rest of the interval (none if it has
                        // passed); SIGINT or SIGTERM cuts the wait short.
                        let rest = RESPAWN_INTERVAL.saturating_sub(last_spawn.elapsed());
                        if let Some(signal) = wait_for_signal(&stop_signals, rest)? {
                            stop_workers(signal, &workers, config.shutdown_grace);
                            return Ok(());
                        }
                        last_spawn = Instant::now();
                        match spawn_worker(&listener, &config, &signals) {
                            Ok(worker) => workers.push(worker),
                            // Out of processes or memory: serve with fewer
                            // workers rather than stop serving.
                            Err(err) => eprintln!("could not replace worker {dead}: {err:#}"),
                        }
                    }
                }
            }
        }
        // ANCHOR_END: supervise
    }

    /// `CONCURRENCY` if set; otherwise one worker per core, as nginx's
    /// `worker_processes auto` does.
    fn worker_count(config: &Config) -> anyhow::Result<usize> {
        let count = if std::env::var_os("CONCURRENCY").is_some() {
            config.concurrency
        } else {
            std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
        };
        if count == 0 {
            bail!("CONCURRENCY must be at least 1");
        }
        Ok(count)
    }

    // ANCHOR: spawn_worker
    /// Forks one worker, which runs a reactor on the shared listener until
    /// it is told to stop.
    fn spawn_worker(listener: &Socket, config: &Config, signals: &SigSet) -> anyhow::Result<Pid> {
        let master = getpid();
        // SAFETY: the master has a single thread, so the child starts with
        // no lock held by a thread that does not exist there.
        match unsafe { fork() }.context("fork(2)")? {
            ForkResult::Parent { child } => {
                println!("started worker {child}");
                Ok(child)
            }
            ForkResult::Child => {
                let status = match run_worker(listener, config, signals, master) {
                    Ok(()) => 0,
                    Err(err) => {
                        eprintln!("worker {}: {err:#}", getpid());
                        1
                    }
                };
                // Never return into the master's code.
                std::process::exit(status);
            }
        }
    }

    /// A worker's whole life.
    fn run_worker(
        listener: &Socket,
        config: &Config,
        signals: &SigSet,
        master: Pid,
    ) -> anyhow::Result<()> {
        // If the master dies, even by SIGKILL (which it cannot catch to stop
        // us), the kernel sends us SIGTERM: no orphaned workers.
        prctl::set_pdeathsig(Signal::SIGTERM).context("prctl(PR_SET_PDEATHSIG)")?;
        if getppid() != master {
            return Ok(()); // the master died before that line
        }
        // The mask is inherited through fork(2). A worker does not sigwait:
        // SIGINT and SIGTERM should simply end it, their default action.
        signals.thread_unblock().context("sigprocmask(2)")?;
        // A reactor of its own, made *after* the fork: an epoll instance
        // created before it would be one interest list shared by all.
        let mut reactor = Reactor::new(listener.try_clone()?, config.clone())?;
        reactor.run()
    }
    // ANCHOR_END: spawn_worker

    // ANCHOR: reap
    /// Ruby: `Process.wait`, without blocking. Collects every worker that
    /// has exited (waitpid(2) with WNOHANG until it says "none left") and
    /// returns their pids.
    fn reap_dead_workers() -> anyhow::Result<Vec<Pid>> {
        let mut dead = Vec::new();
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return Ok(dead),
                Ok(status @ (WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _))) => {
                    println!("worker {pid} {}", describe(status));
                    dead.push(pid);
                }
                Ok(_) => {} // stopped or continued: not dead
                Err(Errno::EINTR) => {}
                Err(err) => return Err(err).context("waitpid(2)"),
            }
        }
    }

    /// SIGTERM to every worker, then wait for each one, so that none is
    /// left running (an orphan) or unreaped (a zombie) when the master exits.
    /// A worker still running after `grace` (SHUTDOWN_GRACE) gets SIGKILL.
    fn stop_workers(signal: Signal, workers: &[Pid], grace: Duration) {
        println!("{signal}: stopping {} workers", workers.len());
        for &pid in workers {
            // Ruby: Process.kill(:TERM, pid). After Ctrl-C (SIGINT to the
            // whole process group) a worker may have died already; it is a
            // zombie until we reap it, so its pid is still ours to signal.
            if let Err(err) = kill(pid, Signal::SIGTERM) {
                eprintln!("kill({pid}, SIGTERM): {err}");
            }
        }
        for (pid, status) in reap_or_kill(workers.iter().copied(), grace) {
            println!("worker {pid} {}", describe(status));
        }
        println!("stopped");
    }

    /// "exited with status 0", "killed by SIGKILL".
    fn describe(status: WaitStatus) -> String {
        match status {
            WaitStatus::Exited(_, code) => format!("exited with status {code}"),
            WaitStatus::Signaled(_, signal, _) => format!("killed by {signal}"),
            other => format!("changed state: {other:?}"),
        }
    }
    // ANCHOR_END: reap
}
