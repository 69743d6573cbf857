use std::io::Write;
use std::net::TcpListener;
use std::process::Command;
use std::thread;

use test_support::{accept, read_to_end, run};

const BIN: &str = env!("CARGO_BIN_EXE_first_client");

/// A one-connection server on 127.0.0.1: reads the request to end-of-file,
/// answers with `reply(request)`, closes. Returns the port and a handle
/// whose result is the request it read.
fn serve_once(reply: fn(&[u8]) -> Vec<u8>) -> (u16, thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut connection, _) = accept(&listener);
        // Only a client that half-closes lets this read end.
        let request = read_to_end(&mut connection);
        connection.write_all(&reply(&request)).unwrap();
        request
        // `connection` is dropped here: the client reads end-of-file.
    });
    (port, server)
}

fn client(port: u16, message: &str) -> Command {
    let mut command = Command::new(BIN);
    command
        .arg(message)
        .env_remove("HOST")
        .env("PORT", port.to_string());
    command
}

#[test]
fn sends_the_message_half_closes_and_prints_the_reply() {
    let (port, server) = serve_once(|request| {
        let mut reply = b"you said: ".to_vec();
        reply.extend(request.to_ascii_uppercase());
        reply
    });
    let output = run(client(port, "ohai"));
    let request = server.join().expect("the test server failed");
    assert_eq!(
        request, b"ohai",
        "the server should receive exactly the message"
    );
    assert!(
        output.status.success(),
        "stderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "you said: OHAI");
}

#[test]
fn prints_a_long_reply_that_takes_many_reads() {
    // Far more than one read returns at a time.
    let (port, server) = serve_once(|_| {
        (0..20_000)
            .flat_map(|n| format!("line {n}\n").into_bytes())
            .collect()
    });
    let output = run(client(port, "all of it, please\n"));
    let request = server.join().expect("the test server failed");
    assert_eq!(request, b"all of it, please\n");
    assert!(
        output.status.success(),
        "stderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected: Vec<u8> = (0..20_000)
        .flat_map(|n| format!("line {n}\n").into_bytes())
        .collect();
    assert_eq!(output.stdout.len(), expected.len());
    assert!(
        output.stdout == expected,
        "the reply printed differs from the one sent"
    );
}

#[test]
fn a_refused_connection_is_an_error_naming_the_address() {
    // A port that nothing listens on any more.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut command = client(port, "anyone there?");
    command.env("HOST", "127.0.0.1");
    let output = run(command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "an error, not a panic: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}")),
        "the error should name the address: {stderr}"
    );
}
