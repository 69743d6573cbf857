use test_support::{Server, assert_closed, read_line};

const BIN: &str = env!("CARGO_BIN_EXE_accept_nonblock");
const WAIT: &str = "accept would block: waiting in poll for a connection";

#[test]
fn binds_loopback_and_announces_the_real_port() {
    let server = Server::start(BIN);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    assert_ne!(server.listening_on().port(), 0);
}

/// Each client connects only after the server has said it is waiting, so
/// every `accept` that would block is certain and the output is exact. A
/// server that retried `accept` without waiting in poll would print many
/// `would block` lines where this test expects one.
#[test]
fn waits_in_poll_then_accepts_and_greets_each_client() {
    let server = Server::start(BIN);
    for _ in 0..3 {
        assert_eq!(server.next_line(), WAIT);
        let mut client = server.connect();
        let me = client.local_addr().unwrap();
        assert_eq!(server.next_line(), format!("accepted {me}"));
        assert_eq!(
            read_line(&mut client),
            format!("hello {me}, you were accepted without blocking\n")
        );
        assert_closed(&mut client);
    }
    assert_eq!(server.next_line(), WAIT);
}

/// Clients that connect while the server is busy wait in the accept queue
/// and are accepted in the order they connected, with at most one wait in
/// poll per client.
#[test]
fn accepts_queued_connections_in_order_without_spinning() {
    let server = Server::start(BIN);
    assert_eq!(server.next_line(), WAIT);
    let mut clients: Vec<_> = (0..5).map(|_| server.connect()).collect();

    let mut waits = 0;
    for client in &mut clients {
        let me = client.local_addr().unwrap();
        let skipped = server.expect_line(&format!("accepted {me}"));
        assert!(skipped.iter().all(|line| line == WAIT), "{skipped:?}");
        waits += skipped.len();
        assert_eq!(
            read_line(client),
            format!("hello {me}, you were accepted without blocking\n")
        );
        assert_closed(client);
    }
    assert!(waits < 5, "{waits} waits in poll between 5 accepts");
}

#[test]
fn a_client_that_resets_at_once_does_not_stop_the_server() {
    let server = Server::start(BIN);
    assert_eq!(server.next_line(), WAIT);
    let rude = socket2::Socket::from(server.connect());
    rude.set_linger(Some(std::time::Duration::ZERO)).unwrap();
    drop(rude);

    let mut client = server.connect();
    let me = client.local_addr().unwrap();
    server.expect_line(&format!("accepted {me}"));
    assert_eq!(
        read_line(&mut client),
        format!("hello {me}, you were accepted without blocking\n")
    );
}
