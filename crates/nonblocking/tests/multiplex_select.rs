//! `multiplex_select` and FD_SETSIZE: a connection whose descriptor does not
//! fit in an `fd_set` is refused, and everyone else is still served.
//!
//! (What it shares with the other servers is tested in `multiplex_echo.rs`.)

use std::io::Write;
use std::net::TcpStream;

use nix::sys::select::FD_SETSIZE;
use nonblocking::multiplex::raise_open_file_limit;
use test_support::{Server, assert_closed, read_exact, read_line};

const BIN: &str = env!("CARGO_BIN_EXE_multiplex_select");

/// Sends `message` and asserts that exactly it comes back.
fn assert_echoes(stream: &mut TcpStream, message: &[u8]) {
    stream.write_all(message).unwrap();
    assert_eq!(read_exact(stream, message.len()), message);
}

/// The descriptor number in an `accepted 127.0.0.1:PORT (fd N)` line.
fn accepted_fd(line: &str) -> usize {
    let fd = line
        .rsplit_once("(fd ")
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no fd in {line:?}"));
    fd.parse().unwrap()
}

#[test]
fn a_connection_whose_fd_reaches_fd_setsize_is_refused_and_the_others_go_on() {
    // This test holds more than 1024 sockets itself.
    raise_open_file_limit().expect("raising RLIMIT_NOFILE");
    let server = Server::start(BIN);

    // Connect one client at a time and read the server's line about it, so
    // we know which connection got which descriptor. The server's first
    // connection gets fd 4 or so (0-2 are stdio, 3 the listener), so about
    // 1020 connections fit below FD_SETSIZE.
    let mut accepted = Vec::new();
    let (mut refused, refused_addr, refusal) = loop {
        let stream = server.connect();
        let addr = stream.local_addr().unwrap();
        let line = server.next_line();
        if line.starts_with(&format!("accepted {addr} (fd ")) {
            assert!(accepted_fd(&line) < FD_SETSIZE, "{line}");
            accepted.push(stream);
            assert!(accepted.len() < FD_SETSIZE, "nothing refused yet: {line}");
            continue;
        }
        break (stream, addr, line);
    };
    assert!(
        accepted.len() > 1000,
        "refused too early, after {}",
        accepted.len()
    );

    // The first descriptor past the end of the bitmap is exactly 1024:
    // the kernel always hands out the lowest free number.
    let reason = "descriptor 1024 does not fit in select's fd_set (FD_SETSIZE is 1024)";
    assert_eq!(refusal, format!("refused {refused_addr}: {reason}"));
    assert_eq!(read_line(&mut refused), format!("server full: {reason}\n"));
    assert_closed(&mut refused);

    // The earliest connection and the one with the highest fd still echo.
    let mut first = accepted.remove(0);
    assert_echoes(&mut first, b"first, still here\n");
    let mut last = accepted.pop().unwrap();
    assert_echoes(&mut last, b"last, still here\n");

    // Once a connection closes, its descriptor is free for the next client.
    let last_addr = last.local_addr().unwrap();
    drop(last);
    server.expect_line(&format!("closed {last_addr}"));
    let mut newcomer = server.connect();
    let newcomer_addr = newcomer.local_addr().unwrap();
    let line = server.next_line();
    assert!(
        line.starts_with(&format!("accepted {newcomer_addr} (fd ")),
        "{line}"
    );
    assert!(accepted_fd(&line) < FD_SETSIZE, "{line}");
    assert_echoes(&mut newcomer, b"newcomer\n");
}
