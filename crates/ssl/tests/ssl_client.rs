//! ssl_client against ssl_server: the greeting when it trusts the server,
//! a clear refusal when it does not.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use predicates::prelude::*;

use common::{scratch_dir, start_in, wait_for_stderr};
use test_support::{Server, TIMEOUT, accept};

const CLIENT: &str = env!("CARGO_BIN_EXE_ssl_client");
const SERVER: &str = env!("CARGO_BIN_EXE_ssl_server");

/// Runs ssl_client with the given HOST, PORT and CERT_FILE.
fn run_client(host: &str, port: &str, cert_file: &Path) -> Output {
    Command::new(CLIENT)
        .env("HOST", host)
        .env("PORT", port)
        .env("CERT_FILE", cert_file)
        .env_remove("CLIENT_CERT")
        .env("RUST_BACKTRACE", "0")
        .timeout(TIMEOUT)
        .output()
        .unwrap()
}

/// Asserts that the client printed the three lines of a good run.
fn assert_greeted(output: &Output, server: &Server, host: &str) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "stdout:\n{stdout}");
    assert_eq!(lines[0], format!("connected to {}", server.addr()));
    // The version and cipher suite are whatever the two sides agree on;
    // rustls on both sides means TLS 1.3.
    assert!(
        lines[1].starts_with("handshake done (TLSv1_3, TLS13_"),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].ends_with(&format!("): the server proved it is {host}")),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "ohai from ssl_server, over TLS");
}

#[test]
fn prints_the_greeting_of_the_server_whose_certificate_it_trusts() {
    let dir = scratch_dir("client-greeting");
    let server = start_in(SERVER, &dir, &[]);

    // localhost: the name the certificate is for. (Where localhost is also
    // ::1, the client is refused there first and goes on to 127.0.0.1.)
    let output = run_client("localhost", &server.port(), &dir.join("cert.pem"));
    assert_greeted(&output, &server, "localhost");

    let peer = server.next_line(); // accepted …
    assert!(peer.starts_with("accepted 127.0.0.1:"), "{peer}");
    let peer = peer.trim_start_matches("accepted ");
    assert!(
        server
            .next_line()
            .starts_with(&format!("{peer}: handshake done (TLSv1_3, "))
    );
    assert_eq!(
        server.next_line(),
        format!("{peer}: sent the greeting and closed")
    );
}

#[test]
fn an_ip_address_listed_in_the_certificate_verifies_too() {
    let dir = scratch_dir("client-ip");
    let server = start_in(SERVER, &dir, &[]);
    let output = run_client("127.0.0.1", &server.port(), &dir.join("cert.pem"));
    assert_greeted(&output, &server, "127.0.0.1");
}

#[test]
fn refuses_a_server_whose_certificate_is_not_the_one_it_trusts() {
    // Two servers, two self-signed certificates, both for localhost. The
    // client trusts the other server's.
    let dir = scratch_dir("client-untrusted");
    let other = scratch_dir("client-untrusted-other");
    let server = start_in(SERVER, &dir, &[]);
    let _other_server = start_in(SERVER, &other, &[]);
    let wrong_cert = other.join("cert.pem");

    let output = run_client("127.0.0.1", &server.port(), &wrong_cert);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr:\n{stderr}");
    assert_eq!(stdout, format!("connected to {}\n", server.addr()));
    assert!(
        stderr.contains(&format!(
            "TLS handshake with {} failed: nothing in {} vouches for its certificate \
             (was that file written by this server?); refusing to talk to this server",
            server.addr(),
            wrong_cert.display()
        )),
        "stderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "stderr:\n{stderr}");

    // The server hears about it as an alert from the client, and goes on.
    wait_for_stderr(&server, "TLS handshake failed: received fatal alert");
    let output = run_client("127.0.0.1", &server.port(), &dir.join("cert.pem"));
    assert_greeted(&output, &server, "127.0.0.1");
}

#[test]
fn refuses_a_certificate_that_is_not_valid_for_the_name_it_connected_to() {
    // 127.0.0.2 is loopback too, but not a name in the certificate.
    let dir = scratch_dir("client-wrong-name");
    let server = start_in(SERVER, &dir, &[("HOST", "127.0.0.2")]);
    let output = run_client("127.0.0.2", &server.port(), &dir.join("cert.pem"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(
        stderr.contains("failed: its certificate is not valid for the name 127.0.0.2;"),
        "stderr:\n{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("ohai"),
        "the client read the greeting anyway"
    );
}

#[test]
fn a_missing_certificate_file_is_a_clear_error() {
    let dir = scratch_dir("client-no-cert");
    Command::new(CLIENT)
        .env("PORT", "1")
        .env("CERT_FILE", dir.join("nothing-here.pem"))
        .timeout(TIMEOUT)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "(start ssl_server first: it writes this file; or set CERT_FILE)",
        ))
        .stderr(predicate::str::contains("panicked").not());
}

/// A peer that accepts and never says anything (a plaintext server waiting
/// for us to speak first) cannot hang the client: it gives up after its 5 s
/// read timeout with an error.
#[test]
fn gives_up_on_a_server_that_never_answers() {
    let dir = scratch_dir("client-silent-server");
    let _server = start_in(SERVER, &dir, &[]); // only for its cert.pem
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let client = std::thread::spawn({
        let cert = dir.join("cert.pem");
        move || run_client("127.0.0.1", &port, &cert)
    });
    let (_silent, _) = accept(&listener);
    let output = client.join().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(stderr.contains("TLS handshake with"), "stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "stderr:\n{stderr}");
}
