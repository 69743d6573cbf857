//! What the Server Lifecycle chapter claims about close(2) on Linux, pinned
//! down with plain sockets: closing a connection whose receive queue still
//! holds unread bytes sends RST, not FIN, so the peer sees "connection reset"
//! instead of end-of-file. Read everything first and the peer gets a clean
//! end-of-file.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};

use test_support::{TIMEOUT, connect};

fn connected_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = connect(listener.local_addr().unwrap());
    let (server_side, _) = listener.accept().unwrap();
    server_side.set_read_timeout(Some(TIMEOUT)).unwrap();
    (client, server_side)
}

#[test]
fn closing_with_unread_data_resets_the_connection() {
    let (mut client, server_side) = connected_pair();
    client.write_all(b"ohai\n").unwrap();
    // Wait until the bytes are in the server's receive queue, without
    // taking them out of it.
    let mut peeked = [0u8; 5];
    assert_eq!(server_side.peek(&mut peeked).unwrap(), 5);

    drop(server_side); // close(2) with 5 unread bytes

    let mut buf = [0u8; 16];
    let err = client.read(&mut buf).expect_err("a reset, not data or EOF");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
}

#[test]
fn closing_after_reading_everything_sends_a_clean_eof() {
    let (mut client, mut server_side) = connected_pair();
    client.write_all(b"ohai\n").unwrap();
    let mut received = [0u8; 5];
    server_side.read_exact(&mut received).unwrap();

    drop(server_side); // close(2) with nothing left unread: FIN

    let mut buf = [0u8; 16];
    assert_eq!(client.read(&mut buf).unwrap(), 0, "end-of-file");
}
