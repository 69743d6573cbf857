//! The CloudHash client: its exact output against the real server, the exact
//! bytes it sends (one connection and one half-close per request), and a
//! clear failure when nobody is listening.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::thread;

use assert_cmd::Command;
use predicates::prelude::*;
use test_support::{Server, TIMEOUT};

const CLIENT: &str = env!("CARGO_BIN_EXE_cloudhash_client");

#[test]
fn against_the_real_server_it_prints_each_reply_on_its_own_line() {
    let server = Server::start(env!("CARGO_BIN_EXE_cloudhash_server"));
    // No HOST: the default `localhost`. Where it resolves to ::1 first
    // (nobody listens there), this also checks that the client goes on to
    // 127.0.0.1.
    Command::new(CLIENT)
        .env_remove("HOST")
        .env("PORT", server.port())
        .timeout(TIMEOUT)
        .assert()
        .success()
        .stdout("lincoln\nlincoln\n\n")
        .stderr("");
}

#[test]
fn each_request_is_one_connection_ended_by_a_half_close() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();

    // A stand-in server: for three connections, read the request to EOF
    // (which only comes if the client shut down its writing side), then
    // answer and close. Replies are made up so we can see where each goes.
    let fake = thread::spawn(move || {
        let replies: [&[u8]; 3] = [b"stored", b"found", b"ERR pretend\n"];
        let mut requests = Vec::new();
        for reply in replies {
            let (mut connection, _) = listener.accept().unwrap();
            connection.set_read_timeout(Some(TIMEOUT)).unwrap();
            let mut request = Vec::new();
            connection.read_to_end(&mut request).unwrap();
            requests.push(String::from_utf8(request).unwrap());
            connection.write_all(reply).unwrap();
            connection.shutdown(Shutdown::Both).unwrap();
        }
        requests
    });

    Command::new(CLIENT)
        .env("HOST", "127.0.0.1")
        .env("PORT", &port)
        .timeout(TIMEOUT)
        .assert()
        .success()
        // A reply that already ends in a newline gets no second one (as
        // with Ruby's puts).
        .stdout("stored\nfound\nERR pretend\n");

    assert_eq!(
        fake.join().unwrap(),
        ["SET prez lincoln", "GET prez", "GET vp"]
    );
}

#[test]
fn with_no_server_it_fails_with_a_clear_error() {
    // Bind a port, then free it: nobody listens there now.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    Command::new(CLIENT)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .timeout(TIMEOUT)
        .assert()
        .failure()
        .stdout("")
        .stderr(predicate::str::contains(format!(
            "cannot reach CloudHash at 127.0.0.1:{port}: is cloudhash_server running?"
        )))
        .stderr(predicate::str::contains(format!(
            "connecting to 127.0.0.1:{port} failed with ECONNREFUSED"
        )))
        .stderr(predicate::str::contains("panicked").not());
}
