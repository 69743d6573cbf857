use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, SockRef, Socket, Type};
use test_support::{Server, TIMEOUT, read_line, read_to_end};

const BIN: &str = env!("CARGO_BIN_EXE_urgent_abort");

/// Sends one byte as TCP urgent data.
fn send_urgent(client: &TcpStream, byte: u8) {
    let sent = SockRef::from(client).send_out_of_band(&[byte]).unwrap();
    assert_eq!(sent, 1);
}

/// Checks that `rest` is `data {first}\n`, `data {first + 1}\n`, … and then
/// `aborted\n` and nothing more. Returns the number after the last data
/// line (the count of data lines, if `first` is 0).
fn check_stream(rest: &[u8], first: u64) -> u64 {
    let text = String::from_utf8(rest.to_vec()).expect("the stream is not text");
    let Some(data) = text.strip_suffix("aborted\n") else {
        let end = &text[text.len().saturating_sub(60)..];
        panic!("the stream does not end with aborted; its end: {end:?}");
    };
    let lines: Vec<&str> = data.split_inclusive('\n').collect();
    for (expected, line) in (first..).zip(&lines) {
        assert_eq!(*line, format!("data {expected}\n"));
    }
    first + lines.len() as u64
}

/// Waits until the server's stderr contains `needle`.
fn wait_for_stderr(server: &Server, needle: &str) {
    let deadline = Instant::now() + TIMEOUT;
    while !server.stderr().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "nothing on stderr mentions {needle}; stderr:\n{}",
            server.stderr()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn binds_loopback_and_announces_the_real_port() {
    let server = Server::start(BIN);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    assert_ne!(server.listening_on().port(), 0);
}

/// The client reads for a while, sends `!` and reads on: the lines continue
/// where they were, up to the abort, and the stream ends cleanly (a reset
/// would make read_to_end fail).
#[test]
fn an_urgent_bang_ends_the_stream_with_aborted() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let me = client.local_addr().unwrap();
    assert_eq!(server.next_line(), format!("accepted {me}"));

    for n in 0..100 {
        assert_eq!(read_line(&mut client), format!("data {n}\n"));
    }
    send_urgent(&client, b'!');
    let rest = read_to_end(&mut client);
    let lines = check_stream(&rest, 100);
    server.expect_line(&format!("aborted by {me} after {lines} lines"));
}

/// A connection with a small receive buffer, so that when the server finds
/// the client not reading, much of what it has written is still waiting in
/// its own send buffer. A server that then closes with a reset (see the
/// hint) loses it, and the client sees the reset.
fn connect_small_window(server: &Server) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket
        .connect_timeout(&server.addr().into(), TIMEOUT)
        .unwrap();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    socket.set_write_timeout(Some(TIMEOUT)).unwrap();
    socket.into()
}

/// The client stops reading, so the server's writes would block. The urgent
/// byte must still get through: a server asleep in write(2) never sees it.
#[test]
fn notices_the_urgent_byte_while_the_client_is_not_reading() {
    let server = Server::start(BIN);
    let mut client = connect_small_window(&server);
    let me = client.local_addr().unwrap();
    assert_eq!(read_line(&mut client), "data 0\n");
    server.expect_line(&format!("{me} stopped reading"));

    send_urgent(&client, b'!');
    let aborted = server.next_line();
    let count: u64 = aborted
        .strip_prefix(&format!("aborted by {me} after "))
        .and_then(|rest| rest.strip_suffix(" lines"))
        .unwrap_or_else(|| panic!("expected the aborted line, got {aborted:?}"))
        .parse()
        .unwrap();
    let rest = read_to_end(&mut client);
    assert_eq!(check_stream(&rest, 1), count);
}

/// An urgent byte other than `!` is reported and changes nothing: the
/// stream goes on, unbroken, until the `!`.
#[test]
fn other_urgent_bytes_are_ignored() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let me = client.local_addr().unwrap();
    for n in 0..10 {
        assert_eq!(read_line(&mut client), format!("data {n}\n"));
    }
    send_urgent(&client, b'x');
    server.expect_line(&format!("{me} sent urgent byte \"x\"; ignoring it"));
    for n in 10..20 {
        assert_eq!(read_line(&mut client), format!("data {n}\n"));
    }
    send_urgent(&client, b'!');
    let lines = check_stream(&read_to_end(&mut client), 20);
    server.expect_line(&format!("aborted by {me} after {lines} lines"));
}

/// A client that disappears is reported on stderr; the next one gets its
/// own stream from `data 0`, and an abort ends it as usual.
#[test]
fn a_client_that_goes_away_does_not_stop_the_server() {
    let server = Server::start(BIN);
    let mut rude = server.connect();
    let rude_addr = rude.local_addr().unwrap();
    assert_eq!(read_line(&mut rude), "data 0\n");
    // SO_LINGER 0: close(2) sends RST.
    SockRef::from(&rude)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(rude);
    wait_for_stderr(&server, &format!("{rude_addr}: "));

    let mut next = server.connect();
    let me = next.local_addr().unwrap();
    assert_eq!(read_line(&mut next), "data 0\n");
    send_urgent(&next, b'!');
    let lines = check_stream(&read_to_end(&mut next), 1);
    server.expect_line(&format!("aborted by {me} after {lines} lines"));
    // We have read to the end; closing our side lets the server close its.
    drop(next);

    // After a clean abort, the server is free for the next client at once.
    let mut after = server.connect();
    assert_eq!(read_line(&mut after), "data 0\n");
}
