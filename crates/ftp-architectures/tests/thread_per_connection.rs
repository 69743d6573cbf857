//! `thread_per_connection`: the conformance suite, the connection cap, and
//! a thread that comes and goes with each client.

mod common;
mod hygiene;
mod limits;

use std::net::SocketAddr;

use test_support::{Server, assert_closed};

use common::{Fixture, Ftp, start};

const BIN: &str = env!("CARGO_BIN_EXE_thread_per_connection");

common::conformance_tests!(BIN);
common::concurrency_tests!(BIN);

#[test]
fn past_max_connections_a_client_gets_421_until_a_thread_is_done() {
    limits::connection_cap(BIN, |server: &Server, first: SocketAddr| {
        assert_eq!(
            server.next_line(),
            format!("thread serves {first} (1 of 2)")
        );
        let line = server.next_line();
        assert!(
            line.starts_with("thread serves 127.0.0.1:") && line.ends_with(" (2 of 2)"),
            "{line:?}"
        );
        let line = server.next_line();
        assert!(
            line.starts_with("refused 127.0.0.1:")
                && line.ends_with(": MAX_CONNECTIONS (2) reached"),
            "{line:?}"
        );
        // The first client's thread has given its slot back.
        assert_eq!(server.next_line(), format!("{first} done (1 live)"));
    });
}

#[test]
fn one_thread_per_connected_client() {
    let fixture = Fixture::new();
    let server = start(BIN, &fixture, &[]);
    // Only the main thread, blocked in accept(2).
    hygiene::wait_for("a single thread", || {
        (hygiene::thread_count(server.pid()) == 1).then_some(())
    });

    let mut first = Ftp::connect(&server);
    let second = Ftp::connect(&server);
    hygiene::wait_for("one thread per client, plus main", || {
        (hygiene::thread_count(server.pid()) == 3).then_some(())
    });

    first.expect("QUIT", 221);
    assert_closed(&mut first.control);
    drop(second);
    hygiene::wait_for("the client threads to end", || {
        (hygiene::thread_count(server.pid()) == 1).then_some(())
    });
}
