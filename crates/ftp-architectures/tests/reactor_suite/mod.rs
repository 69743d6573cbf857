//! Tests of what a reactor must do beyond the conformance suite, shared by
//! `evented` and `hybrid` (whose workers each run the same reactor):
//!
//! ```ignore
//! mod common;
//! mod reactor_suite;
//! reactor_suite::reactor_tests!(env!("CARGO_BIN_EXE_evented"));
//! ```

// Each test file uses a different subset of these helpers.
#![allow(dead_code, unused_macros)]

use std::fs;

use test_support::{assert_closed, read_to_end};

use crate::common::{Fixture, Ftp, big_file, connect_small_window, start};

/// The tests every reactor-based binary runs.
macro_rules! reactor_tests {
    ($bin:expr) => {
        #[test]
        fn a_slow_reader_catches_up_while_others_are_served() {
            crate::reactor_suite::slow_reader_catches_up($bin);
        }
        #[test]
        fn five_hundred_clients_at_once() {
            crate::reactor_suite::many_clients_at_once($bin, 500);
        }
    };
}
pub(crate) use reactor_tests;

/// Client A starts downloading a 32 MiB file and does not read its data
/// connection: the server's send buffer fills and the reactor must wait for
/// A. Meanwhile client B runs a whole session, transfers included. Then A
/// reads: its file arrives complete and in order, and its 226 follows.
///
/// A server that wrote A's file with a blocking write (as the book's Ruby
/// reactor does, through `IO.copy_stream`) would be stuck in that write, and
/// B's first read would time out.
pub fn slow_reader_catches_up(bin: &str) {
    let fixture = Fixture::new();
    // Eight copies of big.bin: far more than the socket buffers between the
    // server and A can hold, and every 4 MiB distinct from its neighbours
    // only by position, so a repeated or lost chunk shows up.
    let mut large = Vec::with_capacity(8 * big_file().len());
    for _ in 0..8 {
        large.extend_from_slice(&big_file());
    }
    fs::write(fixture.root.join("large.bin"), &large).unwrap();
    let server = start(bin, &fixture, &[]);

    let mut slow = Ftp::connect(&server);
    let addr = slow.pasv();
    let mut slow_data = connect_small_window(addr);
    slow.expect("RETR large.bin", 150);

    let mut other = Ftp::connect(&server);
    other.expect("USER anonymous", 230);
    other.expect("PASS guest@", 230);
    other.expect("CWD sub", 250);
    assert_eq!(other.passive_transfer("NLST"), b"inner.txt\r\n");
    other.expect("CDUP", 250);
    assert!(other.passive_transfer("RETR big.bin") == big_file());
    other.expect("QUIT", 221);
    assert_closed(&mut other.control);

    // Now A reads, and gets everything.
    let received = read_to_end(&mut slow_data);
    assert_eq!(received.len(), large.len());
    assert!(received == large, "large.bin arrived changed");
    slow.expect_reply(226);
    slow.expect("NOOP", 200);
}

/// `count` clients connect and stay connected; each gets its greeting, and
/// then each gets an answer to a NOOP.
pub fn many_clients_at_once(bin: &str, count: usize) {
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[]);
    let mut clients: Vec<Ftp> = (0..count).map(|_| Ftp::connect(&server)).collect();
    // All commands first, then all replies: the server has every one of
    // them open and talking at once.
    for client in &mut clients {
        client.send(b"NOOP\r\n");
    }
    for client in &mut clients {
        client.expect_reply(200);
    }
    clients[count / 2].expect("PWD", 257);
}
