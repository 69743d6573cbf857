use std::net::TcpStream;

use test_support::{Server, read_to_end};

const BIN: &str = env!("CARGO_BIN_EXE_write_all_loop");
const PAYLOAD_LEN: usize = 1024 * 1024;

fn payload() -> Vec<u8> {
    (0..PAYLOAD_LEN).map(|i| (i % 251) as u8).collect()
}

/// The byte count of a `write(2) took N bytes` line.
fn took(line: &str) -> usize {
    line.strip_prefix("write(2) took ")
        .and_then(|rest| rest.strip_suffix(" bytes"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a `write(2) took N bytes` line: {line:?}"))
}

/// Waits for the server's first `write(2) took N bytes` line. The client
/// has not read anything yet, so the buffers are full and that first write
/// can only have been partial (it returned when the send timeout expired).
fn first_partial_write(server: &Server) -> usize {
    let first = took(&server.next_line());
    assert!(
        first > 0 && first < PAYLOAD_LEN,
        "the first write took {first} bytes; it should be partial"
    );
    first
}

#[test]
fn a_slow_client_gets_every_byte_in_order() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let client_addr = client.local_addr().unwrap();
    let mut total = first_partial_write(&server);

    // Only now does the client read: all of it, to EOF.
    let received = read_to_end(&mut client);
    assert_eq!(received.len(), PAYLOAD_LEN, "bytes received");
    assert!(received == payload(), "the bytes differ from those sent");

    // What each write took adds up to the payload, and the count matches.
    let mut calls = 1;
    loop {
        let line = server.next_line();
        if line.starts_with("sent ") {
            assert_eq!(
                line,
                format!("sent {PAYLOAD_LEN} bytes to {client_addr}, write calls: {calls}")
            );
            break;
        }
        total += took(&line);
        calls += 1;
    }
    assert_eq!(total, PAYLOAD_LEN);
    assert!(calls >= 2);
}

#[test]
fn a_client_that_leaves_midway_is_an_error_and_the_server_goes_on() {
    let server = Server::start(BIN);
    let client: TcpStream = server.connect();
    first_partial_write(&server);
    // Leave with data unread: the kernel resets the connection, and the
    // server's next write fails. It must give up on this client, not retry
    // forever and not report it as sent, and then serve the next one.
    drop(client);

    let mut next = server.connect();
    let next_addr = next.local_addr().unwrap();
    let received = read_to_end(&mut next);
    assert!(received == payload(), "the second client got other bytes");
    let sent = loop {
        let line = server.next_line();
        if line.starts_with("sent ") {
            break line;
        }
        took(&line);
    };
    let prefix = format!("sent {PAYLOAD_LEN} bytes to {next_addr}, write calls: ");
    assert!(
        sent.starts_with(&prefix),
        "expected the second client's summary, got {sent:?}"
    );
}
