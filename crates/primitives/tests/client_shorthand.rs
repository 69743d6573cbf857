use std::net::TcpListener;

use assert_cmd::Command;
use predicates::prelude::*;

use test_support::{TIMEOUT, accept, read_to_end};

const BIN: &str = env!("CARGO_BIN_EXE_client_shorthand");

#[test]
fn connects_writes_one_request_and_closes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap();

    // HOST unset: the client resolves localhost, as TCPSocket.new would.
    let output = Command::new(BIN)
        .env_remove("HOST")
        .env("PORT", server.port().to_string())
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert_eq!(
        stdout,
        format!(
            "connected to {server}\n\
             sent \"GET / HTTP/1.0\\r\\n\\r\\n\"\n\
             closed the connection\n"
        )
    );

    // Everything the client wrote, and then end-of-file: it closed.
    let (mut connection, _) = accept(&listener);
    assert_eq!(read_to_end(&mut connection), b"GET / HTTP/1.0\r\n\r\n");
}

#[test]
fn a_refused_connection_is_a_clear_error() {
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
        .stderr(predicate::str::contains(format!(
            "connecting to 127.0.0.1:{port} failed with ECONNREFUSED"
        )))
        .stderr(predicate::str::contains("panicked").not());
}
