use std::io::Read;
use std::net::TcpListener;
use std::thread;

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::{contains, is_match};

const BIN: &str = env!("CARGO_BIN_EXE_write_timeout");
const TOTAL: usize = 64 * 1024 * 1024;

/// The listener never accepts, so nobody ever reads: the kernel completes
/// the handshake and buffers what it can, then the writes must stop.
#[test]
fn gives_up_when_the_peer_never_reads() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    Command::new(BIN)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("TIMEOUT", "0.3")
        .timeout(test_support::TIMEOUT)
        .assert()
        .code(1)
        .stdout(format!("connected to 127.0.0.1:{port}\n"))
        .stderr(
            is_match(format!(
                r"write timed out: the peer read nothing for 300ms; \d+ of {TOTAL} bytes sent"
            ))
            .unwrap(),
        )
        .stderr(contains("panicked").not());
    drop(listener);
}

/// A peer that reads everything gets every byte, and the client exits 0.
#[test]
fn sends_everything_to_a_peer_that_reads() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let reader = thread::spawn(move || {
        let (mut connection, _) = listener.accept().unwrap();
        connection
            .set_read_timeout(Some(test_support::TIMEOUT))
            .unwrap();
        let mut received = Vec::new();
        connection.read_to_end(&mut received).unwrap();
        received
    });
    Command::new(BIN)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .timeout(test_support::TIMEOUT)
        .assert()
        .success()
        .stdout(
            is_match(format!(
                r"^connected to 127\.0\.0\.1:{port}\nsent {TOTAL} bytes \(\d+ waits for writability\)\n$"
            ))
            .unwrap(),
        );
    let received = reader.join().unwrap();
    assert_eq!(received.len(), TOTAL);
    assert!(received.iter().all(|&byte| byte == b'x'));
}
