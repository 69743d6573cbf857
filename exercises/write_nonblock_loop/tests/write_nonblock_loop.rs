use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use test_support::TIMEOUT;

const BIN: &str = env!("CARGO_BIN_EXE_write_nonblock_loop");
const PAYLOAD_LEN: usize = 4 * 1024 * 1024;

fn expected_payload() -> Vec<u8> {
    (0..PAYLOAD_LEN).map(|i| (i % 251) as u8).collect()
}

/// A loopback server that accepts one connection and reads it to EOF,
/// `bite` bytes per read. Returns its port and where the bytes will arrive.
fn reading_server(bite: usize) -> (u16, Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut connection, _) = listener.accept().unwrap();
        connection.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut received = Vec::new();
        let mut buffer = vec![0u8; bite];
        loop {
            match connection.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
        let _ = tx.send(received);
    });
    (port, rx)
}

/// Runs the exercise against `port` and waits for it to exit, killing it
/// (and failing the test) if it runs longer than `TIMEOUT`.
fn run_client(port: u16) -> Output {
    let mut child = Command::new(BIN)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "still running after {TIMEOUT:?}; stdout:\n{}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
        thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

fn assert_delivers_everything(bite: usize) {
    let (port, received) = reading_server(bite);
    let output = run_client(port);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}stderr:\n{stderr}",
        output.status
    );

    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "expected two lines, got:\n{stdout}");
    assert!(
        lines[0].starts_with("wrote ") && lines[0].ends_with(" of 4194304 bytes"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[1], "done: wrote all 4194304 bytes");

    let received = received.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(received.len(), PAYLOAD_LEN, "byte count");
    let expected = expected_payload();
    if let Some(at) = (0..PAYLOAD_LEN).find(|&i| received[i] != expected[i]) {
        panic!("byte {at} is {}, expected {}", received[at], expected[at]);
    }
}

#[test]
fn delivers_every_byte_in_order_to_a_fast_reader() {
    assert_delivers_everything(64 * 1024);
}

/// A reader that takes 1000 bytes at a time keeps the send buffer full, so
/// the client waits for writability hundreds of times.
#[test]
fn delivers_every_byte_in_order_to_a_slow_reader() {
    assert_delivers_everything(1000);
}

#[test]
fn a_server_that_goes_away_is_an_error_not_a_hang_or_a_panic() {
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
    let output = run_client(port);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "stderr:\n{stderr}");
}
