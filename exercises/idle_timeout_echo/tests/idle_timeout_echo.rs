use std::io::Write;
use std::net::Shutdown;
use std::thread;
use std::time::Duration;

use test_support::{Server, read_exact, read_to_end};

const BIN: &str = env!("CARGO_BIN_EXE_idle_timeout_echo");

#[test]
fn echoes_until_the_client_closes() {
    let server = Server::start(BIN);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    let mut client = server.connect();
    client.write_all(b"ohai\n").unwrap();
    client.write_all(b"second write, same stream\n").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        read_to_end(&mut client),
        b"ohai\nsecond write, same stream\n"
    );
}

#[test]
fn a_silent_client_is_told_and_closed() {
    let server = Server::start_with(BIN, &[("TIMEOUT", "0.3")]);
    let mut client = server.connect();
    // We send nothing and do not close: only the server's timeout can end
    // this read (or the test's own 10 s limit, which fails the test).
    assert_eq!(read_to_end(&mut client), b"timed out\n");
}

#[test]
fn a_client_that_falls_silent_gets_its_echo_then_the_notice() {
    let server = Server::start_with(BIN, &[("TIMEOUT", "0.3")]);
    let mut client = server.connect();
    client.write_all(b"hello?\n").unwrap();
    assert_eq!(read_to_end(&mut client), b"hello?\ntimed out\n");
}

#[test]
fn the_next_client_is_served_after_a_silent_one() {
    let server = Server::start_with(BIN, &[("TIMEOUT", "0.3")]);
    // Both connect at once; the second waits in the accept queue until the
    // server has given up on the first.
    let mut silent = server.connect();
    let mut next = server.connect();
    next.write_all(b"my turn\n").unwrap();
    next.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut silent), b"timed out\n");
    assert_eq!(read_to_end(&mut next), b"my turn\n");
}

/// The client talks for longer than TIMEOUT in total, but never pauses for
/// anywhere near TIMEOUT: an idle timeout leaves it alone, a total deadline
/// per connection would cut it off.
#[test]
fn a_client_that_keeps_talking_is_never_cut_off() {
    let server = Server::start_with(BIN, &[("TIMEOUT", "2")]);
    let mut client = server.connect();
    for round in 0..10 {
        let message = format!("round {round}\n");
        client.write_all(message.as_bytes()).unwrap();
        let echoed = read_exact(&mut client, message.len());
        assert_eq!(String::from_utf8_lossy(&echoed), message);
        thread::sleep(Duration::from_millis(250));
    }
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut client), b"");
}
