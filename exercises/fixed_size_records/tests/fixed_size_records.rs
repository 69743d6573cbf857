use std::io::Write;
use std::net::Shutdown;

use test_support::{Server, assert_closed};

const BIN: &str = env!("CARGO_BIN_EXE_fixed_size_records");

#[test]
fn binds_loopback_and_announces_the_real_port() {
    let server = Server::start(BIN);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    assert_ne!(server.listening_on().port(), 0);
}

#[test]
fn several_records_in_one_write_are_printed_one_by_one() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    client.write_all(b"rec1....rec2....rec3....").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(server.next_line(), r#"record 1: "rec1....""#);
    assert_eq!(server.next_line(), r#"record 2: "rec2....""#);
    assert_eq!(server.next_line(), r#"record 3: "rec3....""#);
    assert_eq!(server.next_line(), "EOF, records received: 3");
    assert_closed(&mut client);
}

#[test]
fn a_record_split_across_writes_is_put_back_together() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    // One whole record and the start of the next. The first must be printed
    // now, before the client has finished (no waiting for EOF)...
    client.write_all(b"abcdefghij").unwrap();
    assert_eq!(server.next_line(), r#"record 1: "abcdefgh""#);
    // ...and the two bytes already received belong to the second record.
    client.write_all(b"klmnop").unwrap();
    assert_eq!(server.next_line(), r#"record 2: "ijklmnop""#);
    for piece in [&b"q"[..], b"rs", b"tuvwxyz!"] {
        client.write_all(piece).unwrap();
    }
    assert_eq!(server.next_line(), r#"record 3: "qrstuvwx""#);
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(server.next_line(), r#"incomplete record: 3 bytes "yz!""#);
    assert_eq!(server.next_line(), "EOF, records received: 3");
    assert_closed(&mut client);
}

#[test]
fn many_records_in_uneven_pieces_come_out_whole_and_in_order() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let records: Vec<String> = (0..500).map(|i| format!("r{i:06}#")).collect();
    let stream = records.concat();
    // Pieces of 1, 2, …, 13 bytes: record boundaries fall anywhere.
    let mut rest = stream.as_bytes();
    let mut size = 1;
    while !rest.is_empty() {
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        client.write_all(piece).unwrap();
        rest = tail;
        size = size % 13 + 1;
    }
    client.shutdown(Shutdown::Write).unwrap();
    for (i, record) in records.iter().enumerate() {
        assert_eq!(server.next_line(), format!("record {}: {record:?}", i + 1));
    }
    assert_eq!(server.next_line(), "EOF, records received: 500");
}

#[test]
fn serves_the_next_client_after_one_that_sent_nothing() {
    let server = Server::start(BIN);
    let mut first = server.connect();
    first.shutdown(Shutdown::Write).unwrap();
    assert_eq!(server.next_line(), "EOF, records received: 0");
    assert_closed(&mut first);

    let mut second = server.connect();
    second.write_all(b"12345678").unwrap();
    second.shutdown(Shutdown::Write).unwrap();
    assert_eq!(server.next_line(), r#"record 1: "12345678""#);
    assert_eq!(server.next_line(), "EOF, records received: 1");
    assert_closed(&mut second);
}
