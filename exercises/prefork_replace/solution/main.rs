//! Exercise (Preforking): replace a worker that dies. (A solution.)
//!
//! The master keeps its copy of the listener, so that every replacement
//! inherits it, and forks a new worker for each one it reaps.

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
    // The master never accepts, but it keeps the listener open: each
    // replacement inherits it from here.

    // Ruby: loop { pid = Process.wait; ... }
    loop {
        let status = wait().context("wait(2)")?;
        if let Some(pid) = status.pid() {
            println!("worker {pid} died");
            if let Err(err) = spawn_worker(&listener) {
                eprintln!("could not replace worker {pid}: {err:#}");
            }
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
