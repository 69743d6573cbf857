use std::io::Read;
use std::net::TcpListener;
use std::sync::mpsc::{self, Receiver};
use std::thread;

use assert_cmd::Command;
use predicates::str::contains;
use test_support::TIMEOUT;

const BIN: &str = env!("CARGO_BIN_EXE_write_nonblock");

/// A loopback server that accepts one connection and reads it to EOF, in a
/// thread. Returns its port and where the bytes it read will arrive.
fn reading_server() -> (u16, Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut connection, _) = listener.accept().unwrap();
        connection.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut received = Vec::new();
        connection.read_to_end(&mut received).unwrap();
        let _ = tx.send(received);
    });
    (port, rx)
}

fn expected_payload() -> Vec<u8> {
    "Lorem Ipsum".repeat(100_000).into_bytes()
}

#[test]
fn first_write_is_partial_and_the_loop_delivers_every_byte_in_order() {
    let (port, received) = reading_server();
    let output = Command::new(BIN)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "stdout:\n{stdout}stderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(lines[0], format!("connected to 127.0.0.1:{port}"));

    let first: usize = lines[1]
        .strip_prefix("wrote ")
        .and_then(|rest| rest.strip_suffix(" of 1100000 bytes"))
        .unwrap_or_else(|| panic!("unexpected line {:?}", lines[1]))
        .parse()
        .unwrap();
    assert!(
        first < 1_100_000,
        "the first write was not partial: {first}"
    );

    let done = lines[2]
        .strip_prefix("done: 1100000 bytes in ")
        .unwrap_or_else(|| panic!("unexpected line {:?}", lines[2]));
    let (calls, waits) = done
        .strip_suffix(" waits in poll for writability")
        .and_then(|rest| rest.split_once(" write calls, "))
        .unwrap_or_else(|| panic!("unexpected line {:?}", lines[2]));
    let (calls, waits): (usize, usize) = (calls.parse().unwrap(), waits.parse().unwrap());
    // One write before the loop, then exactly one wait before each write.
    assert!(waits >= 1, "a partial write must be followed by a wait");
    assert_eq!(calls, waits + 1);

    let received = received.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(received.len(), 1_100_000);
    assert!(
        received == expected_payload(),
        "bytes differ from the payload"
    );
}

#[test]
fn tries_each_address_of_localhost_in_turn() {
    // Our server listens on 127.0.0.1 only; `localhost` also resolves to ::1,
    // which refuses, and the client must go on to the next address.
    let (port, received) = reading_server();
    Command::new(BIN)
        .env("PORT", port.to_string())
        .env_remove("HOST")
        .timeout(TIMEOUT)
        .assert()
        .success()
        .stdout(contains(format!("connected to 127.0.0.1:{port}\n")));
    assert_eq!(received.recv_timeout(TIMEOUT).unwrap().len(), 1_100_000);
}

#[test]
fn a_peer_that_goes_away_is_an_error_not_a_hang() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut connection, _) = listener.accept().unwrap();
        connection.set_read_timeout(Some(TIMEOUT)).unwrap();
        // Read a little, then close with unread data queued: the kernel
        // answers with a reset, and the client's next write fails.
        let mut some = [0u8; 1024];
        let _ = connection.read(&mut some);
    });
    Command::new(BIN)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .timeout(TIMEOUT)
        .assert()
        .code(1)
        .stdout(contains("wrote "))
        .stderr(contains("send(2): did the peer go away?"));
}

#[test]
fn no_server_is_a_clear_error() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    Command::new(BIN)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .timeout(TIMEOUT)
        .assert()
        .code(1)
        .stderr(contains(format!(
            "connecting to 127.0.0.1:{port} failed with ECONNREFUSED"
        )));
}
