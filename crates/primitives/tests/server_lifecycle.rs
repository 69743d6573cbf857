use std::io::Write;

use predicates::prelude::*;

use test_support::{Server, assert_closed};

#[test]
fn listens_on_all_interfaces_accepts_one_connection_closes_it_and_exits() {
    let mut server = Server::start(env!("CARGO_BIN_EXE_server_lifecycle"));
    assert!(server.listening_on().ip().is_unspecified(), "binds 0.0.0.0");

    let mut client = server.connect();
    let client_addr = client.local_addr().unwrap();
    // What `echo ohai | nc` does: send a line. The server never reads it.
    client.write_all(b"ohai\n").unwrap();

    assert_eq!(
        server.next_line(),
        format!("accepted a connection from {client_addr}")
    );
    assert_eq!(server.next_line(), "closed the connection");
    assert_closed(&mut client);
    assert!(server.wait_exit().success(), "stderr: {}", server.stderr());
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_server_lifecycle"))
        .env("PORT", &port)
        .timeout(test_support::TIMEOUT)
        .assert()
        .failure()
        .stderr(predicates::str::contains(format!(
            "binding 0.0.0.0:{port} failed with EADDRINUSE"
        )))
        .stderr(predicates::str::contains("panicked").not());
}
