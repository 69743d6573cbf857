use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use socket2::SockRef;
use test_support::{Server, connect, read_to_end};

const BIN: &str = env!("CARGO_BIN_EXE_print_addresses");

/// The line a correct server sends on `client`'s connection, worked out from
/// the client's side: the server's local address is our peer address, and
/// its remote address is our local address.
fn expected_line(client: &TcpStream) -> String {
    format!(
        "local={} remote={}\n",
        client.peer_addr().unwrap(),
        client.local_addr().unwrap()
    )
}

#[test]
fn binds_all_interfaces_and_announces_the_real_port() {
    let server = Server::start(BIN);
    assert_eq!(server.listening_on().ip().to_string(), "0.0.0.0");
    assert_ne!(server.listening_on().port(), 0);
}

#[test]
fn writes_both_ends_of_the_connection_then_closes_it() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let expected = expected_line(&client);
    // read_to_end also proves the server closed the connection.
    assert_eq!(String::from_utf8_lossy(&read_to_end(&mut client)), expected);
}

#[test]
fn local_is_the_address_the_client_dialled_not_the_listeners() {
    let server = Server::start(BIN);
    // All of 127.0.0.0/8 is loopback on Linux, and a 0.0.0.0 listener takes
    // connections to any of it.
    let dialled = SocketAddr::from(([127, 0, 0, 2], server.listening_on().port()));
    let mut client = connect(dialled);
    let expected = expected_line(&client);
    assert!(expected.starts_with(&format!("local={dialled} ")));
    assert_eq!(String::from_utf8_lossy(&read_to_end(&mut client)), expected);
}

#[test]
fn serves_one_connection_after_another() {
    let server = Server::start(BIN);
    for _ in 0..3 {
        let mut client = server.connect();
        let expected = expected_line(&client);
        assert_eq!(String::from_utf8_lossy(&read_to_end(&mut client)), expected);
    }
}

#[test]
fn a_client_that_resets_does_not_stop_the_server() {
    let mut server = Server::start(BIN);
    let quitter = server.connect();
    // SO_LINGER with a zero timeout: close(2) sends RST instead of FIN.
    SockRef::from(&quitter)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(quitter);

    let mut client = server.connect();
    let expected = expected_line(&client);
    assert_eq!(String::from_utf8_lossy(&read_to_end(&mut client)), expected);
    assert!(server.is_running(), "stderr: {}", server.stderr());
}
