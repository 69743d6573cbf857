use std::io::Write;
use std::net::Shutdown;
use std::thread;

use test_support::{Server, read_to_end};

const BIN: &str = env!("CARGO_BIN_EXE_echo_server");

#[test]
fn binds_loopback_and_announces_the_real_port() {
    let server = Server::start(BIN);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    assert_ne!(server.listening_on().port(), 0);
}

#[test]
fn echoes_what_it_reads_until_the_client_closes() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    client.write_all(b"ohai\n").unwrap();
    client.write_all(b"second write, same stream\n").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        read_to_end(&mut client),
        b"ohai\nsecond write, same stream\n"
    );
}

#[test]
fn serves_one_connection_after_another() {
    let server = Server::start(BIN);
    for round in 0..3 {
        let mut client = server.connect();
        let message = format!("round {round}");
        client.write_all(message.as_bytes()).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        assert_eq!(read_to_end(&mut client), message.as_bytes());
    }
}

#[test]
fn echoes_a_megabyte_of_binary_data_byte_for_byte() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let payload: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 % 256) as u8).collect();
    // Write from another thread: the echo comes back while we are still
    // sending, and nobody reading it would fill both buffers and deadlock.
    let mut writer = client.try_clone().unwrap();
    let sent = payload.clone();
    let sender = thread::spawn(move || {
        writer.write_all(&sent).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let echoed = read_to_end(&mut client);
    sender.join().unwrap();
    assert_eq!(echoed.len(), payload.len());
    assert!(echoed == payload, "echoed bytes differ from those sent");
}
