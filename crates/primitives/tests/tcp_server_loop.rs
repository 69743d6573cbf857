use std::net::{Ipv6Addr, SocketAddr};

use test_support::{Server, assert_closed, connect};

const BIN: &str = env!("CARGO_BIN_EXE_tcp_server_loop");

#[test]
fn listens_on_both_wildcards_with_the_same_port() {
    let server = Server::start(BIN);
    let port = server.listening_on().port();
    assert_eq!(server.listening_on().to_string(), format!("0.0.0.0:{port}"));
    assert_ne!(port, 0);
    assert_eq!(server.next_line(), format!("Also listening on [::]:{port}"));
}

#[test]
fn accepts_ipv4_and_ipv6_clients_each_on_its_own_listener() {
    let server = Server::start(BIN);
    let port = server.listening_on().port();
    server.expect_line(&format!("Also listening on [::]:{port}"));

    let mut v4 = connect(SocketAddr::from(([127, 0, 0, 1], port)));
    assert_eq!(
        server.next_line(),
        format!(
            "accepted a connection from {} on 0.0.0.0:{port}",
            v4.local_addr().unwrap()
        )
    );
    assert_closed(&mut v4);

    let mut v6 = connect(SocketAddr::from((Ipv6Addr::LOCALHOST, port)));
    assert_eq!(
        server.next_line(),
        format!(
            "accepted a connection from {} on [::]:{port}",
            v6.local_addr().unwrap()
        )
    );
    assert_closed(&mut v6);
}

#[test]
fn an_ipv4_mapped_address_reaches_the_ipv4_listener() {
    let server = Server::start(BIN);
    let port = server.listening_on().port();
    server.expect_line(&format!("Also listening on [::]:{port}"));

    // An IPv6 socket dialling ::ffff:127.0.0.1 really speaks IPv4. Because the
    // IPv6 listener is IPV6_V6ONLY, the IPv4 listener gets the connection and
    // sees a plain IPv4 peer.
    let mapped: Ipv6Addr = "::ffff:127.0.0.1".parse().unwrap();
    let mut client = connect(SocketAddr::from((mapped, port)));
    let SocketAddr::V6(local) = client.local_addr().unwrap() else {
        panic!("an IPv6 socket has an IPv6 local address");
    };
    let peer = SocketAddr::from((local.ip().to_ipv4_mapped().unwrap(), local.port()));
    assert_eq!(
        server.next_line(),
        format!("accepted a connection from {peer} on 0.0.0.0:{port}")
    );
    assert_closed(&mut client);
}
