use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use test_support::{Server, TIMEOUT, assert_closed};

const BIN: &str = env!("CARGO_BIN_EXE_tls_echo_server");
const DIR: &str = env!("CARGO_MANIFEST_DIR");

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// Starts the server on the certificate and key of this folder.
fn start() -> Server {
    let mut command = Command::new(BIN);
    command
        .env("PORT", "0")
        .env("CERT_FILE", format!("{DIR}/cert.pem"))
        .env("KEY_FILE", format!("{DIR}/key.pem"));
    Server::start_command(command)
}

/// A TLS client that trusts exactly cert.pem and expects the name localhost,
/// with the handshake done.
fn tls_connect(server: &Server) -> Tls {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(format!("{DIR}/cert.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let session = ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tls = StreamOwned::new(session, server.connect());
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .unwrap_or_else(|err| panic!("TLS handshake: {err}; stderr:\n{}", server.stderr()));
    }
    tls
}

/// Reads exactly `n` bytes of plaintext.
fn read_plaintext(tls: &mut Tls, n: usize) -> Vec<u8> {
    let mut received = vec![0; n];
    tls.read_exact(&mut received)
        .unwrap_or_else(|err| panic!("reading {n} bytes of plaintext: {err}"));
    received
}

/// Ends the session as a well-behaved client does, and checks that the
/// server answers with its own close_notify: a clean end of the plaintext
/// (Ok(0)), not an UnexpectedEof.
fn close(mut tls: Tls) {
    tls.conn.send_close_notify();
    tls.flush().unwrap();
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest)
        .unwrap_or_else(|err| panic!("expected the server's close_notify, got {err}"));
    assert_eq!(rest, b"", "unexpected plaintext after our close_notify");
}

/// Waits until the server's stderr contains `needle`.
fn wait_for_stderr(server: &Server, needle: &str) {
    let deadline = Instant::now() + TIMEOUT;
    while !server.stderr().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "nothing on stderr mentions {needle}; stderr:\n{}",
            server.stderr()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn binds_loopback_and_announces_the_real_port() {
    let server = start();
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    assert_ne!(server.listening_on().port(), 0);
}

#[test]
fn echoes_over_tls_and_closes_with_close_notify() {
    let server = start();
    let mut tls = tls_connect(&server);
    tls.write_all(b"ohai\n").unwrap();
    tls.flush().unwrap();
    assert_eq!(read_plaintext(&mut tls, 5), b"ohai\n");
    tls.write_all(b"second line, same session\n").unwrap();
    tls.flush().unwrap();
    assert_eq!(read_plaintext(&mut tls, 26), b"second line, same session\n");
    close(tls);
}

#[test]
fn echoes_a_megabyte_byte_for_byte() {
    let server = start();
    let mut tls = tls_connect(&server);
    let payload: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 % 256) as u8).collect();
    // One chunk at a time, reading its echo before sending the next, so
    // that neither side's buffers can fill up and stall both.
    let mut echoed = Vec::with_capacity(payload.len());
    let mut sent = 0;
    let mut buffer = vec![0u8; 64 * 1024];
    for chunk in payload.chunks(16 * 1024) {
        tls.write_all(chunk).unwrap();
        tls.flush().unwrap();
        sent += chunk.len();
        while echoed.len() < sent {
            let n = tls.read(&mut buffer).unwrap();
            assert_ne!(n, 0, "the server ended the session early");
            echoed.extend_from_slice(&buffer[..n]);
        }
    }
    assert_eq!(echoed.len(), payload.len());
    assert!(echoed == payload, "echoed bytes differ from those sent");
    close(tls);
}

#[test]
fn serves_one_client_after_another() {
    let server = start();
    for round in 0..3 {
        let mut tls = tls_connect(&server);
        let message = format!("round {round}\n");
        tls.write_all(message.as_bytes()).unwrap();
        tls.flush().unwrap();
        assert_eq!(read_plaintext(&mut tls, message.len()), message.as_bytes());
        close(tls);
    }
}

#[test]
fn a_plaintext_client_is_reported_and_the_server_goes_on() {
    let server = start();
    let mut plain = server.connect();
    let plain_addr = plain.local_addr().unwrap();
    plain.write_all(b"ohai\n").unwrap();
    // The server refuses: a TLS alert, then the end of the connection.
    let mut answer = Vec::new();
    match plain.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(err) if err.kind() == ErrorKind::ConnectionReset => {}
        Err(err) => panic!("reading the refusal: {err}"),
    }
    assert_eq!(answer.first(), Some(&0x15), "no TLS alert: {answer:?}");
    wait_for_stderr(&server, &plain_addr.to_string());

    let mut tls = tls_connect(&server);
    tls.write_all(b"still here?\n").unwrap();
    tls.flush().unwrap();
    assert_eq!(read_plaintext(&mut tls, 12), b"still here?\n");
    close(tls);
}

#[test]
fn a_client_that_drops_the_connection_without_close_notify_is_reported() {
    let server = start();
    let mut tls = tls_connect(&server);
    let dropped = tls.sock.local_addr().unwrap();
    tls.write_all(b"bye\n").unwrap();
    tls.flush().unwrap();
    assert_eq!(read_plaintext(&mut tls, 4), b"bye\n");
    // Close the TCP connection under the session: no close_notify.
    drop(tls);
    wait_for_stderr(&server, &dropped.to_string());

    let mut tls = tls_connect(&server);
    let mut raw = tls.sock.try_clone().unwrap();
    tls.write_all(b"next\n").unwrap();
    tls.flush().unwrap();
    assert_eq!(read_plaintext(&mut tls, 5), b"next\n");
    close(tls);
    assert_closed(&mut raw);
}
