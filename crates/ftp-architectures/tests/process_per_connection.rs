//! `process_per_connection`: the conformance suite, then what forking a
//! child per client must get right — the cap, reaping, and leaving no child
//! behind when stopped.

mod common;
mod hygiene;
mod limits;

use std::net::SocketAddr;

use nix::sys::signal::Signal;
use test_support::{Server, assert_closed};

use common::{Fixture, Ftp, start};

const BIN: &str = env!("CARGO_BIN_EXE_process_per_connection");

common::conformance_tests!(BIN);
common::concurrency_tests!(BIN);

#[test]
fn past_max_connections_a_client_gets_421_until_a_child_has_exited() {
    limits::connection_cap(BIN, |server: &Server, first: SocketAddr| {
        let line = server.next_line();
        let pid = line
            .strip_prefix("child ")
            .and_then(|rest| rest.strip_suffix(&format!(" serves {first} (1 of 2)")))
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        let line = server.next_line();
        assert!(
            line.starts_with("child ") && line.ends_with(" (2 of 2)"),
            "{line:?}"
        );
        let line = server.next_line();
        assert!(
            line.starts_with("refused 127.0.0.1:")
                && line.ends_with(": MAX_CONNECTIONS (2) reached"),
            "{line:?}"
        );
        // The parent has reaped the first child: its place is free.
        assert_eq!(
            server.next_line(),
            format!("child {pid} exited with status 0 (1 live)")
        );
    });
}

#[test]
fn children_are_reaped_as_their_clients_leave() {
    let fixture = Fixture::new();
    let server = start(BIN, &fixture, &[]);
    let mut polite = Ftp::connect(&server);
    let abrupt = Ftp::connect(&server);
    let mut idle = Ftp::connect(&server);
    let children = hygiene::wait_for_children(&server, 3);

    polite.expect("QUIT", 221);
    assert_closed(&mut polite.control);
    drop(abrupt); // hangs up without QUIT
    idle.expect("NOOP", 200);
    drop(idle);

    // A parent that does not reap keeps each child as a zombie for ever;
    // ours reaps each as it exits, so it soon has no child at all.
    hygiene::wait_for("the server to have no child, zombies included", || {
        hygiene::children_of(server.pid()).is_empty().then_some(())
    });
    // Three forks, three exits, each exit announced with its status.
    let lines: Vec<String> = (0..6).map(|_| server.next_line()).collect();
    for child in &children {
        let exited = format!("child {} exited with status 0 (", child.pid);
        assert!(
            lines.iter().any(|line| line.starts_with(&exited)),
            "no {exited:?} in {lines:?}"
        );
    }
}

#[test]
fn sigint_stops_every_child_and_exits() {
    let server = hygiene::signal_stops_every_child(BIN, &[], Signal::SIGINT, 2, 2);
    server.expect_line("SIGINT: stopping 2 children");
    server.expect_line("stopped");
}

#[test]
fn sigterm_stops_every_child_and_exits() {
    let server = hygiene::signal_stops_every_child(BIN, &[], Signal::SIGTERM, 2, 2);
    server.expect_line("SIGTERM: stopping 2 children");
    server.expect_line("stopped");
}

#[test]
fn children_die_with_the_parent_even_on_sigkill() {
    hygiene::children_die_with_the_server(BIN, &[], 2, 2);
}

#[test]
fn a_stopped_child_is_sigkilled_after_the_grace_period() {
    let envs = [("SHUTDOWN_GRACE", "0.5")];
    let (server, stuck) = hygiene::stuck_child_is_killed(BIN, &envs, Signal::SIGINT, 1, 1);
    server.expect_line("SIGINT: stopping 1 children");
    server.expect_line(&format!("{stuck} still running after 500ms: SIGKILL"));
    server.expect_line(&format!("child {stuck} killed by SIGKILL"));
    server.expect_line("stopped");
}
