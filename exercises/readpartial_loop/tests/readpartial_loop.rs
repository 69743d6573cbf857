use std::io::Write;
use std::net::Shutdown;

use test_support::{Server, assert_closed};

const BIN: &str = env!("CARGO_BIN_EXE_readpartial_loop");

/// The byte count of a `read N bytes: "…"` line.
fn read_size(line: &str) -> usize {
    line.strip_prefix("read ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a `read N bytes` line: {line:?}"))
}

#[test]
fn binds_loopback_and_announces_the_real_port() {
    let server = Server::start(BIN);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    assert_ne!(server.listening_on().port(), 0);
}

#[test]
fn prints_each_write_as_it_arrives_and_eof_at_the_end() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    // The connection stays open and the buffer is far from full, yet each
    // read must return what is there.
    client.write_all(b"hello").unwrap();
    assert_eq!(server.next_line(), r#"read 5 bytes: "hello""#);
    client.write_all(b"world\n").unwrap();
    assert_eq!(server.next_line(), r#"read 6 bytes: "world\n""#);
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(server.next_line(), "EOF");
    assert_closed(&mut client);
}

#[test]
fn never_returns_more_than_1024_bytes_from_one_read() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let payload: Vec<u8> = (0..3000).map(|i| b'a' + (i % 26) as u8).collect();
    // One write of 3000 bytes: all of it is there for the first read to
    // take, if the buffer were big enough.
    client.write_all(&payload).unwrap();
    client.shutdown(Shutdown::Write).unwrap();

    let mut received = String::new();
    loop {
        let line = server.next_line();
        if line == "EOF" {
            break;
        }
        let n = read_size(&line);
        assert!(n > 0 && n <= 1024, "a read of {n} bytes: {line}");
        let (_, data) = line.split_once(" bytes: ").unwrap();
        received.push_str(data.trim_matches('"'));
    }
    assert_eq!(received.as_bytes(), payload, "the reads, joined");
    assert_closed(&mut client);
}

#[test]
fn serves_one_client_after_another() {
    let server = Server::start(BIN);
    for word in ["one", "two", "three"] {
        let mut client = server.connect();
        client.write_all(word.as_bytes()).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        assert_eq!(
            server.next_line(),
            format!("read {} bytes: {word:?}", word.len())
        );
        assert_eq!(server.next_line(), "EOF");
        assert_closed(&mut client);
    }
}
