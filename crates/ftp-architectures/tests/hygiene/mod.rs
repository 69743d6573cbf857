//! Process hygiene for the forking servers (`process_per_connection`,
//! `preforking`, and any other that forks): which children a server has,
//! read from `/proc`, and the tests that check none is left behind.
//!
//! A test file uses it beside the conformance suite:
//!
//! ```ignore
//! mod common;
//! mod hygiene;
//! #[test]
//! fn sigint_stops_every_worker() {
//!     hygiene::signal_stops_every_child(BIN, &[("CONCURRENCY", "2")], Signal::SIGINT, 1, 2);
//! }
//! ```
//!
//! Linux only: it reads `/proc/<pid>/stat`.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use test_support::{Server, TIMEOUT, assert_closed};

use crate::common::{Fixture, Ftp, start};

/// One process, as `/proc/<pid>/stat` describes it.
#[derive(Clone, Copy, Debug)]
pub struct Process {
    pub pid: u32,
    pub parent: u32,
    /// `R` running, `S` sleeping, `Z` zombie (exited, not yet reaped)…
    pub state: char,
    /// Clock ticks after boot when it started: with the pid, it tells this
    /// process apart from a later one that reuses the pid.
    pub start_time: u64,
}

impl Process {
    /// Reads `/proc/<pid>/stat`, or `None` if there is no such process.
    pub fn read(pid: u32) -> Option<Process> {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) state ppid … starttime …": comm may hold spaces and
        // parentheses, so the fields are counted from the last ')'.
        let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
        Some(Process {
            pid,
            state: fields.first()?.chars().next()?,
            parent: fields.get(1)?.parse().ok()?,
            start_time: fields.get(19)?.parse().ok()?,
        })
    }

    /// Whether `other` is this very process (same pid, same start time).
    pub fn is(&self, other: &Process) -> bool {
        self.pid == other.pid && self.start_time == other.start_time
    }

    /// Whether this very process still runs: it exists, it is the same
    /// process (same start time), and it is not a zombie.
    pub fn is_running(&self) -> bool {
        Process::read(self.pid)
            .is_some_and(|now| now.start_time == self.start_time && !matches!(now.state, 'Z' | 'X'))
    }
}

/// Every process whose parent is `parent`, zombies included, by pid.
pub fn children_of(parent: u32) -> Vec<Process> {
    let mut children: Vec<Process> = fs::read_dir("/proc")
        .expect("reading /proc")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter_map(Process::read)
        .filter(|process| process.parent == parent)
        .collect();
    children.sort_by_key(|process| process.pid);
    children
}

/// How many threads process `pid` has (the entries of `/proc/<pid>/task`).
pub fn thread_count(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/task"))
        .expect("reading /proc/<pid>/task")
        .count()
}

/// Polls `check` every 10 ms until it returns `Some`, and fails the test if
/// it has not after [`TIMEOUT`]. For conditions no line or byte announces,
/// such as a process disappearing.
pub fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "still waiting after {TIMEOUT:?} for {what}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until `server` has exactly `count` children, all running, and
/// returns them.
pub fn wait_for_children(server: &Server, count: usize) -> Vec<Process> {
    wait_for(&format!("{count} running children of the server"), || {
        let children = children_of(server.pid());
        (children.len() == count && children.iter().all(Process::is_running)).then_some(children)
    })
}

/// Sends `signal` to `pid`.
pub fn send(pid: u32, signal: Signal) {
    kill(Pid::from_raw(pid as i32), signal).unwrap_or_else(|err| panic!("kill {pid}: {err}"));
}

/// `clients` clients connect (and are greeted); the server then has
/// `children` children. After `signal` the server exits 0, every one of
/// those children is gone (not even a zombie of ours is left), and every
/// client's connection is closed. Returns the (exited) server, whose
/// stdout lines can still be read.
pub fn signal_stops_every_child(
    bin: &str,
    envs: &[(&str, &str)],
    signal: Signal,
    clients: usize,
    children: usize,
) -> Server {
    let fixture = Fixture::new();
    let mut server = start(bin, &fixture, envs);
    let mut connected: Vec<Ftp> = (0..clients).map(|_| Ftp::connect(&server)).collect();
    // One client in the middle of a command, to show it does not matter.
    if let Some(last) = connected.last_mut() {
        last.send(b"NO");
    }
    let before = wait_for_children(&server, children);

    send(server.pid(), signal);
    let status = server.wait_exit();
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        server.stderr()
    );
    // The server waited for each child before exiting: they are gone now.
    let left: Vec<&Process> = before.iter().filter(|child| child.is_running()).collect();
    assert!(
        left.is_empty(),
        "still running after the server exited: {left:?}"
    );
    for client in &mut connected {
        assert_closed(&mut client.control);
    }
    server
}

/// The server dies by SIGKILL, so it can neither signal nor reap anyone:
/// its children must still end (the kernel sends them their parent-death
/// signal) instead of living on as orphans.
pub fn children_die_with_the_server(
    bin: &str,
    envs: &[(&str, &str)],
    clients: usize,
    children: usize,
) {
    let fixture = Fixture::new();
    let mut server = start(bin, &fixture, envs);
    let _connected: Vec<Ftp> = (0..clients).map(|_| Ftp::connect(&server)).collect();
    let before = wait_for_children(&server, children);

    send(server.pid(), Signal::SIGKILL);
    server.wait_exit();
    // Orphans are re-parented, and whoever adopts them may or may not reap
    // them: a zombie counts as ended, a running process does not.
    wait_for("every child of the killed server to end", || {
        before.iter().all(|child| !child.is_running()).then_some(())
    });
}

/// A worker killed with SIGKILL is replaced: the server has `concurrency`
/// running children again, none of them the dead one, and `concurrency`
/// clients are then greeted at the same time. Returns the server and the
/// pid of the worker that was killed.
pub fn killed_worker_is_replaced(bin: &str, concurrency: usize) -> (Server, u32) {
    let fixture = Fixture::new();
    let count = concurrency.to_string();
    let server = start(bin, &fixture, &[("CONCURRENCY", &count)]);
    let before = wait_for_children(&server, concurrency);
    let victim = before[0];

    send(victim.pid, Signal::SIGKILL);
    let after = wait_for("the dead worker to be replaced", || {
        let now = children_of(server.pid());
        let replaced = now.len() == concurrency
            && now.iter().all(Process::is_running)
            && !now.iter().any(|child| child.is(&victim));
        replaced.then_some(now)
    });
    assert!(!victim.is_running());
    assert_eq!(
        after
            .iter()
            .filter(|child| before.iter().any(|old| old.is(child)))
            .count(),
        concurrency - 1,
        "only the dead worker is new: before {before:?}, after {after:?}"
    );

    let mut clients: Vec<Ftp> = (0..concurrency).map(|_| Ftp::connect(&server)).collect();
    for client in &mut clients {
        client.expect("PWD", 257);
    }
    (server, victim.pid)
}

/// A child that cannot act on SIGTERM must not hang the server's stop. We
/// stop the first child with SIGSTOP (a stopped process keeps SIGTERM
/// pending, but SIGKILL still ends it), then send `signal` to the server:
/// after `SHUTDOWN_GRACE` it must SIGKILL that child, reap it, and exit 0
/// with none of its children left. `envs` should set a short
/// `SHUTDOWN_GRACE` (the test asserts no timing, it only saves time).
/// Returns the (exited) server and the pid of the stopped child.
pub fn stuck_child_is_killed(
    bin: &str,
    envs: &[(&str, &str)],
    signal: Signal,
    clients: usize,
    children: usize,
) -> (Server, u32) {
    let fixture = Fixture::new();
    let mut server = start(bin, &fixture, envs);
    let _connected: Vec<Ftp> = (0..clients).map(|_| Ftp::connect(&server)).collect();
    let before = wait_for_children(&server, children);
    let stuck = before[0];
    send(stuck.pid, Signal::SIGSTOP);
    wait_for("the child to be stopped", || {
        Process::read(stuck.pid)
            .filter(|now| now.is(&stuck) && now.state == 'T')
            .map(|_| ())
    });

    send(server.pid(), signal);
    let status = server.wait_exit();
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        server.stderr()
    );
    let left: Vec<&Process> = before.iter().filter(|child| child.is_running()).collect();
    assert!(
        left.is_empty(),
        "still running after the server exited: {left:?}"
    );
    (server, stuck.pid)
}
