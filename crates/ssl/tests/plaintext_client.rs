//! plaintext_client: what a client that does not speak TLS sees.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use assert_cmd::Command;

use common::{scratch_dir, start_in, wait_for_stderr};
use test_support::{TIMEOUT, accept};

const PLAINTEXT_CLIENT: &str = env!("CARGO_BIN_EXE_plaintext_client");
const SERVER: &str = env!("CARGO_BIN_EXE_ssl_server");
const CLIENT: &str = env!("CARGO_BIN_EXE_ssl_client");

fn run(port: &str) -> std::process::Output {
    Command::new(PLAINTEXT_CLIENT)
        .env("HOST", "127.0.0.1")
        .env("PORT", port)
        .timeout(TIMEOUT)
        .output()
        .unwrap()
}

/// Both sides of the failure: the client gets a fatal decode_error alert,
/// the server reports the client on stderr, and a TLS client after it is
/// served as usual.
#[test]
fn gets_a_tls_alert_from_ssl_server_which_goes_on_serving() {
    let dir = scratch_dir("plaintext-vs-server");
    let server = start_in(SERVER, &dir, &[]);

    let output = run(&server.port());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "stdout:\n{stdout}");
    assert_eq!(
        stdout,
        format!(
            "connected to {}\n\
             sent 5 bytes of plaintext: \"ohai\\n\"\n\
             received 7 bytes: 15 03 03 00 02 02 32\n\
             that is a TLS alert record: fatal, decode_error (50)\n\
             the server closed the connection\n",
            server.addr()
        )
    );

    let accepted = server.next_line();
    let peer = accepted.strip_prefix("accepted ").unwrap();
    wait_for_stderr(
        &server,
        &format!(
            "{peer}: TLS handshake failed: received corrupt message of type InvalidContentType"
        ),
    );

    let output = Command::new(CLIENT)
        .env("HOST", "127.0.0.1")
        .env("PORT", server.port())
        .env("CERT_FILE", dir.join("cert.pem"))
        .env_remove("CLIENT_CERT")
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stdout).ends_with("\nohai from ssl_server, over TLS\n")
    );
}

/// Against a plaintext server the answer is printed in hex, and nothing
/// claims it is an alert.
#[test]
fn prints_a_plaintext_answer_in_hex_and_does_not_call_it_an_alert() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = std::thread::spawn(move || run(&addr.port().to_string()));

    let (mut connection, _) = accept(&listener);
    let mut line = [0u8; 5];
    connection.read_exact(&mut line).unwrap();
    assert_eq!(&line, b"ohai\n");
    connection.write_all(b"hi!\n").unwrap();
    drop(connection);

    let output = client.join().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!(
            "connected to {addr}\n\
             sent 5 bytes of plaintext: \"ohai\\n\"\n\
             received 4 bytes: 68 69 21 0a\n\
             the server closed the connection\n"
        )
    );
}
