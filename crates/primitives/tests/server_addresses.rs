use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use socket2::SockRef;
use test_support::{Server, assert_closed, connect};

const BIN: &str = env!("CARGO_BIN_EXE_server_addresses");

#[test]
fn prints_the_connections_own_addresses_not_the_listeners() {
    let server = Server::start(BIN);
    assert!(server.listening_on().ip().is_unspecified(), "binds 0.0.0.0");

    let mut client = server.connect();
    // The connection's local address is the concrete address we dialled
    // (127.0.0.1), not the 0.0.0.0 the listener is bound to; its remote
    // address is our socket's address, port included.
    assert_eq!(
        server.next_line(),
        format!("local address: 127.0.0.1:{}", server.port())
    );
    assert_eq!(
        server.next_line(),
        format!("remote address: {}", client.local_addr().unwrap())
    );
    assert_closed(&mut client);
}

#[test]
fn the_local_address_is_whichever_address_the_client_dialled() {
    let server = Server::start(BIN);
    // All of 127.0.0.0/8 is loopback on Linux, and 0.0.0.0 covers it all.
    let dialled = SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
        server.listening_on().port(),
    );
    let mut client = connect(dialled);
    assert_eq!(server.next_line(), format!("local address: {dialled}"));
    assert_eq!(
        server.next_line(),
        format!("remote address: {}", client.local_addr().unwrap())
    );
    assert_closed(&mut client);
}

#[test]
fn two_connections_differ_only_in_the_clients_port() {
    let server = Server::start(BIN);
    let mut first = server.connect();
    let first_local = server.next_line();
    let first_remote = server.next_line();
    let mut second = server.connect();
    let second_local = server.next_line();
    let second_remote = server.next_line();

    // Same local address and port, same remote IP: only the remote port
    // tells the two connections apart.
    assert_eq!(first_local, second_local);
    assert_eq!(
        first_remote,
        format!("remote address: {}", first.local_addr().unwrap())
    );
    assert_eq!(
        second_remote,
        format!("remote address: {}", second.local_addr().unwrap())
    );
    assert_ne!(first_remote, second_remote);
    assert_closed(&mut first);
    assert_closed(&mut second);
}

#[test]
fn a_client_that_resets_at_once_does_not_stop_the_server() {
    let mut server = Server::start(BIN);
    let quitter = server.connect();
    // SO_LINGER with a zero timeout makes close(2) send RST instead of FIN.
    SockRef::from(&quitter)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(quitter);

    let mut client = server.connect();
    let expected = format!("remote address: {}", client.local_addr().unwrap());
    server.expect_line(&expected);
    assert_closed(&mut client);
    assert!(server.is_running(), "stderr: {}", server.stderr());
}
