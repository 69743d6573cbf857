use test_support::{Server, assert_closed};

#[test]
fn accepts_and_closes_one_connection_after_another() {
    let mut server = Server::start(env!("CARGO_BIN_EXE_accept_loop"));
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
    assert!(server.is_running(), "the loop never ends");
}

#[test]
fn queued_connections_are_accepted_in_the_order_they_arrived() {
    let server = Server::start(env!("CARGO_BIN_EXE_accept_loop"));
    // connect(2) returns once the kernel has completed the handshake and
    // queued the connection, whether or not the server has accepted it yet.
    let mut clients: Vec<_> = (0..3).map(|_| server.connect()).collect();
    for client in &mut clients {
        assert_eq!(
            server.next_line(),
            format!(
                "accepted a connection from {}",
                client.local_addr().unwrap()
            )
        );
        assert_closed(client);
    }
}
