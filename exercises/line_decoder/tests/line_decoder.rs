use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::thread;

use test_support::{Server, assert_closed, read_line};

const BIN: &str = env!("CARGO_BIN_EXE_line_decoder");
const MAX_LINE: usize = 1024;

fn send(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).unwrap();
}

#[test]
fn answers_each_line_without_its_ending() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    send(&mut client, b"hello\n");
    assert_eq!(read_line(&mut client), "1: hello\n");
    send(&mut client, b"from windows\r\n");
    assert_eq!(read_line(&mut client), "2: from windows\n");
    send(&mut client, b"\n");
    assert_eq!(read_line(&mut client), "3: \n");
    // Only the \r right before the \n is part of the ending.
    send(&mut client, b"a\rb\r\r\n");
    assert_eq!(read_line(&mut client), "4: a\rb\r\n");
}

#[test]
fn several_lines_in_one_write_are_all_answered_in_order() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let mut lines = String::new();
    for i in 0..200 {
        lines.push_str(&format!("line {i}\n"));
    }
    send(&mut client, lines.as_bytes());
    for i in 0..200 {
        assert_eq!(read_line(&mut client), format!("{}: line {i}\n", i + 1));
    }
}

#[test]
fn a_line_split_across_reads_comes_out_once_complete() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    // A whole line and the start of the next in one write: the reply to
    // the first proves the server has read that write, half line included.
    send(&mut client, b"one\ntw");
    assert_eq!(read_line(&mut client), "1: one\n");
    send(&mut client, b"o\r");
    send(&mut client, b"\n");
    assert_eq!(read_line(&mut client), "2: two\n");
    // And byte by byte.
    for byte in b"three\n" {
        send(&mut client, &[*byte]);
    }
    assert_eq!(read_line(&mut client), "3: three\n");
}

#[test]
fn a_line_of_exactly_max_line_bytes_is_accepted() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let text = "x".repeat(MAX_LINE - 1);
    // In small pieces, so that it spans many reads.
    for piece in format!("{text}\n").as_bytes().chunks(100) {
        send(&mut client, piece);
    }
    assert_eq!(read_line(&mut client), format!("1: {text}\n"));
}

#[test]
fn a_line_one_byte_too_long_is_refused_and_the_connection_closed() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    send(&mut client, b"fine\n");
    assert_eq!(read_line(&mut client), "1: fine\n");
    send(
        &mut client,
        format!("{}\n", "x".repeat(MAX_LINE)).as_bytes(),
    );
    assert_eq!(read_line(&mut client), "ERR line too long\n");
    assert_closed(&mut client);
}

#[test]
fn a_flood_without_newline_is_refused_without_being_buffered() {
    let server = Server::start(BIN);
    let mut flood = server.connect();
    let mut writer = flood.try_clone().unwrap();
    // 50 MiB without a newline, from a thread: only the server hanging up
    // can end this write early.
    let sender = thread::spawn(move || {
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..800 {
            writer.write_all(&chunk)?;
        }
        Ok::<(), std::io::Error>(())
    });
    assert_eq!(read_line(&mut flood), "ERR line too long\n");
    assert_closed(&mut flood);
    // Had the server kept reading (and buffering), all 50 MiB would have
    // gone through: the kernel buffers between us hold a few MiB at most.
    let err = sender
        .join()
        .unwrap()
        .expect_err("all 50 MiB were accepted: the decoder kept collecting past MAX_LINE");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
        ),
        "the write should fail because the server closed, not with {err}"
    );

    // The server still serves others.
    let mut next = server.connect();
    send(&mut next, b"still here\n");
    assert_eq!(read_line(&mut next), "1: still here\n");
}
