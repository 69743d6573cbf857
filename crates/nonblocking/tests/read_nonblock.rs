use std::io::Write;
use std::net::Shutdown;

use test_support::{Server, assert_closed};

const BIN: &str = env!("CARGO_BIN_EXE_read_nonblock");
const WAIT: &str = "read would block: waiting in poll for readability";

#[test]
fn binds_loopback_and_announces_the_real_port() {
    let server = Server::start(BIN);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    assert_ne!(server.listening_on().port(), 0);
}

/// The client only acts once the server has said it is waiting in poll, so
/// every read that would block is certain and the output is exact. A server
/// that retried `read` without waiting would print many `would block` lines
/// where this test expects one.
#[test]
fn waits_in_poll_once_per_chunk_and_prints_what_arrives() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let me = client.local_addr().unwrap();
    assert_eq!(server.next_line(), format!("accepted {me}"));

    for chunk in ["gekko\n", "second chunk, no newline", "tab\there\n"] {
        assert_eq!(server.next_line(), WAIT);
        client.write_all(chunk.as_bytes()).unwrap();
        assert_eq!(
            server.next_line(),
            format!("read {} bytes: {chunk:?}", chunk.len())
        );
    }
    assert_eq!(server.next_line(), WAIT);
    client.shutdown(Shutdown::Write).unwrap();
    let total = "gekko\n".len() + "second chunk, no newline".len() + "tab\there\n".len();
    assert_eq!(
        server.next_line(),
        format!(
            "EOF after {total} bytes (read would have blocked 4 times); closing the connection"
        )
    );
    assert_closed(&mut client);
}

/// Without the lockstep of the test above, the count depends on timing, but
/// it can never exceed one wait per event the client causes (each write and
/// the final close): a spinning server would report thousands.
#[test]
fn reads_at_most_4_kib_at_a_time_and_never_spins() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let me = client.local_addr().unwrap();
    let payload = "x".repeat(10_000);
    client.write_all(payload.as_bytes()).unwrap();
    client.write_all(b"end\n").unwrap();
    client.shutdown(Shutdown::Write).unwrap();

    assert_eq!(server.next_line(), format!("accepted {me}"));
    let mut received = String::new();
    let mut waits = 0;
    let summary = loop {
        let line = server.next_line();
        if line == WAIT {
            waits += 1;
        } else if let Some(rest) = line.strip_prefix("read ") {
            let (count, text) = rest.split_once(" bytes: ").expect("read N bytes: TEXT");
            let count: usize = count.parse().unwrap();
            assert!(count <= 4096, "read more than 4 KiB at once: {count}");
            let text = text.trim_matches('"').replace("\\n", "\n");
            assert_eq!(text.len(), count, "{line}");
            received.push_str(&text);
        } else {
            break line;
        }
    };
    assert_eq!(received, format!("{payload}end\n"));
    assert!(waits <= 3, "{waits} waits for 2 writes and a close");
    assert_eq!(
        summary,
        format!(
            "EOF after 10004 bytes (read would have blocked {waits} times); closing the connection"
        )
    );
    assert_closed(&mut client);
}

#[test]
fn serves_the_next_connection_after_eof_and_survives_a_reset() {
    let server = Server::start(BIN);

    // A client that vanishes with a reset: SO_LINGER 0 makes close send RST.
    let rude = socket2::Socket::from(server.connect());
    let rude_addr = rude.local_addr().unwrap().as_socket().unwrap();
    assert_eq!(server.next_line(), format!("accepted {rude_addr}"));
    assert_eq!(server.next_line(), WAIT);
    rude.set_linger(Some(std::time::Duration::ZERO)).unwrap();
    drop(rude);

    // The server goes on to the next client.
    let mut client = server.connect();
    let me = client.local_addr().unwrap();
    assert_eq!(server.next_line(), format!("accepted {me}"));
    assert_eq!(server.next_line(), WAIT);
    client.write_all(b"still here\n").unwrap();
    assert_eq!(server.next_line(), r#"read 11 bytes: "still here\n""#);
    assert_eq!(server.next_line(), WAIT);
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        server.next_line(),
        "EOF after 11 bytes (read would have blocked 2 times); closing the connection"
    );
    assert_closed(&mut client);
}
