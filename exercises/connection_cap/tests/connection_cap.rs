use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use test_support::{Server, TIMEOUT, assert_closed, read_line};

const BIN: &str = env!("CARGO_BIN_EXE_connection_cap");
const TOO_MANY: &str = "421 Too many connections\r\n";

fn start(max: &str) -> Server {
    Server::start_with(BIN, &[("MAX_CONNECTIONS", max)])
}

/// Sends a line and checks that it comes back.
fn echo(client: &mut TcpStream, line: &str) {
    client.write_all(line.as_bytes()).unwrap();
    assert_eq!(read_line(client), line);
}

/// Asserts the client is refused: exactly the 421 line, then the close.
fn assert_refused(client: &mut TcpStream) {
    assert_eq!(read_line(client), TOO_MANY);
    assert_closed(client);
}

/// Connects until the server serves us instead of refusing us: a thread
/// gives its place back a moment after its client sees the close, so the
/// first tries may still find the server full. Fails after TIMEOUT.
fn connect_when_served(server: &Server) -> TcpStream {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let mut client = server.connect();
        client.write_all(b"anyone there?\n").unwrap();
        let line = read_line(&mut client);
        if line == "anyone there?\n" {
            return client;
        }
        assert_eq!(line, TOO_MANY);
        assert!(Instant::now() < deadline, "still refused after {TIMEOUT:?}");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn echoes_lines() {
    let server = start("64");
    let mut client = server.connect();
    echo(&mut client, "ohai\n");
    echo(&mut client, "second line\n");
}

#[test]
fn past_the_cap_a_client_gets_421_and_is_closed() {
    let server = start("2");
    let mut first = server.connect();
    let mut second = server.connect();
    echo(&mut first, "one\n");
    echo(&mut second, "two\n");

    let mut third = server.connect();
    assert_refused(&mut third);
    // The two served clients did not notice.
    echo(&mut first, "still one\n");
    echo(&mut second, "still two\n");
}

#[test]
fn a_place_is_given_back_when_a_client_leaves() {
    let server = start("1");
    let mut first = server.connect();
    echo(&mut first, "one\n");
    first.shutdown(Shutdown::Write).unwrap();
    assert_closed(&mut first);

    let mut next = connect_when_served(&server);
    echo(&mut next, "next\n");
    // The cap still holds.
    assert_refused(&mut server.connect());
}

#[test]
fn a_place_is_given_back_when_the_handler_panics() {
    let server = start("1");
    let mut buggy = server.connect();
    echo(&mut buggy, "one\n");
    buggy.write_all(b"panic\n").unwrap();
    // The thread died: its end of the connection is closed.
    assert_closed(&mut buggy);

    let mut next = connect_when_served(&server);
    echo(&mut next, "next\n");
    assert_refused(&mut server.connect());
}
