//! Test peers that send urgent data themselves, with socket2.

#![allow(dead_code)] // each test file uses a different part of this

use std::io::Write;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::thread;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::Socket;

use test_support::{Server, TIMEOUT};

/// One thing a test peer sends.
pub enum Part<'a> {
    /// Normal data, with write(2).
    Normal(&'a [u8]),
    /// One byte with send(2) and MSG_OOB.
    Urgent(u8),
}

/// A connection to `addr` with read and write timeouts, as a socket2
/// `Socket` so that it can send MSG_OOB.
pub fn connect(addr: SocketAddr) -> Socket {
    Socket::from(test_support::connect(addr))
}

/// Sends each part in order on `socket`.
pub fn send(socket: &mut Socket, parts: &[Part]) {
    for part in parts {
        match part {
            Part::Normal(bytes) => socket.write_all(bytes).unwrap(),
            Part::Urgent(byte) => assert_eq!(socket.send_out_of_band(&[*byte]).unwrap(), 1),
        }
    }
}

/// Connects to `addr`, sends `parts` and closes, returning only once the
/// peer's kernel has acknowledged everything, FIN included. SO_LINGER makes
/// close(2) wait for that acknowledgement, so when this returns the data is
/// in the peer's receive queue, whether or not the peer has accepted the
/// connection yet.
pub fn send_and_close_acknowledged(addr: SocketAddr, parts: &[Part]) -> SocketAddr {
    let mut socket = connect(addr);
    let me = socket.local_addr().unwrap().as_socket().unwrap();
    socket.set_linger(Some(TIMEOUT)).unwrap();
    send(&mut socket, parts);
    drop(socket);
    me
}

/// Runs `send_all` while the one-at-a-time `server` is busy with another
/// connection, then ends that connection, so that the server finds
/// everything already queued when it accepts. Returns the sender's address.
/// The server's lines about the busy connection are consumed here.
pub fn queued_while_busy(server: &Server, parts: &[Part]) -> SocketAddr {
    let busy = server.connect();
    let busy_addr = busy.local_addr().unwrap();
    assert_eq!(server.next_line(), format!("accepted {busy_addr}"));
    let me = send_and_close_acknowledged(server.addr(), parts);
    drop(busy);
    assert_eq!(
        server.next_line(),
        format!("{busy_addr} closed the connection")
    );
    me
}

/// Waits until `socket` reports urgent data (POLLPRI). Fails the test if
/// none arrives within TIMEOUT.
pub fn wait_for_urgent(socket: &Socket) {
    let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLPRI)];
    let timeout = PollTimeout::try_from(TIMEOUT).unwrap();
    let ready = poll(&mut fds, timeout).unwrap();
    assert_eq!(ready, 1, "no urgent data within {TIMEOUT:?}");
}

/// Waits until the server's stderr contains `needle`. Fails the test if it
/// does not within TIMEOUT.
pub fn wait_for_stderr(server: &Server, needle: &str) {
    let deadline = Instant::now() + TIMEOUT;
    while !server.stderr().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} on the server's stderr within {TIMEOUT:?}; stderr:\n{}",
            server.stderr()
        );
        thread::sleep(Duration::from_millis(10));
    }
}
