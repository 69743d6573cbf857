//! `multiplex_poll` and `multiplex_epoll` have no FD_SETSIZE: they hold
//! thousands of connections at once and echo on any of them.
//!
//! (What they share with the other servers is tested in `multiplex_echo.rs`;
//! the FD_SETSIZE limit of `multiplex_select` in `multiplex_select.rs`.)

use std::io::Write;
use std::net::TcpStream;

use nonblocking::multiplex::raise_open_file_limit;
use test_support::{Server, read_exact};

/// Twice FD_SETSIZE, and about what a default soft limit of 1024 open files
/// would refuse twice over.
const CONNECTIONS: usize = 2000;

/// Sends `message` and asserts that exactly it comes back.
fn assert_echoes(stream: &mut TcpStream, message: &[u8]) {
    stream.write_all(message).unwrap();
    assert_eq!(read_exact(stream, message.len()), message);
}

/// A small xorshift generator: "random" connections to check, the same ones
/// on every run, so a failure can be reproduced.
fn pseudo_random_indices(count: usize, below: usize) -> Vec<usize> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % below as u64) as usize
        })
        .collect()
}

fn holds_thousands_of_connections(bin: &str) {
    // This test holds CONNECTIONS sockets itself.
    raise_open_file_limit().expect("raising RLIMIT_NOFILE");
    let server = Server::start(bin);

    let mut clients: Vec<TcpStream> = (0..CONNECTIONS).map(|_| server.connect()).collect();
    // One `accepted … (fd N)` line per connection. All are open at once, so
    // the server's descriptors must reach past CONNECTIONS.
    let mut highest_fd = 0;
    for _ in 0..CONNECTIONS {
        let line = server.next_line();
        let fd = line
            .strip_prefix("accepted ")
            .and_then(|rest| rest.rsplit_once("(fd "))
            .and_then(|(_, fd)| fd.strip_suffix(')'))
            .unwrap_or_else(|| panic!("expected an accepted line, got {line:?}"));
        highest_fd = highest_fd.max(fd.parse::<usize>().unwrap());
    }
    assert!(highest_fd >= CONNECTIONS, "highest fd {highest_fd}");

    // Some connections, one at a time, in no particular order.
    for index in pseudo_random_indices(50, CONNECTIONS) {
        assert_echoes(&mut clients[index], format!("client {index}\n").as_bytes());
    }

    // Then all of them at once: every client writes, and only then does
    // each read its own answer back.
    for (index, client) in clients.iter_mut().enumerate() {
        client
            .write_all(format!("all at once {index}\n").as_bytes())
            .unwrap();
    }
    for (index, client) in clients.iter_mut().enumerate() {
        let expected = format!("all at once {index}\n");
        assert_eq!(read_exact(client, expected.len()), expected.as_bytes());
    }
}

#[test]
fn poll_holds_thousands_of_connections() {
    holds_thousands_of_connections(env!("CARGO_BIN_EXE_multiplex_poll"));
}

#[cfg(target_os = "linux")]
#[test]
fn epoll_holds_thousands_of_connections() {
    holds_thousands_of_connections(env!("CARGO_BIN_EXE_multiplex_epoll"));
}
