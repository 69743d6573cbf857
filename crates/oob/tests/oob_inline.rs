//! oob_inline: the urgent byte found in the normal stream by the at-mark
//! check.

mod common;

use std::net::Shutdown;

use assert_cmd::Command;

use common::{Part, connect, queued_while_busy, send};
use test_support::{Server, TIMEOUT};

const SERVER: &str = env!("CARGO_BIN_EXE_oob_inline");
const SEND_URGENT: &str = env!("CARGO_BIN_EXE_send_urgent");

#[test]
fn finds_the_urgent_byte_at_the_mark() {
    let server = Server::start(SERVER);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    let mut peer = connect(server.addr());
    let me = peer.local_addr().unwrap().as_socket().unwrap();
    assert_eq!(server.next_line(), format!("accepted {me}"));

    send(&mut peer, &[Part::Normal(b"before ")]);
    assert_eq!(server.next_line(), r#"normal: "before ""#);
    send(&mut peer, &[Part::Urgent(b'!')]);
    assert_eq!(server.next_line(), "urgent, at the mark: !");
    send(&mut peer, &[Part::Normal(b"after\n")]);
    assert_eq!(server.next_line(), r#"normal: "after\n""#);
    peer.shutdown(Shutdown::Write).unwrap();
    assert_eq!(server.next_line(), format!("{me} closed the connection"));
}

/// With everything already queued, the first read stops short of the mark
/// and the urgent byte is read on its own.
#[test]
fn a_read_stops_at_the_mark() {
    let server = Server::start(SERVER);
    let me = queued_while_busy(
        &server,
        &[
            Part::Normal(b"normal data before "),
            Part::Urgent(b'!'),
            Part::Normal(b"normal data after\n"),
        ],
    );
    assert_eq!(server.next_line(), format!("accepted {me}"));
    assert_eq!(server.next_line(), r#"normal: "normal data before ""#);
    assert_eq!(server.next_line(), "urgent, at the mark: !");
    assert_eq!(server.next_line(), r#"normal: "normal data after\n""#);
    assert_eq!(server.next_line(), format!("{me} closed the connection"));
}

/// One urgent pointer: of two urgent bytes, only the later is at the mark.
#[test]
fn only_the_last_of_two_urgent_bytes_is_at_the_mark() {
    let server = Server::start(SERVER);
    let me = queued_while_busy(
        &server,
        &[
            Part::Normal(b"normal data before "),
            Part::Urgent(b'1'),
            Part::Urgent(b'2'),
            Part::Normal(b"normal data after\n"),
        ],
    );
    assert_eq!(server.next_line(), format!("accepted {me}"));
    assert_eq!(server.next_line(), r#"normal: "normal data before 1""#);
    assert_eq!(server.next_line(), "urgent, at the mark: 2");
    assert_eq!(server.next_line(), r#"normal: "normal data after\n""#);
    assert_eq!(server.next_line(), format!("{me} closed the connection"));
}

/// An urgent byte with nothing in front of it: the very first byte is at
/// the mark. A stream with no urgent byte never is.
#[test]
fn an_urgent_first_byte_is_at_the_mark_and_plain_streams_never_are() {
    let server = Server::start(SERVER);
    let me = queued_while_busy(&server, &[Part::Urgent(b'!'), Part::Normal(b"rest\n")]);
    assert_eq!(server.next_line(), format!("accepted {me}"));
    assert_eq!(server.next_line(), "urgent, at the mark: !");
    assert_eq!(server.next_line(), r#"normal: "rest\n""#);
    assert_eq!(server.next_line(), format!("{me} closed the connection"));

    let me = queued_while_busy(
        &server,
        &[Part::Normal(b"just normal data, even a ! here\n")],
    );
    assert_eq!(server.next_line(), format!("accepted {me}"));
    assert_eq!(
        server.next_line(),
        r#"normal: "just normal data, even a ! here\n""#
    );
    assert_eq!(server.next_line(), format!("{me} closed the connection"));
}

#[test]
fn finds_the_mark_in_what_send_urgent_sends() {
    let server = Server::start(SERVER);
    Command::new(SEND_URGENT)
        .env("HOST", "127.0.0.1")
        .env("PORT", server.port())
        .env_remove("URGENT")
        .timeout(TIMEOUT)
        .assert()
        .success();
    let accepted = server.next_line();
    let peer = accepted.strip_prefix("accepted ").unwrap();
    assert_eq!(server.next_line(), r#"normal: "normal data before ""#);
    assert_eq!(server.next_line(), "urgent, at the mark: !");
    assert_eq!(server.next_line(), r#"normal: "normal data after\n""#);
    assert_eq!(server.next_line(), format!("{peer} closed the connection"));
}
