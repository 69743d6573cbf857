//! Every server of the chapter refuses a port that is already taken with a
//! message naming the address and EADDRINUSE, and a non-zero exit (no panic).

use std::net::{Ipv6Addr, SocketAddr, TcpListener};

use assert_cmd::Command;
use predicates::prelude::*;
use socket2::{Domain, Socket, Type};

const SERVERS: [&str; 5] = [
    env!("CARGO_BIN_EXE_server_addresses"),
    env!("CARGO_BIN_EXE_accept_loop"),
    env!("CARGO_BIN_EXE_close_write"),
    env!("CARGO_BIN_EXE_tcp_listener_shorthand"),
    env!("CARGO_BIN_EXE_tcp_server_loop"),
];

#[test]
fn every_server_reports_a_taken_ipv4_port_and_exits() {
    for bin in SERVERS {
        let taken = TcpListener::bind("0.0.0.0:0").unwrap();
        let port = taken.local_addr().unwrap().port().to_string();
        Command::new(bin)
            .env("PORT", &port)
            .timeout(test_support::TIMEOUT)
            .assert()
            .failure()
            .stderr(predicate::str::contains(format!(
                "binding 0.0.0.0:{port} failed with EADDRINUSE"
            )))
            .stderr(predicate::str::contains("panicked").not());
    }
}

#[test]
fn tcp_server_loop_reports_a_port_taken_only_for_ipv6() {
    let (_taken, port) = ipv6_only_listener_on_a_port_free_for_ipv4();
    Command::new(env!("CARGO_BIN_EXE_tcp_server_loop"))
        .env("PORT", port.to_string())
        .timeout(test_support::TIMEOUT)
        .assert()
        .failure()
        .stderr(predicate::str::contains(format!(
            "binding [::]:{port} failed with EADDRINUSE"
        )))
        .stderr(predicate::str::contains("panicked").not());
}

/// An IPv6-only listener on some port `p` such that 0.0.0.0:`p` was free a
/// moment ago, so that the server's IPv4 bind succeeds and its IPv6 one fails.
fn ipv6_only_listener_on_a_port_free_for_ipv4() -> (Socket, u16) {
    for _ in 0..20 {
        let socket = Socket::new(Domain::IPV6, Type::STREAM, None).unwrap();
        socket.set_only_v6(true).unwrap();
        socket
            .bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)).into())
            .unwrap();
        socket.listen(1).unwrap();
        let port = socket.local_addr().unwrap().as_socket().unwrap().port();
        if TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return (socket, port);
        }
    }
    panic!("found no port free for IPv4 whose IPv6 twin we could take");
}
