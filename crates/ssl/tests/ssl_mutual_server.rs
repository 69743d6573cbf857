//! ssl_mutual_server: only a client presenting the certificate it issued is
//! served.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use assert_cmd::Command;

use common::{scratch_dir, start_in, wait_for_stderr};
use test_support::TIMEOUT;

const SERVER: &str = env!("CARGO_BIN_EXE_ssl_mutual_server");
const CLIENT: &str = env!("CARGO_BIN_EXE_ssl_client");

fn run_client(port: &str, cert_file: &Path, client_cert: Option<&Path>) -> Output {
    let mut command = Command::new(CLIENT);
    command
        .env("HOST", "127.0.0.1")
        .env("PORT", port)
        .env("CERT_FILE", cert_file)
        .env("RUST_BACKTRACE", "0")
        .timeout(TIMEOUT);
    match client_cert {
        Some(path) => command.env("CLIENT_CERT", path),
        None => command.env_remove("CLIENT_CERT"),
    };
    command.output().unwrap()
}

#[test]
fn writes_both_certificates_the_client_key_private() {
    let dir = scratch_dir("mutual-files");
    let server = start_in(SERVER, &dir, &[]);
    let client_pem = dir.join("client.pem");
    assert_eq!(
        server.lines_before_listening(),
        [
            format!(
                "wrote the certificate to {}",
                dir.join("cert.pem").display()
            ),
            format!(
                "wrote a client certificate and its key to {}",
                client_pem.display()
            ),
        ]
    );
    let text = std::fs::read_to_string(&client_pem).unwrap();
    assert!(text.starts_with("-----BEGIN CERTIFICATE-----\n"), "{text}");
    assert!(text.contains("\n-----BEGIN PRIVATE KEY-----\n"), "{text}");
    let mode = std::fs::metadata(&client_pem).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn serves_a_client_that_presents_the_issued_certificate() {
    let dir = scratch_dir("mutual-good");
    let server = start_in(SERVER, &dir, &[]);
    let client_pem = dir.join("client.pem");

    let output = run_client(&server.port(), &dir.join("cert.pem"), Some(&client_pem));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.ends_with("\nohai, holder of client.pem, over mutual TLS\n"),
        "stdout:\n{stdout}"
    );

    let accepted = server.next_line();
    let peer = accepted.strip_prefix("accepted ").unwrap();
    assert_eq!(
        server.next_line(),
        format!(
            "{peer}: handshake done; the client presented the certificate from {}",
            client_pem.display()
        )
    );
    assert_eq!(
        server.next_line(),
        format!("{peer}: sent the greeting and closed")
    );
}

/// In TLS 1.3 the client finishes its side of the handshake before the
/// server has judged its certificate, so the refusal reaches the client as
/// an alert when it reads.
#[test]
fn refuses_a_client_without_a_certificate_and_goes_on() {
    let dir = scratch_dir("mutual-none");
    let server = start_in(SERVER, &dir, &[]);

    let output = run_client(&server.port(), &dir.join("cert.pem"), None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(
        stderr.contains("received fatal alert: CertificateRequired"),
        "stderr:\n{stderr}"
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains("ohai"));
    wait_for_stderr(&server, "TLS handshake failed: peer sent no certificates\n");

    let output = run_client(
        &server.port(),
        &dir.join("cert.pem"),
        Some(&dir.join("client.pem")),
    );
    assert!(output.status.success());
}

#[test]
fn refuses_a_client_certificate_it_did_not_issue() {
    let dir = scratch_dir("mutual-other");
    let other = scratch_dir("mutual-other-issuer");
    let server = start_in(SERVER, &dir, &[]);
    let _other_server = start_in(SERVER, &other, &[]);

    // The other server's client identity: a perfectly good certificate and
    // key, just not one this server trusts.
    let output = run_client(
        &server.port(),
        &dir.join("cert.pem"),
        Some(&other.join("client.pem")),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&output.stdout).contains("ohai"));
    wait_for_stderr(&server, "TLS handshake failed: invalid peer certificate");
}
