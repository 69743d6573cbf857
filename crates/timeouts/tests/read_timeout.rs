use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use test_support::{Server, assert_closed};

const BIN: &str = env!("CARGO_BIN_EXE_read_timeout");

#[test]
fn binds_loopback_and_announces_the_real_port() {
    let server = Server::start(BIN);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    assert_ne!(server.listening_on().port(), 0);
}

/// A client that says nothing is cut off with a line saying so, and the
/// server goes on to serve the next client. (A server that waited in a
/// plain blocking read would never print the line, and this test would fail
/// on its own 10 s wait.)
#[test]
fn a_silent_client_is_closed_and_the_next_one_is_served() {
    let server = Server::start_with(BIN, &[("TIMEOUT", "0.3")]);

    let mut silent = server.connect();
    let silent_addr = silent.local_addr().unwrap();
    assert_eq!(server.next_line(), format!("accepted {silent_addr}"));
    assert_eq!(
        server.next_line(),
        format!("timed out: nothing from {silent_addr} for 300ms; closing the connection")
    );
    assert_closed(&mut silent);

    // Sends everything and closes its side at once, so no wait in poll is
    // involved and the short TIMEOUT cannot matter.
    let mut next = server.connect();
    let next_addr = next.local_addr().unwrap();
    next.write_all(b"ohai\n").unwrap();
    next.shutdown(Shutdown::Write).unwrap();
    assert_eq!(server.next_line(), format!("accepted {next_addr}"));
    assert_eq!(server.next_line(), r#"read 5 bytes: "ohai\n""#);
    assert_eq!(
        server.next_line(),
        format!("{next_addr} closed its side; closing the connection")
    );
    assert_closed(&mut next);
}

/// Data that arrives in time is printed, and the server keeps reading the
/// same connection (unlike the Ruby example, which reads once) until the
/// client closes its side. Each chunk is sent only after the server printed
/// the previous one, so each is one read.
#[test]
fn keeps_reading_and_printing_until_the_client_closes() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let me = client.local_addr().unwrap();
    assert_eq!(server.next_line(), format!("accepted {me}"));

    for chunk in ["gekko\n", "second chunk, no newline", "tab\there\n"] {
        client.write_all(chunk.as_bytes()).unwrap();
        assert_eq!(
            server.next_line(),
            format!("read {} bytes: {chunk:?}", chunk.len())
        );
    }
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        server.next_line(),
        format!("{me} closed its side; closing the connection")
    );
    assert_closed(&mut client);
}

/// A client that resets its connection is an error for that connection
/// only: it is reported on stderr and the server serves the next client.
#[test]
fn a_reset_connection_does_not_stop_the_server() {
    let server = Server::start_with(BIN, &[("TIMEOUT", "0.3")]);

    let rude = server.connect();
    let rude_addr = rude.local_addr().unwrap();
    // SO_LINGER with a zero timeout: close(2) sends RST instead of FIN.
    socket2::SockRef::from(&rude)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    assert_eq!(server.next_line(), format!("accepted {rude_addr}"));
    drop(rude);

    let mut next = server.connect();
    let next_addr = next.local_addr().unwrap();
    next.write_all(b"still there?\n").unwrap();
    next.shutdown(Shutdown::Write).unwrap();
    server.expect_line(&format!("accepted {next_addr}"));
    assert_eq!(server.next_line(), r#"read 13 bytes: "still there?\n""#);
}
