//! Three kinds of address, all on loopback and all owned by the test:
//! - *refusing*: a socket bound to a port but not listening, so a SYN to it
//!   is answered with a reset at once;
//! - *hanging*: a listener with `listen(0)` whose one accept-queue slot is
//!   taken by a connection nobody accepts, so Linux drops every new SYN and
//!   a connect waits until the client gives up;
//! - *accepting*: an ordinary listener (the kernel completes the handshake
//!   without anybody calling accept).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output};

use socket2::{Domain, SockAddr, Socket, Type};
use test_support::run;

const BIN: &str = env!("CARGO_BIN_EXE_connect_each_address");

fn loopback_socket() -> Socket {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SockAddr::from(SocketAddr::from(([127, 0, 0, 1], 0))))
        .unwrap();
    socket
}

fn address_of(socket: &Socket) -> SocketAddr {
    socket.local_addr().unwrap().as_socket().unwrap()
}

/// Keep the returned socket alive while the address is used.
fn refusing() -> (Socket, SocketAddr) {
    let socket = loopback_socket();
    let addr = address_of(&socket);
    (socket, addr)
}

/// Keep the returned sockets alive while the address is used.
fn hanging() -> ((Socket, TcpStream), SocketAddr) {
    let listener = loopback_socket();
    listener.listen(0).unwrap();
    let addr = address_of(&listener);
    // Backlog 0 holds one waiting connection: this one.
    let filler = TcpStream::connect_timeout(&addr, test_support::TIMEOUT).unwrap();
    ((listener, filler), addr)
}

fn accepting() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

fn connect_each(addrs: &[SocketAddr], timeout: &str) -> Output {
    let mut command = Command::new(BIN);
    command.args(addrs.iter().map(|addr| addr.to_string()));
    command.env("TIMEOUT", timeout);
    run(command)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn connects_to_the_first_address_when_it_accepts() {
    let (_a, a) = accepting();
    let (_b, b) = accepting();
    let output = connect_each(&[a, b], "5");
    assert!(output.status.success(), "stderr:\n{}", stderr(&output));
    assert_eq!(stdout(&output), format!("connected to {a}\n"));
}

#[test]
fn skips_a_refusing_and_a_hanging_address_to_reach_one_that_accepts() {
    let (_r, refused) = refusing();
    let (_h, hangs) = hanging();
    let (_a, accepts) = accepting();
    let output = connect_each(&[refused, hangs, accepts], "0.3");
    assert!(output.status.success(), "stderr:\n{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        format!(
            "{refused}: Connection refused (os error 111)\n\
             {hangs}: timed out\n\
             connected to {accepts}\n"
        )
    );
}

#[test]
fn fails_cleanly_when_no_address_accepts() {
    let (_h, hangs) = hanging();
    let (_r, refused) = refusing();
    let output = connect_each(&[hangs, refused], "0.3");
    assert_eq!(
        output.status.code(),
        Some(1),
        "stderr:\n{}",
        stderr(&output)
    );
    assert_eq!(
        stdout(&output),
        format!(
            "{hangs}: timed out\n\
             {refused}: Connection refused (os error 111)\n"
        )
    );
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
}
