//! send_urgent against a test listener that receives the urgent byte apart
//! (recv with MSG_OOB) or inline (SO_OOBINLINE).

mod common;

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::process::Output;

use assert_cmd::Command;
use nix::sys::socket::{MsgFlags, recv};
use predicates::prelude::*;
use socket2::{Domain, Socket, Type};

use common::wait_for_urgent;
use test_support::{TIMEOUT, accept, read_to_end};

const BIN: &str = env!("CARGO_BIN_EXE_send_urgent");

/// A loopback listener on a free port, with SO_OOBINLINE on or off (the
/// accepted connection inherits it).
fn listener(inline: bool) -> TcpListener {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_out_of_band_inline(inline).unwrap();
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    socket.listen(8).unwrap();
    socket.into()
}

fn run(listener: &TcpListener, urgent: Option<&str>) -> Output {
    let mut command = Command::new(BIN);
    command
        .env("HOST", "127.0.0.1")
        .env("PORT", listener.local_addr().unwrap().port().to_string())
        .timeout(TIMEOUT);
    match urgent {
        Some(urgent) => command.env("URGENT", urgent),
        None => command.env_remove("URGENT"),
    };
    command.output().unwrap()
}

#[test]
fn sends_normal_data_then_one_urgent_byte_then_more() {
    let listener = listener(false);
    let output = run(&listener, None);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!(
            "connected to {}\n\
             sent 19 bytes of normal data: \"normal data before \"\n\
             sent 1 byte with MSG_OOB: \"!\"\n\
             sent 18 bytes of normal data: \"normal data after\\n\"\n",
            listener.local_addr().unwrap()
        )
    );

    let (connection, _) = accept(&listener);
    // The urgent byte first: reading past the mark would discard it.
    wait_for_urgent(&Socket::from(connection.try_clone().unwrap()));
    let mut urgent = [0u8; 1];
    let n = recv(connection.as_raw_fd(), &mut urgent, MsgFlags::MSG_OOB).unwrap();
    assert_eq!(&urgent[..n], b"!");
    // The normal stream has a hole where the urgent byte was.
    let mut connection = connection;
    assert_eq!(
        read_to_end(&mut connection),
        b"normal data before normal data after\n"
    );
}

#[test]
fn with_oobinline_the_urgent_byte_stays_in_the_stream() {
    let listener = listener(true);
    assert!(run(&listener, None).status.success());
    let (mut connection, _) = accept(&listener);
    assert_eq!(
        read_to_end(&mut connection),
        b"normal data before !normal data after\n"
    );
}

#[test]
fn sends_each_byte_of_urgent_with_its_own_msg_oob() {
    let listener = listener(true);
    let output = run(&listener, Some("12"));
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains(
            "sent 1 byte with MSG_OOB: \"1\"\n\
             sent 1 byte with MSG_OOB: \"2\"\n"
        ),
        "{stdout}"
    );
    let (mut connection, _) = accept(&listener);
    assert_eq!(
        read_to_end(&mut connection),
        b"normal data before 12normal data after\n"
    );
}

#[test]
fn a_refused_connection_is_a_clear_error() {
    let port = listener(false).local_addr().unwrap().port();
    // The listener is closed again: nothing listens on `port` now.
    Command::new(BIN)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .timeout(TIMEOUT)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "connecting to 127.0.0.1:{port} failed with ECONNREFUSED"
        )))
        .stderr(predicate::str::contains("panicked").not());
}
