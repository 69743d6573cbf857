use std::io::Write;
use std::net::TcpStream;

use test_support::{Server, read_exact, read_line};

const BIN: &str = env!("CARGO_BIN_EXE_poll_chat");

/// Connects `count` clients, waiting for the server's `accepted` line after
/// each, so that every one of them is in the chat before anyone speaks.
fn join(server: &Server, count: usize) -> Vec<TcpStream> {
    (0..count)
        .map(|_| {
            let client = server.connect();
            let addr = client.local_addr().unwrap();
            server.expect_line(&format!("accepted {addr}"));
            client
        })
        .collect()
}

#[test]
fn binds_loopback_and_announces_the_real_port() {
    let server = Server::start(BIN);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    assert_ne!(server.listening_on().port(), 0);
}

#[test]
fn a_line_goes_to_every_other_client_and_not_back_to_its_sender() {
    let server = Server::start(BIN);
    let mut clients = join(&server, 3);

    clients[0].write_all(b"hello from A\n").unwrap();
    assert_eq!(read_line(&mut clients[1]), "hello from A\n");
    assert_eq!(read_line(&mut clients[2]), "hello from A\n");

    clients[1].write_all(b"hi A, B here\n").unwrap();
    // Had A been sent its own line, that would come first.
    assert_eq!(read_line(&mut clients[0]), "hi A, B here\n");
    assert_eq!(read_line(&mut clients[2]), "hi A, B here\n");

    clients[2].write_all(b"C too\n").unwrap();
    assert_eq!(read_line(&mut clients[0]), "C too\n");
    assert_eq!(read_line(&mut clients[1]), "C too\n");
}

#[test]
fn several_lines_in_one_write_arrive_in_order() {
    let server = Server::start(BIN);
    let mut clients = join(&server, 3);

    clients[0].write_all(b"one\ntwo\nthree\n").unwrap();
    for listener in [1, 2] {
        assert_eq!(read_exact(&mut clients[listener], 14), b"one\ntwo\nthree\n");
    }
}

#[test]
fn an_unfinished_line_waits_for_its_end() {
    let server = Server::start(BIN);
    let mut clients = join(&server, 3);

    // A starts a line but does not finish it...
    clients[0].write_all(b"A is typ").unwrap();
    // ...B's whole line goes out meanwhile, without A's half mixed in...
    clients[1].write_all(b"B speaks\n").unwrap();
    assert_eq!(read_line(&mut clients[2]), "B speaks\n");
    // ...and A's line goes out whole once it ends.
    clients[0].write_all(b"ing slowly\n").unwrap();
    assert_eq!(read_line(&mut clients[2]), "A is typing slowly\n");
    assert_eq!(read_line(&mut clients[1]), "A is typing slowly\n");
}

#[test]
fn a_client_that_leaves_is_dropped_and_the_chat_goes_on() {
    let server = Server::start(BIN);
    let mut clients = join(&server, 3);
    let leaver = clients.pop().unwrap();
    let leaver_addr = leaver.local_addr().unwrap();

    drop(leaver);
    server.expect_line(&format!("closed {leaver_addr}"));

    clients[0].write_all(b"still here?\n").unwrap();
    assert_eq!(read_line(&mut clients[1]), "still here?\n");
    clients[1].write_all(b"yes\n").unwrap();
    assert_eq!(read_line(&mut clients[0]), "yes\n");

    // A newcomer joins the ongoing chat.
    let mut newcomer = join(&server, 1).remove(0);
    clients[0].write_all(b"welcome\n").unwrap();
    assert_eq!(read_line(&mut newcomer), "welcome\n");
    assert_eq!(read_line(&mut clients[1]), "welcome\n");
}

#[test]
fn a_client_that_never_reads_does_not_hold_up_the_others() {
    let server = Server::start(BIN);
    let mut clients = join(&server, 3);
    // C never reads. 8 MiB of lines is more than the kernel buffers between
    // the server and C can hold, so a server whose writes block gets stuck
    // writing to C and B waits forever.
    let line = format!("{:063}\n", 42);
    let lines = 8 * 1024 * 1024 / line.len();
    let mut sender = clients[0].try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        for _ in 0..lines {
            sender.write_all(line.as_bytes()).unwrap();
        }
    });
    let received = read_exact(&mut clients[1], lines * 64);
    writer.join().unwrap();
    assert!(
        received
            .chunks(64)
            .all(|chunk| chunk == format!("{:063}\n", 42).as_bytes()),
        "B received something other than A's lines"
    );
}
