//! ssl_server: the certificate it publishes, and clients that do not speak
//! TLS, or stop half-way, which it reports on stderr before serving the next.

mod common;

use std::io::Write;
use std::path::Path;

use assert_cmd::Command;

use common::{scratch_dir, start_in, wait_for_stderr};
use test_support::{Server, TIMEOUT, assert_closed, read_exact, read_to_end};

const SERVER: &str = env!("CARGO_BIN_EXE_ssl_server");
const CLIENT: &str = env!("CARGO_BIN_EXE_ssl_client");

/// A real TLS client still gets the greeting: the server is still serving.
fn assert_still_serving(server: &Server, cert_file: &Path) {
    let output = Command::new(CLIENT)
        .env("HOST", "127.0.0.1")
        .env("PORT", server.port())
        .env("CERT_FILE", cert_file)
        .env_remove("CLIENT_CERT")
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.ends_with("\nohai from ssl_server, over TLS\n"),
        "stdout:\n{stdout}"
    );
}

#[test]
fn writes_its_certificate_then_listens_on_loopback() {
    let dir = scratch_dir("server-cert");
    let server = start_in(SERVER, &dir, &[]);
    let cert_file = dir.join("cert.pem");

    assert_eq!(
        server.lines_before_listening(),
        [format!("wrote the certificate to {}", cert_file.display())]
    );
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    assert_ne!(server.listening_on().port(), 0);

    // One certificate, and no private key: the key never leaves the server.
    let pem = std::fs::read_to_string(&cert_file).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem}");
    assert_eq!(pem.matches("-----BEGIN").count(), 1, "{pem}");
    assert!(!pem.contains("PRIVATE KEY"), "{pem}");
}

/// Plaintext where a ClientHello should be: the server answers with a TLS
/// alert (fatal, decode_error), closes, reports it, and serves the next
/// client.
#[test]
fn a_plaintext_client_gets_an_alert_and_the_server_goes_on() {
    let dir = scratch_dir("server-plaintext");
    let server = start_in(SERVER, &dir, &[]);

    let mut client = server.connect();
    let me = client.local_addr().unwrap();
    client.write_all(b"ohai\n").unwrap();
    assert_eq!(
        read_to_end(&mut client),
        [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32]
    );
    assert_eq!(server.next_line(), format!("accepted {me}"));
    wait_for_stderr(
        &server,
        &format!(
            "{me}: TLS handshake failed: received corrupt message of type InvalidContentType\n"
        ),
    );

    assert_still_serving(&server, &dir.join("cert.pem"));
}

/// A client that connects and closes without a word, and one that sends
/// bytes that are no TLS at all, each end only their own connection.
#[test]
fn clients_that_close_at_once_or_send_garbage_do_not_stop_it() {
    let dir = scratch_dir("server-garbage");
    let server = start_in(SERVER, &dir, &[]);

    let quiet = server.connect();
    let quiet_addr = quiet.local_addr().unwrap();
    drop(quiet);
    assert_eq!(server.next_line(), format!("accepted {quiet_addr}"));
    wait_for_stderr(&server, &format!("{quiet_addr}: TLS handshake failed"));

    // A handshake record header announcing far more than a record may hold,
    // then every byte value.
    let mut garbage = server.connect();
    let garbage_addr = garbage.local_addr().unwrap();
    let mut bytes = vec![0x16, 0x03, 0x01, 0xff, 0xff];
    bytes.extend(0..=255u8);
    garbage.write_all(&bytes).unwrap();
    assert_eq!(server.next_line(), format!("accepted {garbage_addr}"));
    let stderr = wait_for_stderr(&server, &format!("{garbage_addr}: TLS handshake failed"));
    // A fatal decode_error alert, then the end of the connection (a reset,
    // if the server closed with our garbage still unread).
    assert_eq!(
        read_exact(&mut garbage, 7),
        [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32],
        "stderr:\n{stderr}"
    );
    assert_closed(&mut garbage);

    assert_still_serving(&server, &dir.join("cert.pem"));
}

/// A client that connects and says nothing would hold a one-at-a-time
/// server for ever; this one gives up on it after 5 s.
#[test]
fn a_silent_client_is_given_up_on_and_the_next_is_served() {
    let dir = scratch_dir("server-silent");
    let server = start_in(SERVER, &dir, &[]);

    let mut silent = server.connect();
    let silent_addr = silent.local_addr().unwrap();
    assert_eq!(server.next_line(), format!("accepted {silent_addr}"));
    wait_for_stderr(
        &server,
        &format!("{silent_addr}: TLS handshake failed: Resource temporarily unavailable"),
    );
    assert_closed(&mut silent);

    assert_still_serving(&server, &dir.join("cert.pem"));
}
