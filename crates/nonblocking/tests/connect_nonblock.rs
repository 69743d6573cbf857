use std::net::TcpListener;

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use test_support::TIMEOUT;

const BIN: &str = env!("CARGO_BIN_EXE_connect_nonblock");

#[test]
fn connects_through_einprogress_poll_and_so_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let output = Command::new(BIN)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");

    // The handshake completed, so the connection waits in the accept queue
    // even though the client has exited: accept(2) returns at once.
    listener.set_nonblocking(true).unwrap();
    let (_connection, peer) = listener.accept().expect("a connection was made");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!(
            "connecting to 127.0.0.1:{port}\n\
             connect: EINPROGRESS, waiting in poll for writability\n\
             SO_ERROR: 0\n\
             connected to 127.0.0.1:{port} from {peer}\n"
        )
    );
}

#[test]
fn localhost_ends_connected_to_the_ipv4_listener() {
    // `localhost` may resolve to ::1 as well (it depends on /etc/hosts); if
    // so, ::1 refuses first and the client goes on to 127.0.0.1.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    Command::new(BIN)
        .env_remove("HOST")
        .env("PORT", port.to_string())
        .timeout(TIMEOUT)
        .assert()
        .success()
        .stdout(contains(format!(
            "SO_ERROR: 0\nconnected to 127.0.0.1:{port} from 127.0.0.1:"
        )));
}

#[test]
fn a_closed_port_is_refused_with_a_clear_error_and_exit_code_1() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    Command::new(BIN)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .timeout(TIMEOUT)
        .assert()
        .code(1)
        .stdout(format!(
            "connecting to 127.0.0.1:{port}\n\
             connect: EINPROGRESS, waiting in poll for writability\n\
             SO_ERROR: ECONNREFUSED\n"
        ))
        .stderr(contains(format!(
            "Error: connecting to 127.0.0.1:{port} failed with ECONNREFUSED: \
             nothing is listening there; start the chapter's server first, or set HOST/PORT"
        )))
        .stderr(contains("panicked").not());
}
