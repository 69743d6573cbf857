use std::io::Write;
use std::net::Shutdown;

use test_support::{Server, assert_closed};

const BIN: &str = env!("CARGO_BIN_EXE_read_to_eof");

#[test]
fn binds_loopback_and_announces_the_real_port() {
    let server = Server::start(BIN);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    assert_ne!(server.listening_on().port(), 0);
}

#[test]
fn prints_everything_from_several_writes_once_the_client_half_closes() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let client_addr = client.local_addr().unwrap();
    assert_eq!(
        server.next_line(),
        format!("connection from {client_addr}: reading until EOF")
    );

    client.write_all(b"gek").unwrap();
    client.write_all(b"ko\n").unwrap();
    client.write_all(b"and more\n").unwrap();
    client.shutdown(Shutdown::Write).unwrap();

    assert_eq!(
        server.next_line(),
        r#"read to EOF: 15 bytes "gekko\nand more\n""#
    );
    assert_eq!(server.next_line(), "closed the connection");
    assert_closed(&mut client);
}

#[test]
fn keeps_reading_past_what_one_read_could_return() {
    // More than the kernel would hand over in a single read(2): a server
    // that read once instead of to EOF would print only part of it.
    let payload: Vec<u8> = (0..1_200_000).map(|i| b'a' + (i % 26) as u8).collect();
    let server = Server::start(BIN);
    let mut client = server.connect();
    server.next_line();
    for piece in payload.chunks(400_000) {
        client.write_all(piece).unwrap();
    }
    client.shutdown(Shutdown::Write).unwrap();

    let expected = format!(
        "read to EOF: 1200000 bytes {:?}",
        String::from_utf8_lossy(&payload)
    );
    let line = server.next_line();
    assert!(line == expected, "got {:?}…", &line[..line.len().min(60)]);
    assert_eq!(server.next_line(), "closed the connection");
}

#[test]
fn serves_the_next_client_only_after_the_first_sends_eof() {
    let server = Server::start(BIN);
    let mut first = server.connect();
    let first_addr = first.local_addr().unwrap();
    assert_eq!(
        server.next_line(),
        format!("connection from {first_addr}: reading until EOF")
    );
    first.write_all(b"first").unwrap();

    // The second client connects and finishes while the server is still
    // blocked reading the first, which has sent data but no EOF.
    let mut second = server.connect();
    let second_addr = second.local_addr().unwrap();
    second.write_all(b"second").unwrap();
    second.shutdown(Shutdown::Write).unwrap();

    // One connection at a time: the second waits in the listen backlog
    // until the server has read the first one to EOF and closed it.
    first.shutdown(Shutdown::Write).unwrap();
    assert_eq!(server.next_line(), r#"read to EOF: 5 bytes "first""#);
    assert_eq!(server.next_line(), "closed the connection");
    assert_eq!(
        server.next_line(),
        format!("connection from {second_addr}: reading until EOF")
    );
    assert_eq!(server.next_line(), r#"read to EOF: 6 bytes "second""#);
    assert_eq!(server.next_line(), "closed the connection");
    assert_closed(&mut first);
    assert_closed(&mut second);
}
