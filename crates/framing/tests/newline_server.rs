use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;

use framing::MAX_LINE;
use test_support::{Server, assert_closed, read_line};

const BIN: &str = env!("CARGO_BIN_EXE_newline_server");

/// Sends one request line and returns the reply line, newline included.
fn ask(stream: &mut TcpStream, request: &str) -> String {
    stream.write_all(format!("{request}\n").as_bytes()).unwrap();
    read_line(stream)
}

#[test]
fn binds_loopback_and_announces_the_real_port() {
    let server = Server::start(BIN);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    assert_ne!(server.listening_on().port(), 0);
}

#[test]
fn answers_each_line_on_one_connection() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    assert_eq!(ask(&mut client, "SET prez obama"), "OK\n");
    assert_eq!(ask(&mut client, "GET prez"), "VALUE obama\n");
    assert_eq!(ask(&mut client, "GET vp"), "NIL\n");
    // An empty value is not a missing key.
    assert_eq!(ask(&mut client, "SET vp "), "OK\n");
    assert_eq!(ask(&mut client, "GET vp"), "VALUE \n");
    // The value is the rest of the line, spaces and all.
    assert_eq!(ask(&mut client, "set motto  yes we can"), "OK\n");
    assert_eq!(ask(&mut client, "get motto"), "VALUE  yes we can\n");
}

#[test]
fn accepts_crlf_and_lf_line_endings() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    client.write_all(b"SET os windows\r\n").unwrap();
    assert_eq!(read_line(&mut client), "OK\n");
    client.write_all(b"GET os\n").unwrap();
    // The \r belonged to the line ending, not to the value.
    assert_eq!(read_line(&mut client), "VALUE windows\n");
    client.write_all(b"GET os\r\n").unwrap();
    assert_eq!(read_line(&mut client), "VALUE windows\n");
    // Only one \r before the \n is part of the ending.
    client.write_all(b"SET cr a\rb\r\r\nGET cr\n").unwrap();
    assert_eq!(read_line(&mut client), "OK\n");
    assert_eq!(read_line(&mut client), "VALUE a\rb\r\n");
}

#[test]
fn bad_requests_get_an_error_line_and_the_connection_stays_open() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    assert_eq!(ask(&mut client, ""), "ERR empty request\n");
    assert_eq!(
        ask(&mut client, "DELETE prez"),
        "ERR unknown command \"DELETE\" (expected SET, GET or exit)\n"
    );
    assert_eq!(
        ask(&mut client, "SET prez"),
        "ERR usage: SET <key> <value>\n"
    );
    assert_eq!(ask(&mut client, "GET"), "ERR usage: GET <key>\n");
    assert_eq!(ask(&mut client, "SET still open"), "OK\n");
}

#[test]
fn answers_hundreds_of_pipelined_requests_in_order() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    // 600 requests in one write: every GET must see the SET just before it,
    // so the replies can only be right if they are answered in order.
    let mut requests = String::new();
    let mut expected = Vec::new();
    for i in 0..300 {
        requests.push_str(&format!("SET k{} v{i}\nGET k{}\n", i % 7, i % 7));
        expected.push("OK\n".to_string());
        expected.push(format!("VALUE v{i}\n"));
    }
    client.write_all(requests.as_bytes()).unwrap();

    let mut replies = BufReader::new(client.try_clone().unwrap());
    for (i, want) in expected.iter().enumerate() {
        let mut got = String::new();
        replies.read_line(&mut got).unwrap();
        assert_eq!(&got, want, "reply {i}");
    }
}

#[test]
fn a_request_split_across_writes_is_answered_once_complete() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    // One write holds a whole request and the start of the next.
    client.write_all(b"SET a 1\nGET").unwrap();
    // The reply proves the server has read that write, the half line too.
    assert_eq!(read_line(&mut client), "OK\n");
    client.write_all(b" a").unwrap();
    client.write_all(b"\n").unwrap();
    assert_eq!(read_line(&mut client), "VALUE 1\n");
}

#[test]
fn exit_closes_the_connection_and_later_requests_go_unanswered() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    client.write_all(b"SET a 1\nexit\nGET a\n").unwrap();
    assert_eq!(read_line(&mut client), "OK\n");
    assert_closed(&mut client);
}

#[test]
fn connections_are_served_concurrently_and_share_one_store() {
    let server = Server::start(BIN);
    let mut first = server.connect();
    let mut second = server.connect();
    // `first` stays open, idle, while `second` is served: a server that
    // handled one connection at a time would never answer `second`.
    assert_eq!(ask(&mut first, "SET from first"), "OK\n");
    assert_eq!(ask(&mut second, "GET from"), "VALUE first\n");
    assert_eq!(ask(&mut second, "SET back second"), "OK\n");
    assert_eq!(ask(&mut first, "GET back"), "VALUE second\n");
    // And a new connection sees what earlier ones stored.
    let mut third = server.connect();
    assert_eq!(ask(&mut third, "GET from"), "VALUE first\n");
}

#[test]
fn a_line_of_exactly_the_cap_is_accepted() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    // "SET k " + value + "\n" is exactly MAX_LINE bytes.
    let value = "x".repeat(MAX_LINE - "SET k \n".len());
    assert_eq!(ask(&mut client, &format!("SET k {value}")), "OK\n");
    assert_eq!(ask(&mut client, "GET k"), format!("VALUE {value}\n"));
}

#[test]
fn a_line_one_byte_over_the_cap_is_refused_and_the_connection_closed() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let value = "x".repeat(MAX_LINE + 1 - "SET k \n".len());
    // The server may hang up before the last byte is written; what counts
    // is what it answers.
    let _ = client.write_all(format!("SET k {value}\n").as_bytes());
    assert_eq!(
        read_line(&mut client),
        "ERR line too long (the limit is 65536 bytes, newline included)\n"
    );
    assert_closed(&mut client);
}

#[test]
fn a_flood_without_newline_is_cut_off_at_the_cap_and_others_are_unaffected() {
    let server = Server::start(BIN);
    let mut bystander = server.connect();
    assert_eq!(ask(&mut bystander, "SET calm yes"), "OK\n");

    let mut flood = server.connect();
    let mut writer = flood.try_clone().unwrap();
    // 100 MiB and never a newline, from a thread: the write blocks once the
    // kernel buffers between us are full, and only the server hanging up
    // can end it.
    let sender = thread::spawn(move || {
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..1600 {
            writer.write_all(&chunk)?;
        }
        Ok::<(), std::io::Error>(())
    });

    assert_eq!(
        read_line(&mut flood),
        "ERR line too long (the limit is 65536 bytes, newline included)\n"
    );
    assert_closed(&mut flood);
    // The kernel buffers hold a few MiB at most: had the server kept reading
    // (to buffer the line, or to find its end), all 100 MiB would have gone.
    let err = sender
        .join()
        .unwrap()
        .expect_err("the whole 100 MiB was accepted: the server did not hang up at the cap");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
        ),
        "the write should fail because the server closed, not with {err}"
    );

    assert_eq!(ask(&mut bystander, "GET calm"), "VALUE yes\n");
    let mut newcomer = server.connect();
    assert_eq!(ask(&mut newcomer, "GET calm"), "VALUE yes\n");
}

#[test]
fn a_client_that_leaves_mid_line_does_not_disturb_the_server() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    client.write_all(b"SET half").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    // The unfinished request is dropped, not answered.
    assert_closed(&mut client);

    let mut next = server.connect();
    assert_eq!(ask(&mut next, "GET half"), "NIL\n");
}
