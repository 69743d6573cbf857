use std::io::Write;
use std::net::Shutdown;

use test_support::{Server, assert_closed};

const BIN: &str = env!("CARGO_BIN_EXE_readpartial");

#[test]
fn binds_loopback_and_announces_the_real_port() {
    let server = Server::start(BIN);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
}

#[test]
fn prints_each_write_as_it_arrives_without_waiting_for_a_full_buffer() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let client_addr = client.local_addr().unwrap();
    assert_eq!(server.next_line(), format!("connection from {client_addr}"));

    // The buffer has room for 100 KiB, yet 5 bytes come straight back: the
    // connection is still open, so no EOF forced the read to return.
    client.write_all(b"first").unwrap();
    assert_eq!(server.next_line(), r#"read(2) returned 5 bytes: "first""#);
    client.write_all(b"second").unwrap();
    assert_eq!(server.next_line(), r#"read(2) returned 6 bytes: "second""#);

    // EOF is a read of 0 bytes, which ends the loop for this connection.
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(server.next_line(), "read(2) returned 0 bytes: EOF");
    assert_eq!(server.next_line(), "closed the connection");
    assert_closed(&mut client);
}

#[test]
fn goes_on_to_the_next_client_after_eof() {
    let server = Server::start(BIN);
    for word in ["one", "two"] {
        let mut client = server.connect();
        server.next_line();
        client.write_all(word.as_bytes()).unwrap();
        assert_eq!(
            server.next_line(),
            format!("read(2) returned 3 bytes: {word:?}")
        );
        client.shutdown(Shutdown::Write).unwrap();
        assert_eq!(server.next_line(), "read(2) returned 0 bytes: EOF");
        assert_eq!(server.next_line(), "closed the connection");
    }
}
