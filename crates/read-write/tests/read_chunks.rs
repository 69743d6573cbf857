use std::io::Write;
use std::net::Shutdown;

use test_support::{Server, assert_closed};

const BIN: &str = env!("CARGO_BIN_EXE_read_chunks");

/// The lines the server prints for one connection, after its
/// `connection from` line, up to and including `closed the connection`.
fn lines_until_closed(server: &Server) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let line = server.next_line();
        let done = line == "closed the connection";
        lines.push(line);
        if done {
            return lines;
        }
    }
}

/// The byte counts of the `  read(2) returned N bytes; …` lines.
fn read_sizes(lines: &[String]) -> Vec<usize> {
    lines
        .iter()
        .filter_map(|line| line.strip_prefix("  read(2) returned "))
        .filter_map(|rest| rest.split(' ').next())
        .map(|n| n.parse().unwrap())
        .collect()
}

/// The `chunk …` lines.
fn chunk_lines(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .filter(|line| line.starts_with("chunk "))
        .map(String::as_str)
        .collect()
}

/// How many read(2) calls a `chunk N: LEN bytes (read(2) calls: K)` line reports.
fn calls_in(chunk_line: &str) -> usize {
    let (_, rest) = chunk_line.split_once("(read(2) calls: ").unwrap();
    rest.split(')').next().unwrap().parse().unwrap()
}

#[test]
fn binds_loopback_and_announces_the_real_port() {
    let server = Server::start(BIN);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
}

#[test]
fn cuts_2500_bytes_into_chunks_of_1024_1024_and_452() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let client_addr = client.local_addr().unwrap();
    assert_eq!(server.next_line(), format!("connection from {client_addr}"));
    for _ in 0..25 {
        client.write_all(&[b'z'; 100]).unwrap();
    }
    client.shutdown(Shutdown::Write).unwrap();

    let lines = lines_until_closed(&server);
    let chunks = chunk_lines(&lines);
    assert_eq!(chunks.len(), 3, "{lines:#?}");
    assert!(chunks[0].starts_with("chunk 1: 1024 bytes (read(2) calls: "));
    assert!(chunks[1].starts_with("chunk 2: 1024 bytes (read(2) calls: "));
    assert!(chunks[2].starts_with("chunk 3: 452 bytes (read(2) calls: "));
    assert!(chunks[2].ends_with("), cut short by EOF"), "{}", chunks[2]);
    // Every read(2) is accounted for: the last returns 0, the rest add up.
    let sizes = read_sizes(&lines);
    assert_eq!(sizes.last(), Some(&0), "{lines:#?}");
    assert_eq!(sizes.iter().sum::<usize>(), 2500);
    let total_calls: usize = chunks.iter().map(|line| calls_in(line)).sum();
    assert_eq!(total_calls, sizes.len());
    assert_eq!(lines[lines.len() - 2], "EOF");
    assert_closed(&mut client);
}

#[test]
fn a_chunk_waits_for_more_reads_until_it_is_full() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    server.next_line();

    // 600 bytes: read(2) hands them over, but the chunk is not full, so the
    // server must not print a chunk yet; it goes back to read(2).
    client.write_all(&[b'a'; 600]).unwrap();
    loop {
        let line = server.next_line();
        assert!(
            !line.starts_with("chunk"),
            "chunk before 1024 bytes: {line}"
        );
        if line.ends_with("chunk has 600 of 1024") {
            break;
        }
    }
    // The next 600 complete the first chunk (and start the second), so that
    // chunk took at least two read(2) calls: one before and one after.
    client.write_all(&[b'b'; 600]).unwrap();
    client.shutdown(Shutdown::Write).unwrap();

    let lines = lines_until_closed(&server);
    let chunks = chunk_lines(&lines);
    assert_eq!(chunks.len(), 2, "{lines:#?}");
    assert!(
        chunks[0].starts_with("chunk 1: 1024 bytes"),
        "{}",
        chunks[0]
    );
    assert!(calls_in(chunks[0]) >= 2, "{}", chunks[0]);
    assert!(
        chunks[1].starts_with("chunk 2: 176 bytes") && chunks[1].ends_with("cut short by EOF"),
        "{}",
        chunks[1]
    );
}

#[test]
fn an_exact_multiple_of_1024_ends_with_eof_and_no_empty_chunk() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    server.next_line();
    client.write_all(&[b'q'; 2048]).unwrap();
    client.shutdown(Shutdown::Write).unwrap();

    let lines = lines_until_closed(&server);
    let chunks = chunk_lines(&lines);
    assert_eq!(chunks.len(), 2, "{lines:#?}");
    assert!(
        chunks[0].starts_with("chunk 1: 1024 bytes ("),
        "{}",
        chunks[0]
    );
    assert!(
        chunks[1].starts_with("chunk 2: 1024 bytes ("),
        "{}",
        chunks[1]
    );
    assert!(!chunks[1].contains("EOF"), "{}", chunks[1]);
    assert_eq!(lines[lines.len() - 3], "  read(2) returned 0 bytes: EOF");
    assert_eq!(lines[lines.len() - 2], "EOF");
}

#[test]
fn serves_one_connection_after_another() {
    let server = Server::start(BIN);
    for _ in 0..2 {
        let mut client = server.connect();
        server.next_line();
        client.write_all(b"gekko\n").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let lines = lines_until_closed(&server);
        let chunks = chunk_lines(&lines);
        assert_eq!(chunks.len(), 1, "{lines:#?}");
        assert!(chunks[0].starts_with("chunk 1: 6 bytes ("), "{}", chunks[0]);
        assert!(chunks[0].ends_with("), cut short by EOF"), "{}", chunks[0]);
        assert_closed(&mut client);
    }
}
