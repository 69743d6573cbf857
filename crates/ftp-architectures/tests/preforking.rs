//! `preforking`: the conformance suite, then what a master and its workers
//! must get right — a fixed pool, a dead worker replaced, and no worker
//! left behind when stopped.

mod common;
mod hygiene;
mod limits;

use std::process::Command;

use nix::sys::signal::Signal;

use common::{Fixture, start};

const BIN: &str = env!("CARGO_BIN_EXE_preforking");

common::conformance_tests!(BIN);
common::concurrency_tests!(BIN);

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
}

#[test]
fn serves_at_most_concurrency_clients_at_once() {
    limits::pool_serves_at_most_concurrency(BIN);
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
    let envs = [("CONCURRENCY", "2")];
    let server = hygiene::signal_stops_every_child(BIN, &envs, Signal::SIGINT, 1, 2);
    server.expect_line("SIGINT: stopping 2 workers");
    server.expect_line("stopped");
}

#[test]
fn sigterm_stops_every_worker_and_exits() {
    let envs = [("CONCURRENCY", "2")];
    let server = hygiene::signal_stops_every_child(BIN, &envs, Signal::SIGTERM, 1, 2);
    server.expect_line("SIGTERM: stopping 2 workers");
    server.expect_line("stopped");
}

#[test]
fn workers_die_with_the_master_even_on_sigkill() {
    hygiene::children_die_with_the_server(BIN, &[("CONCURRENCY", "2")], 1, 2);
}

#[test]
fn concurrency_zero_is_refused() {
    let fixture = Fixture::new();
    let mut command = Command::new(BIN);
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
    let (server, stuck) = hygiene::stuck_child_is_killed(BIN, &envs, Signal::SIGTERM, 0, 2);
    server.expect_line("SIGTERM: stopping 2 workers");
    server.expect_line(&format!("{stuck} still running after 500ms: SIGKILL"));
    server.expect_line(&format!("worker {stuck} killed by SIGKILL"));
    server.expect_line("stopped");
}
