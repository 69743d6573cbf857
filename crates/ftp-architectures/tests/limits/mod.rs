//! The limits that keep a concurrent server from being overwhelmed, beyond
//! the conformance suite:
//!
//! - [`connection_cap`]: an unbounded architecture (a process or a thread
//!   per connection) serves at most `MAX_CONNECTIONS` clients and answers
//!   `421` past that;
//! - [`pool_serves_at_most_concurrency`]: a pooled one (preforking, thread
//!   pool) serves at most `CONCURRENCY` clients at once; the next one waits
//!   in the listen queue until a worker is free.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use test_support::{Server, TIMEOUT, assert_closed, read_line};

use crate::common::{Fixture, Ftp, start};

/// The exact line a client past the cap reads before the server closes.
pub const TOO_MANY: &str = "421 Too many connections, try again later.\r\n";

/// With `MAX_CONNECTIONS=2`: two clients are served; a third reads
/// [`TOO_MANY`] and is closed, and the two are still served. When one of the
/// two quits, `counted_out(&server, its address)` must return once the
/// server has given its place back (each binary says so on stdout in its own
/// words); a new client is then served, and the cap still holds.
pub fn connection_cap(bin: &str, counted_out: impl Fn(&Server, SocketAddr)) {
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[("MAX_CONNECTIONS", "2")]);
    let mut first = Ftp::connect(&server);
    let mut second = Ftp::connect(&server);

    let mut third = server.connect();
    assert_eq!(read_line(&mut third), TOO_MANY);
    assert_closed(&mut third);
    first.expect("PWD", 257);
    second.expect("PWD", 257);

    let first_addr = first.control.local_addr().unwrap();
    first.expect("QUIT", 221);
    assert_closed(&mut first.control);
    counted_out(&server, first_addr);

    let mut fourth = Ftp::connect(&server);
    fourth.expect("PWD", 257);
    let mut fifth = server.connect();
    assert_eq!(read_line(&mut fifth), TOO_MANY);
    assert_closed(&mut fifth);
}

/// With `CONCURRENCY=2`: two clients hold both workers. A third connects
/// (the kernel completes the handshake and queues it) but is not greeted
/// until one of the two leaves; then it is served.
pub fn pool_serves_at_most_concurrency(bin: &str) {
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[("CONCURRENCY", "2")]);
    let mut first = Ftp::connect(&server);
    let _second = Ftp::connect(&server);
    let mut third = Ftp::connect_silently(&server);
    assert_nothing_yet(&mut third.control);

    first.expect("QUIT", 221);
    assert_closed(&mut first.control);
    third.expect_reply(220);
    third.expect("PWD", 257);
}

/// Asserts that nothing arrives on `stream` for a moment. A negative check:
/// a server that is right can never fail it, one that greets too early
/// fails it almost always.
pub fn assert_nothing_yet(stream: &mut TcpStream) {
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("expected nothing yet, got {other:?}"),
    }
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
}
