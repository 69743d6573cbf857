use std::time::Duration;

use socket2::SockRef;
use test_support::{Server, assert_closed};

const BIN: &str = env!("CARGO_BIN_EXE_tcp_listener_shorthand");

#[test]
fn behaves_like_accept_loop() {
    let mut server = Server::start(BIN);
    assert!(server.listening_on().ip().is_unspecified(), "binds 0.0.0.0");

    for _ in 0..3 {
        let mut client = server.connect();
        assert_eq!(
            server.next_line(),
            format!(
                "accepted a connection from {}",
                client.local_addr().unwrap()
            )
        );
        assert_closed(&mut client);
    }
    assert!(server.is_running(), "incoming() never ends");
}

#[test]
fn a_client_that_resets_at_once_does_not_stop_the_server() {
    let mut server = Server::start(BIN);
    let quitter = server.connect();
    // SO_LINGER with a zero timeout makes close(2) send RST instead of FIN;
    // getpeername(2) on the accepted socket may then fail with ENOTCONN.
    SockRef::from(&quitter)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(quitter);

    let mut client = server.connect();
    let expected = format!(
        "accepted a connection from {}",
        client.local_addr().unwrap()
    );
    server.expect_line(&expected);
    assert_closed(&mut client);
    assert!(server.is_running(), "stderr: {}", server.stderr());
}
