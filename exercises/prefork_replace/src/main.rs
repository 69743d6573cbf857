//! Exercise (Preforking): replace a worker that dies.
//!
//! The master below binds a listener, forks `CONCURRENCY` workers (default
//! 3) that accept on it and echo lines, then waits for its children. When a
//! worker dies (a crash, `kill -9`, the OOM killer), the master only reports
//! it, so the pool shrinks with every death until nobody serves at all.
//!
//! Make the master replace every worker that dies, so that the pool is
//! always back to `CONCURRENCY` workers:
//!
//! - binds `127.0.0.1` on `PORT` (default 4481; the tests set `PORT=0`) and
//!   prints `Listening on <ip>:<port>` (done for you);
//! - prints `started worker <pid>` for every worker it forks, the first ones
//!   and the replacements (done for you in `spawn_worker`);
//! - prints `worker <pid> died` when it reaps one (done for you), then
//!   forks a replacement.
//!
//! Careful: a replacement must inherit the listening socket, like the first
//! workers did. This master closes its copy once the first workers run.
//!
//! A worker that reads the line `crash` exits at once, to stand in for a
//! crash. If the master dies, the kernel sends each worker SIGTERM (that is
//! set up for you), so no worker is left behind.
//!
//! Run the tests with `just exercise prefork_replace`
//! (or `cargo test -p prefork_replace` inside `exercises/`).
//! Stuck? `just hint prefork_replace`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use anyhow::Context;
use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::sys::wait::wait;
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let addr = conventions::listen_addr("127.0.0.1")?;
    let concurrency: usize = match std::env::var("CONCURRENCY") {
        Ok(text) => text.parse().context("CONCURRENCY is not a number")?,
        Err(_) => 3,
    };
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    listener.set_reuse_address(true)?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    listener.listen(128).context("listen(2)")?;
    let local = listener.local_addr()?.as_socket().context("not IP")?;
    conventions::announce(local);

    for _ in 0..concurrency {
        spawn_worker(&listener)?;
    }
    // The master itself never accepts...
    drop(listener);

    // Ruby: loop { pid = Process.wait; ... }
    loop {
        let status = wait().context("wait(2)")?;
        if let Some(pid) = status.pid() {
            println!("worker {pid} died");
            // TODO: fork a replacement.
        }
    }
}

/// Forks one worker; returns its pid in the master. The worker never returns.
fn spawn_worker(listener: &Socket) -> anyhow::Result<Pid> {
    let master = getpid();
    // SAFETY: the master has a single thread, so the child is a complete
    // copy of it.
    match unsafe { fork() }.context("fork(2)")? {
        ForkResult::Parent { child } => {
            println!("started worker {child}");
            Ok(child)
        }
        ForkResult::Child => {
            // SIGTERM for us if the master dies; if it already has, stop.
            if prctl::set_pdeathsig(Signal::SIGTERM).is_err() || getppid() != master {
                std::process::exit(1);
            }
            loop {
                match listener.accept() {
                    Ok((connection, _)) => echo(TcpStream::from(connection)),
                    Err(err) => eprintln!("accept(2) failed: {err}"),
                }
            }
        }
    }
}

/// Sends every line back until the client closes; dies on `crash`.
fn echo(stream: TcpStream) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        if line == "crash" {
            // Stands in for a crash (without leaving a core dump behind).
            std::process::exit(70);
        }
        if writer.write_all(format!("{line}\n").as_bytes()).is_err() {
            return;
        }
    }
}
