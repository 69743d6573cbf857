use std::net::{SocketAddr, TcpListener};
use std::process::Output;

use assert_cmd::Command;
use predicates::prelude::*;

use test_support::{TIMEOUT, accept, assert_closed};

const BIN: &str = env!("CARGO_BIN_EXE_client_lifecycle");

/// Runs the client against `port` and returns what it printed.
fn run_client(host: Option<&str>, port: u16) -> Output {
    let mut command = Command::new(BIN);
    match host {
        Some(host) => command.env("HOST", host),
        None => command.env_remove("HOST"),
    };
    command
        .env("PORT", port.to_string())
        .timeout(TIMEOUT)
        .output()
        .unwrap()
}

/// The kernel's ephemeral port range, from /proc.
fn ephemeral_range() -> (u16, u16) {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let mut bounds = text.split_whitespace().map(|n| n.parse().unwrap());
    (bounds.next().unwrap(), bounds.next().unwrap())
}

#[test]
fn connects_from_an_ephemeral_port_prints_both_ends_and_closes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server: SocketAddr = listener.local_addr().unwrap();

    let output = run_client(Some("127.0.0.1"), server.port());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );

    // The connection waits in the listener's accept queue, closed by now.
    let (mut connection, client) = accept(&listener);
    assert_eq!(
        stdout,
        format!(
            "connecting to {server}\n\
             local address before connect: 0.0.0.0:0\n\
             local address: {client} (an ephemeral port)\n\
             remote address: {server}\n\
             closed the connection\n"
        )
    );
    let (low, high) = ephemeral_range();
    assert!(
        (low..=high).contains(&client.port()),
        "port {} is outside the ephemeral range {low}-{high}",
        client.port()
    );
    // The client closed: we read end-of-file.
    assert_closed(&mut connection);
}

#[test]
fn resolves_localhost_and_tries_its_addresses_until_one_listens() {
    // Only 127.0.0.1 listens. Where localhost also means ::1, the client
    // is refused there first and must go on to 127.0.0.1.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap();

    let output = run_client(None, server.port());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );

    let (_connection, client) = accept(&listener);
    let from = stdout
        .find(&format!("connecting to {server}\n"))
        .unwrap_or_else(|| panic!("never tried {server}:\n{stdout}"));
    assert_eq!(
        &stdout[from..],
        format!(
            "connecting to {server}\n\
             local address before connect: 0.0.0.0:0\n\
             local address: {client} (an ephemeral port)\n\
             remote address: {server}\n\
             closed the connection\n"
        )
    );
}

#[test]
fn a_refused_connection_is_a_clear_error() {
    // A port that was free a moment ago and that nothing listens on now.
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
