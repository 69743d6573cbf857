use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::thread;

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use test_support::{Server, read_exact};

const BIN: &str = env!("CARGO_BIN_EXE_length_prefix_client");

fn run_client(port: u16) -> thread::JoinHandle<std::process::Output> {
    thread::spawn(move || {
        Command::new(BIN)
            .env("PORT", port.to_string())
            .timeout(test_support::TIMEOUT)
            .output()
            .unwrap()
    })
}

/// Reads one frame the client sent and returns its payload.
fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let header = read_exact(stream, 4);
    let length = u32::from_be_bytes(header.try_into().unwrap());
    read_exact(stream, length as usize)
}

fn frame(payload: &[u8]) -> Vec<u8> {
    [&(payload.len() as u32).to_be_bytes()[..], payload].concat()
}

#[test]
fn talks_to_length_prefix_server_over_one_connection() {
    let server = Server::start(env!("CARGO_BIN_EXE_length_prefix_server"));
    Command::new(BIN)
        .env("PORT", server.port())
        .timeout(test_support::TIMEOUT)
        .assert()
        .success()
        .stdout(
            "SET poem roses are red\\nviolets are blue -> OK\n\
             GET poem -> VALUE roses are red\\nviolets are blue\n\
             GET vp -> NIL\n\
             exit -> (connection closed)\n",
        );
}

#[test]
fn frames_each_request_and_reads_each_reply_frame() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = run_client(listener.local_addr().unwrap().port());

    let (mut connection, _) = test_support::accept(&listener);
    assert_eq!(
        read_request(&mut connection),
        b"SET poem roses are red\nviolets are blue"
    );
    connection.write_all(&frame(b"OK")).unwrap();
    assert_eq!(read_request(&mut connection), b"GET poem");
    // A reply in two writes, split inside the header: the client must wait
    // for all of it.
    let reply = frame(b"VALUE two\nlines\0");
    connection.write_all(&reply[..2]).unwrap();
    connection.write_all(&reply[2..]).unwrap();
    assert_eq!(read_request(&mut connection), b"GET vp");
    connection.write_all(&frame(b"")).unwrap();
    assert_eq!(read_request(&mut connection), b"exit");
    drop(connection);

    let output = client.join().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "SET poem roses are red\\nviolets are blue -> OK\n\
         GET poem -> VALUE two\\nlines\\x00\n\
         GET vp -> \n\
         exit -> (connection closed)\n"
    );
}

#[test]
fn a_reply_length_over_the_cap_is_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = run_client(listener.local_addr().unwrap().port());
    let (mut connection, _) = test_support::accept(&listener);
    read_request(&mut connection);
    connection.write_all(&u32::MAX.to_be_bytes()).unwrap();

    let output = client.join().unwrap();
    drop(connection);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("the server announced a 4294967295-byte reply; the limit is 1048576")
            && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn no_server_is_a_clear_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    Command::new(BIN)
        .env("PORT", port.to_string())
        .timeout(test_support::TIMEOUT)
        .assert()
        .code(1)
        .stderr(contains(format!("no CloudHash server at localhost:{port}")))
        .stderr(contains("panicked").not());
}
