use test_support::{Server, read_to_end};

const BIN: &str = env!("CARGO_BIN_EXE_write_welcome");

#[test]
fn binds_loopback_and_announces_the_real_port() {
    let server = Server::start(BIN);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
}

#[test]
fn sends_welcome_then_eof() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let client_addr = client.local_addr().unwrap();
    // Exactly these 8 bytes, then EOF (read_to_end returns only on EOF).
    assert_eq!(read_to_end(&mut client), b"Welcome!");
    assert_eq!(
        server.next_line(),
        format!("wrote 8 bytes to {client_addr}")
    );
    assert_eq!(server.next_line(), "closed the connection");
}

#[test]
fn greets_every_client_in_turn_even_after_one_hangs_up_at_once() {
    let server = Server::start(BIN);
    // A client that leaves before reading must not stop the server.
    drop(server.connect());
    server.expect_line("closed the connection");
    for _ in 0..3 {
        let mut client = server.connect();
        assert_eq!(read_to_end(&mut client), b"Welcome!");
        server.expect_line("closed the connection");
    }
}
