use std::net::{SocketAddr, TcpListener};

use assert_cmd::Command;
use predicates::prelude::*;
use socket2::{Domain, SockAddr, Socket, Type};

use test_support::TIMEOUT;

const BIN: &str = env!("CARGO_BIN_EXE_reuse_address");

/// Tries to bind `addr` with SO_REUSEADDR on or off; the errno on failure.
fn bind_errno(addr: SocketAddr, reuse: bool) -> Option<i32> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_reuse_address(reuse).unwrap();
    socket
        .bind(&SockAddr::from(addr))
        .err()
        .map(|err| err.raw_os_error().unwrap())
}

#[test]
fn time_wait_blocks_a_plain_bind_and_so_reuseaddr_gets_past_it() {
    let output = Command::new(BIN)
        .env("PORT", "0")
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );

    let lines: Vec<&str> = stdout.lines().collect();
    let server: SocketAddr = lines[0]
        .strip_prefix("Listening on ")
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("first line: {stdout}"));
    let client: SocketAddr = lines[1]
        .strip_prefix("accepted a connection from ")
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("second line: {stdout}"));
    assert_eq!(server.ip().to_string(), "127.0.0.1");
    assert_ne!(server.port(), 0, "PORT=0 must be replaced by the real port");
    assert_eq!(
        stdout,
        format!(
            "Listening on {server}\n\
             accepted a connection from {client}\n\
             server closed its end first\n\
             client read end-of-file and closed its end\n\
             closed the listener\n\
             TIME_WAIT: {server} -> {client} (state 06 in /proc/net/tcp)\n\
             bind {server} without SO_REUSEADDR: EADDRINUSE (Address already in use (os error 98))\n\
             bind {server} with SO_REUSEADDR: ok\n\
             listening again on {server}\n"
        )
    );

    // The TIME_WAIT connection outlives the process (60 seconds on Linux),
    // so we can check the claim ourselves.
    assert_eq!(bind_errno(server, false), Some(98), "EADDRINUSE without it");
    assert_eq!(bind_errno(server, true), None, "bind succeeds with it");
}

#[test]
fn a_port_someone_listens_on_is_a_clear_error_even_with_so_reuseaddr() {
    // SO_REUSEADDR gets past TIME_WAIT, never past a live listener.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    Command::new(BIN)
        .env("PORT", port.to_string())
        .timeout(TIMEOUT)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "binding 127.0.0.1:{port} failed with EADDRINUSE"
        )))
        .stderr(predicate::str::contains("panicked").not());
}
