//! The CloudHash server over real loopback sockets: one request per
//! connection, the exact replies, and a server that outlives bad clients.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::thread;
use std::time::Duration;

use cloudhash::MAX_REQUEST;
use test_support::{Server, read_to_end};

const BIN: &str = env!("CARGO_BIN_EXE_cloudhash_server");

/// What a CloudHash client does: connect, write the request, shut down the
/// writing side, read the reply until the server closes.
fn request(server: &Server, request: &[u8]) -> Vec<u8> {
    let mut client = server.connect();
    client.write_all(request).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    read_to_end(&mut client)
}

fn request_text(server: &Server, text: &str) -> String {
    String::from_utf8(request(server, text.as_bytes())).unwrap()
}

#[test]
fn binds_loopback_and_announces_the_real_port() {
    let server = Server::start(BIN);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    assert_ne!(server.listening_on().port(), 0);
}

#[test]
fn a_value_set_on_one_connection_is_there_on_the_next() {
    let server = Server::start(BIN);
    assert_eq!(request_text(&server, "SET prez obama"), "obama");
    assert_eq!(request_text(&server, "GET prez"), "obama");
    assert_eq!(request_text(&server, "SET prez lincoln\n"), "lincoln");
    assert_eq!(request_text(&server, "GET prez\n"), "lincoln");
}

#[test]
fn get_of_a_missing_key_is_an_empty_reply_then_eof() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    client.write_all(b"GET vp").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    // read_to_end returns only at EOF: zero bytes, then the server's FIN.
    assert_eq!(read_to_end(&mut client), b"");
}

#[test]
fn commands_are_case_insensitive_keys_are_not() {
    let server = Server::start(BIN);
    assert_eq!(request_text(&server, "set Prez obama"), "obama");
    assert_eq!(request_text(&server, "gEt Prez"), "obama");
    assert_eq!(request_text(&server, "get prez"), "");
}

#[test]
fn the_server_waits_for_eof_before_answering() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    client.write_all(b"SET prez").unwrap();
    // The rest of the request comes in a second write: the server must not
    // answer "SET prez" on its own. A correct server sends nothing here, so
    // this short wait can only let a wrong server slip through on a very
    // slow machine; it never fails a correct one.
    client
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut byte = [0u8; 1];
    let early = client.read(&mut byte);
    assert!(
        matches!(&early, Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "the server answered before EOF: {early:?}"
    );
    client.write_all(b" obama").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    client
        .set_read_timeout(Some(test_support::TIMEOUT))
        .unwrap();
    assert_eq!(read_to_end(&mut client), b"obama");
}

#[test]
fn bad_requests_get_their_exact_error_and_the_server_keeps_its_data() {
    let server = Server::start(BIN);
    assert_eq!(request_text(&server, "SET prez obama"), "obama");

    let cases: [(&[u8], &str); 9] = [
        (b"", "ERR empty request\n"),
        (b"\n", "ERR empty request\n"),
        (b"FOO bar", "ERR unknown command \"FOO\"\n"),
        (
            b"GET",
            "ERR wrong number of arguments for GET (expected: GET key)\n",
        ),
        (
            b"GET prez vp",
            "ERR wrong number of arguments for GET (expected: GET key)\n",
        ),
        (
            b"SET prez",
            "ERR wrong number of arguments for SET (expected: SET key value)\n",
        ),
        (
            b"SET prez barack obama",
            "ERR wrong number of arguments for SET (expected: SET key value)\n",
        ),
        (b"SET prez \xff\xfe", "ERR request is not UTF-8\n"),
        (
            b"SET prez x\nSET vp y\n",
            "ERR wrong number of arguments for SET (expected: SET key value)\n",
        ),
    ];
    for (bad, expected) in cases {
        assert_eq!(
            String::from_utf8_lossy(&request(&server, bad)),
            expected,
            "request {:?}",
            String::from_utf8_lossy(bad)
        );
        // Still serving, and nothing was lost or changed.
        assert_eq!(request_text(&server, "GET prez"), "obama");
    }
    assert_eq!(request_text(&server, "GET vp"), "", "no bad SET stored");
}

#[test]
fn a_request_of_exactly_one_mebibyte_is_served() {
    let server = Server::start(BIN);
    let mut big = b"GET ".to_vec();
    big.resize(MAX_REQUEST, b'k');
    assert_eq!(request(&server, &big), b"");
}

#[test]
fn a_request_over_the_limit_is_refused_after_reading_limit_plus_one_bytes() {
    let server = Server::start(BIN);
    assert_eq!(request_text(&server, "SET prez obama"), "obama");

    let mut client = server.connect();
    client.write_all(&vec![b'a'; MAX_REQUEST + 1]).unwrap();
    // No shutdown: a server that waited for EOF (buffering everything the
    // client might still send) would never answer, and this read would time
    // out. Ours stops reading at the limit plus one byte and answers.
    assert_eq!(
        String::from_utf8_lossy(&read_to_end(&mut client)),
        "ERR request too large (limit is 1048576 bytes)\n"
    );
    assert_eq!(request_text(&server, "GET prez"), "obama");
}

#[test]
fn a_flood_far_over_the_limit_does_not_stop_the_server() {
    let server = Server::start(BIN);
    assert_eq!(request_text(&server, "SET prez obama"), "obama");

    let mut client = server.connect();
    let mut writer = client.try_clone().unwrap();
    let flood = thread::spawn(move || {
        // The server stops reading after 1 MiB and closes with our data
        // still unread, so its kernel answers with a reset: this write fails
        // part way, which is expected.
        let _ = writer.write_all(&vec![b'a'; 8 * MAX_REQUEST]);
        let _ = writer.shutdown(Shutdown::Write);
    });
    // What we read depends on when the reset overtakes the reply: the error
    // line, a part of it, or a reset. Never a hang (reads time out).
    let mut reply = Vec::new();
    match client.read_to_end(&mut reply) {
        Ok(_) => {}
        Err(err) => assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}"),
    }
    let expected = b"ERR request too large (limit is 1048576 bytes)\n";
    assert!(expected.starts_with(&reply), "unexpected reply {reply:?}");
    flood.join().unwrap();

    assert_eq!(request_text(&server, "GET prez"), "obama");
}

#[test]
fn a_client_that_connects_and_closes_without_sending_is_harmless() {
    let server = Server::start(BIN);
    assert_eq!(request_text(&server, "SET prez obama"), "obama");
    for _ in 0..3 {
        drop(server.connect());
    }
    assert_eq!(request_text(&server, "GET prez"), "obama");
}

#[test]
fn a_client_that_resets_mid_request_is_harmless() {
    let server = Server::start(BIN);
    assert_eq!(request_text(&server, "SET prez obama"), "obama");
    for _ in 0..3 {
        let mut client = server.connect();
        client.write_all(b"SET prez mallory").unwrap();
        // SO_LINGER with a zero timeout makes close(2) send RST instead of
        // FIN: the server's read fails with ECONNRESET.
        let client = socket2::Socket::from(client);
        client.set_linger(Some(Duration::ZERO)).unwrap();
        drop(client);
    }
    assert_eq!(request_text(&server, "GET prez"), "obama");
}

#[test]
fn one_connection_per_request_even_for_many_requests() {
    let server = Server::start(BIN);
    for i in 0..50 {
        let value = format!("v{i}");
        assert_eq!(request_text(&server, &format!("SET k{i} {value}")), value);
    }
    for i in 0..50 {
        assert_eq!(request_text(&server, &format!("GET k{i}")), format!("v{i}"));
    }
}
