use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use socket2::SockRef;
use test_support::{Server, read_to_end};

const BIN: &str = env!("CARGO_BIN_EXE_close_write");
const GREETING: &[u8] = b"hello! I am done writing, but I am still reading.\n";

#[test]
fn the_client_gets_the_greeting_and_eof_yet_can_still_send() {
    let server = Server::start(BIN);
    assert!(server.listening_on().ip().is_unspecified(), "binds 0.0.0.0");

    let mut client = server.connect();
    assert_eq!(
        server.next_line(),
        format!(
            "accepted a connection from {}",
            client.local_addr().unwrap()
        )
    );

    // Server → client: the greeting, then end-of-file, although we have not
    // sent anything yet and the connection is still open. (If the server had
    // not shut down its write side, this read would wait for more and time
    // out.)
    assert_eq!(read_to_end(&mut client), GREETING);
    assert_eq!(
        server.next_line(),
        "sent the greeting, then shut down our write side"
    );

    // Client → server: still open. Each write is printed as it arrives; we
    // wait for one line before the next write so the two are not merged.
    client.write_all(b"gekko\n").unwrap();
    assert_eq!(server.next_line(), r#"received "gekko\n""#);
    client.write_all(b"still here").unwrap();
    assert_eq!(server.next_line(), r#"received "still here""#);

    // Our EOF ends the server's reading, and then the connection.
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        server.next_line(),
        "the client closed its side after 16 bytes; closing the connection"
    );
}

#[test]
fn serves_the_next_client_after_one_has_finished() {
    let server = Server::start(BIN);
    for _ in 0..2 {
        let mut client = server.connect();
        let accepted = format!(
            "accepted a connection from {}",
            client.local_addr().unwrap()
        );
        server.expect_line(&accepted);
        assert_eq!(read_to_end(&mut client), GREETING);
        client.shutdown(Shutdown::Write).unwrap();
        server.expect_line("the client closed its side after 0 bytes; closing the connection");
    }
}

#[test]
fn a_client_that_resets_does_not_stop_the_server() {
    let mut server = Server::start(BIN);
    let quitter = server.connect();
    SockRef::from(&quitter)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(quitter); // RST instead of FIN

    let mut client = server.connect();
    let accepted = format!(
        "accepted a connection from {}",
        client.local_addr().unwrap()
    );
    server.expect_line(&accepted);
    assert_eq!(read_to_end(&mut client), GREETING);
    assert!(server.is_running(), "stderr: {}", server.stderr());
}
