//! recv_urgent: urgent bytes reported apart from the normal data, from
//! send_urgent and from peers in this test that send MSG_OOB themselves.

mod common;

use std::net::Shutdown;

use assert_cmd::Command;

use common::{Part, connect, queued_while_busy, send, wait_for_stderr};
use test_support::{Server, TIMEOUT};

const SERVER: &str = env!("CARGO_BIN_EXE_recv_urgent");
const SEND_URGENT: &str = env!("CARGO_BIN_EXE_send_urgent");

#[test]
fn binds_loopback_and_announces_the_real_port() {
    let server = Server::start(SERVER);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    assert_ne!(server.listening_on().port(), 0);
}

/// One step at a time, waiting for the server's line after each, so the
/// order of the lines is fixed.
#[test]
fn reports_normal_and_urgent_data_apart() {
    let server = Server::start(SERVER);
    let mut peer = connect(server.addr());
    let me = peer.local_addr().unwrap().as_socket().unwrap();
    assert_eq!(server.next_line(), format!("accepted {me}"));

    send(&mut peer, &[Part::Normal(b"before ")]);
    assert_eq!(server.next_line(), r#"normal: "before ""#);
    send(&mut peer, &[Part::Urgent(b'!')]);
    assert_eq!(server.next_line(), "urgent: !");
    send(&mut peer, &[Part::Normal(b"after\n")]);
    assert_eq!(server.next_line(), r#"normal: "after\n""#);
    send(&mut peer, &[Part::Urgent(b'?')]);
    assert_eq!(server.next_line(), "urgent: ?");
    peer.shutdown(Shutdown::Write).unwrap();
    assert_eq!(server.next_line(), format!("{me} closed the connection"));
}

/// Everything is already queued when the server looks: it reads the urgent
/// byte first, and the normal data on both sides of it, without the byte.
#[test]
fn reads_the_urgent_byte_first_when_everything_has_arrived() {
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
    assert_eq!(server.next_line(), "urgent: !");
    assert_eq!(server.next_line(), r#"normal: "normal data before ""#);
    assert_eq!(server.next_line(), r#"normal: "normal data after\n""#);
    assert_eq!(server.next_line(), format!("{me} closed the connection"));
}

/// One urgent pointer per connection: a second urgent byte sent before the
/// first was read moves the mark, and the first becomes normal data.
#[test]
fn a_second_urgent_byte_moves_the_mark_and_the_first_becomes_normal_data() {
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
    assert_eq!(server.next_line(), "urgent: 2");
    assert_eq!(server.next_line(), r#"normal: "normal data before 1""#);
    assert_eq!(server.next_line(), r#"normal: "normal data after\n""#);
    assert_eq!(server.next_line(), format!("{me} closed the connection"));
}

/// send_urgent and recv_urgent together. Whether the urgent byte is
/// reported before or after the data in front of it depends on timing, so
/// this checks what was reported, not in which order.
#[test]
fn separates_what_send_urgent_sends() {
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
    let lines = server.expect_line(&format!("{peer} closed the connection"));
    let urgent: Vec<&String> = lines
        .iter()
        .filter(|line| line.starts_with("urgent"))
        .collect();
    assert_eq!(urgent, ["urgent: !"], "lines: {lines:?}");
    let normal: String = lines
        .iter()
        .filter_map(|line| line.strip_prefix("normal: "))
        .collect();
    assert_eq!(
        normal, r#""normal data before ""normal data after\n""#,
        "lines: {lines:?}"
    );
    assert_eq!(lines.len(), 3, "lines: {lines:?}");
}

/// A peer that resets its connection ends only that connection.
#[test]
fn a_reset_does_not_stop_the_server() {
    let server = Server::start(SERVER);
    let rude = connect(server.addr());
    let rude_addr = rude.local_addr().unwrap().as_socket().unwrap();
    assert_eq!(server.next_line(), format!("accepted {rude_addr}"));
    // SO_LINGER with a zero timeout: close(2) sends RST instead of FIN.
    rude.set_linger(Some(std::time::Duration::ZERO)).unwrap();
    drop(rude);

    let mut next = connect(server.addr());
    let next_addr = next.local_addr().unwrap().as_socket().unwrap();
    assert_eq!(server.next_line(), format!("accepted {next_addr}"));
    wait_for_stderr(&server, &format!("{rude_addr}: read(2)"));
    send(&mut next, &[Part::Urgent(b'!')]);
    assert_eq!(server.next_line(), "urgent: !");
}
