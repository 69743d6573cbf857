//! `thread_pool`: the conformance suite, a pool of a fixed size that serves
//! that many clients at once, and threads that are reused, not made per
//! client.

mod common;
mod hygiene;
mod limits;

use std::process::Command;

use common::{Fixture, Ftp, start};

const BIN: &str = env!("CARGO_BIN_EXE_thread_pool");

common::conformance_tests!(BIN);
common::concurrency_tests!(BIN);

#[test]
fn serves_at_most_concurrency_clients_at_once() {
    limits::pool_serves_at_most_concurrency(BIN);
}

#[test]
fn runs_concurrency_threads_whatever_the_number_of_clients() {
    let fixture = Fixture::new();
    let server = start(BIN, &fixture, &[("CONCURRENCY", "3")]);
    let main_and_three = || (hygiene::thread_count(server.pid()) == 4).then_some(());
    hygiene::wait_for("main and 3 pool threads", main_and_three);

    // Five clients, one after another: the same three threads serve them.
    for n in 0..5 {
        let mut client = Ftp::connect(&server);
        client.expect("QUIT", 221);
        let line = server.next_line();
        assert!(
            line.starts_with("worker ") && line.contains(" serves 127.0.0.1:"),
            "client {n}: {line:?}"
        );
    }
    assert_eq!(hygiene::thread_count(server.pid()), 4);
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
