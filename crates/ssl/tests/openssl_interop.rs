//! ssl_server and ssl_mutual_server against OpenSSL's own client, when the
//! `openssl` command is installed. Without it these tests print a note and
//! pass: they check interoperation, not our code alone.

mod common;

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;

use common::{scratch_dir, start_in};
use test_support::{Server, TIMEOUT};

const SERVER: &str = env!("CARGO_BIN_EXE_ssl_server");
const MUTUAL_SERVER: &str = env!("CARGO_BIN_EXE_ssl_mutual_server");

fn openssl_installed() -> bool {
    let found = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        eprintln!("note: no `openssl` command on PATH; skipping the OpenSSL interop test");
    }
    found
}

/// `openssl s_client` verifying the server against `ca_file` and the name
/// localhost, failing on any verification error, printing a brief summary
/// (on stderr) and the data (on stdout), and staying until the server
/// closes (-ign_eof: stdin is empty, and its EOF must not end the session
/// before the greeting arrives).
fn s_client(server: &Server, ca_file: &Path, extra: &[&str]) -> Output {
    Command::new("openssl")
        .arg("s_client")
        .arg("-connect")
        .arg(server.addr().to_string())
        .arg("-CAfile")
        .arg(ca_file)
        .args(["-verify_return_error", "-verify_hostname", "localhost"])
        .args(["-brief", "-ign_eof"])
        .args(extra)
        .timeout(TIMEOUT)
        .output()
        .unwrap()
}

#[test]
fn openssl_s_client_verifies_ssl_server_and_reads_the_greeting() {
    if !openssl_installed() {
        return;
    }
    let dir = scratch_dir("openssl-verify");
    let server = start_in(SERVER, &dir, &[]);

    let output = s_client(&server, &dir.join("cert.pem"), &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stderr:\n{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "ohai from ssl_server, over TLS\n"
    );
    assert!(stderr.contains("Verification: OK\n"), "stderr:\n{stderr}");
    assert!(
        stderr.contains("Verified peername: localhost\n"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn openssl_s_client_refuses_a_certificate_it_was_not_told_to_trust() {
    if !openssl_installed() {
        return;
    }
    let dir = scratch_dir("openssl-untrusted");
    let other = scratch_dir("openssl-untrusted-other");
    let server = start_in(SERVER, &dir, &[]);
    let _other_server = start_in(SERVER, &other, &[]);

    let output = s_client(&server, &other.join("cert.pem"), &[]);
    assert!(!output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("certificate verify failed"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn openssl_s_client_presents_the_client_certificate_to_ssl_mutual_server() {
    if !openssl_installed() {
        return;
    }
    let dir = scratch_dir("openssl-mutual");
    let server = start_in(MUTUAL_SERVER, &dir, &[]);
    let client_pem = dir.join("client.pem");
    let client_pem = client_pem.to_str().unwrap();

    let output = s_client(
        &server,
        &dir.join("cert.pem"),
        &["-cert", client_pem, "-key", client_pem],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stderr:\n{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "ohai, holder of client.pem, over mutual TLS\n"
    );
}
