//! The conformance suite against `hybrid`, the tests every reactor must
//! pass, and the master's care of its workers: a dead worker is replaced,
//! and no worker outlives the master.

mod common;
mod hygiene;
mod reactor_suite;

use nix::sys::signal::Signal;

use common::{Fixture, start};

const BIN: &str = env!("CARGO_BIN_EXE_hybrid");

common::conformance_tests!(BIN);
common::concurrency_tests!(BIN);
reactor_suite::reactor_tests!(BIN);

#[test]
fn forks_concurrency_workers_before_any_client() {
    let fixture = Fixture::new();
    let server = start(BIN, &fixture, &[("CONCURRENCY", "3")]);
    let mut announced: Vec<u32> = (0..3)
        .map(|_| {
            let line = server.next_line();
            line.strip_prefix("started worker ")
                .and_then(|pid| pid.parse().ok())
                .unwrap_or_else(|| panic!("unexpected line {line:?}"))
        })
        .collect();
    announced.sort();
    let children = hygiene::wait_for_children(&server, 3);
    let pids: Vec<u32> = children.iter().map(|child| child.pid).collect();
    assert_eq!(pids, announced);
    // Each worker is one thread: a reactor, not a pool.
    for pid in pids {
        assert_eq!(hygiene::thread_count(pid), 1);
    }
}

#[test]
fn a_killed_worker_is_replaced() {
    let (server, victim) = hygiene::killed_worker_is_replaced(BIN, 2);
    server.expect_line(&format!("worker {victim} killed by SIGKILL"));
    let line = server.next_line();
    assert!(line.starts_with("started worker "), "{line:?}");
}

#[test]
fn sigint_stops_every_worker_and_exits() {
    let envs = [("CONCURRENCY", "3")];
    let server = hygiene::signal_stops_every_child(BIN, &envs, Signal::SIGINT, 5, 3);
    server.expect_line("SIGINT: stopping 3 workers");
    server.expect_line("stopped");
}

#[test]
fn sigterm_stops_every_worker_and_exits() {
    let envs = [("CONCURRENCY", "2")];
    let server = hygiene::signal_stops_every_child(BIN, &envs, Signal::SIGTERM, 3, 2);
    server.expect_line("SIGTERM: stopping 2 workers");
    server.expect_line("stopped");
}

/// Even a master killed with SIGKILL, which cannot stop its workers itself,
/// leaves none behind: each worker asked the kernel (PR_SET_PDEATHSIG) for
/// a SIGTERM when its parent dies.
#[test]
fn workers_die_with_the_master_even_on_sigkill() {
    hygiene::children_die_with_the_server(BIN, &[("CONCURRENCY", "2")], 2, 2);
}

#[test]
fn concurrency_zero_is_refused() {
    let fixture = Fixture::new();
    let mut command = std::process::Command::new(BIN);
    command
        .env("PORT", "0")
        .env("FTP_ROOT", &fixture.root)
        .env("CONCURRENCY", "0");
    let output = test_support::run(command);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("CONCURRENCY must be at least 1"),
        "stderr: {stderr}"
    );
}

#[test]
fn a_stopped_worker_is_sigkilled_after_the_grace_period() {
    let envs = [("CONCURRENCY", "2"), ("SHUTDOWN_GRACE", "0.5")];
    let (server, stuck) = hygiene::stuck_child_is_killed(BIN, &envs, Signal::SIGINT, 0, 2);
    server.expect_line("SIGINT: stopping 2 workers");
    server.expect_line(&format!("{stuck} still running after 500ms: SIGKILL"));
    server.expect_line(&format!("worker {stuck} killed by SIGKILL"));
    server.expect_line("stopped");
}
