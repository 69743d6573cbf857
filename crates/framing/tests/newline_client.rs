use std::io::Write;
use std::net::TcpListener;
use std::thread;

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use test_support::{Server, read_line};

const BIN: &str = env!("CARGO_BIN_EXE_newline_client");

/// Runs the client against `port` on a thread of its own, so that the test
/// can play the server meanwhile.
fn run_client(port: u16) -> thread::JoinHandle<std::process::Output> {
    thread::spawn(move || {
        Command::new(BIN)
            .env("PORT", port.to_string())
            .timeout(test_support::TIMEOUT)
            .output()
            .unwrap()
    })
}

#[test]
fn talks_to_newline_server_over_one_connection() {
    let server = Server::start(env!("CARGO_BIN_EXE_newline_server"));
    Command::new(BIN)
        .env("PORT", server.port())
        .timeout(test_support::TIMEOUT)
        .assert()
        .success()
        .stdout(
            "SET prez obama -> OK\n\
             GET prez -> VALUE obama\n\
             GET vp -> NIL\n\
             exit -> (connection closed)\n",
        );
}

#[test]
fn sends_one_line_per_request_and_prints_each_reply_line() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = run_client(listener.local_addr().unwrap().port());

    // One connection for everything; each request a line, each answered.
    let (mut connection, _) = test_support::accept(&listener);
    for (request, reply) in [
        ("SET prez obama\n", "OK\n"),
        ("GET prez\n", "VALUE barack\n"),
        ("GET vp\n", "NIL\n"),
    ] {
        assert_eq!(read_line(&mut connection), request);
        connection.write_all(reply.as_bytes()).unwrap();
    }
    assert_eq!(read_line(&mut connection), "exit\n");
    drop(connection);

    let output = client.join().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "SET prez obama -> OK\n\
         GET prez -> VALUE barack\n\
         GET vp -> NIL\n\
         exit -> (connection closed)\n"
    );
}

#[test]
fn a_server_that_hangs_up_instead_of_replying_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = run_client(listener.local_addr().unwrap().port());
    let (mut connection, _) = test_support::accept(&listener);
    assert_eq!(read_line(&mut connection), "SET prez obama\n");
    drop(connection);

    let output = client.join().unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(output.stdout, b"");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("the server closed the connection") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn no_server_is_a_clear_error() {
    // A port that was free a moment ago and has no listener now.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    Command::new(BIN)
        .env("PORT", port.to_string())
        .timeout(test_support::TIMEOUT)
        .assert()
        .code(1)
        .stderr(contains(format!("no CloudHash server at localhost:{port}")))
        .stderr(contains("ECONNREFUSED"))
        .stderr(contains("panicked").not());
}
