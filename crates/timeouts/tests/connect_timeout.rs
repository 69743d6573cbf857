use std::net::{SocketAddr, TcpListener};

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use socket2::{Domain, SockAddr, Socket, Type};
use test_support::Server;

const BIN: &str = env!("CARGO_BIN_EXE_connect_timeout");

fn client(port: u16) -> Command {
    let mut command = Command::new(BIN);
    command
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .timeout(test_support::TIMEOUT);
    command
}

#[test]
fn connects_to_a_listening_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    client(port)
        .assert()
        .success()
        .stdout(format!("connected to 127.0.0.1:{port}\n"));
}

/// With HOST unset the client resolves `localhost` and tries each address
/// in turn; where `localhost` is `::1` first, that one is refused (the
/// listener is IPv4 only) before 127.0.0.1 connects.
#[test]
fn tries_each_address_of_localhost() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    Command::new(BIN)
        .env_remove("HOST")
        .env("PORT", port.to_string())
        .timeout(test_support::TIMEOUT)
        .assert()
        .success()
        .stdout(contains(format!("connected to 127.0.0.1:{port}\n")));
}

/// `full_backlog` never accepts and keeps its accept queue full, so the
/// kernel drops our SYN and the connect hangs: only the timeout ends it.
#[test]
fn gives_up_with_a_timed_out_error_when_the_syn_is_dropped() {
    let server = Server::start(env!("CARGO_BIN_EXE_full_backlog"));
    assert_eq!(
        server.lines_before_listening(),
        ["accept queue full: 1 connection waiting, backlog 0; new SYNs to this port are dropped"]
    );
    let port = server.listening_on().port();
    client(port)
        .env("TIMEOUT", "0.3")
        .assert()
        .code(1)
        .stdout(format!(
            "127.0.0.1:{port}: connect timed out (TIMEOUT is 300ms)\n"
        ))
        .stderr(contains(format!("could not connect to 127.0.0.1:{port}")))
        .stderr(contains("connect timed out (TIMEOUT is 300ms)"))
        .stderr(contains("panicked").not());
}

/// A closed port answers with a reset at once: refused, not timed out.
#[test]
fn a_refused_connection_is_reported_as_refused() {
    // Bound but not listening: the port is ours, and a SYN to it is refused.
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SockAddr::from(SocketAddr::from(([127, 0, 0, 1], 0))))
        .unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    client(port)
        .assert()
        .code(1)
        .stdout(format!(
            "127.0.0.1:{port}: Connection refused (os error 111)\n"
        ))
        .stderr(contains("timed out").not())
        .stderr(contains("panicked").not());
}
