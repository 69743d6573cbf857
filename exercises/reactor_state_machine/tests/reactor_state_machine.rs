use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};

use socket2::{Domain, SockAddr, Socket, Type};
use test_support::{Server, TIMEOUT, assert_closed, read_exact, read_line};

const BIN: &str = env!("CARGO_BIN_EXE_reactor_state_machine");

/// Sends `line` and returns the next line the server sends.
fn ask(client: &mut TcpStream, line: &str) -> String {
    client.write_all(line.as_bytes()).unwrap();
    read_line(client)
}

/// A client whose receive buffer is as small as the kernel allows, so that
/// a server sending to it soon finds its socket full.
fn connect_small_window(addr: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket
        .connect_timeout(&SockAddr::from(addr), TIMEOUT)
        .unwrap();
    let stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream
}

/// The most memory the server process has used so far (VmHWM, in KiB).
fn peak_memory_kib(server: &Server) -> u64 {
    let status = fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/PID/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn binds_loopback_and_announces_the_real_port() {
    let server = Server::start(BIN);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    assert_ne!(server.listening_on().port(), 0);
}

#[test]
fn echo_and_errors() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    assert_eq!(ask(&mut client, "ECHO hello there\n"), "hello there\n");
    assert_eq!(ask(&mut client, "ECHO\n"), "\n");
    assert_eq!(ask(&mut client, "JUMP\n"), "ERR unknown command\n");
    assert_eq!(ask(&mut client, "COUNT lots\n"), "ERR not a number\n");
    assert_eq!(ask(&mut client, "ECHO still here\r\n"), "still here\n");
}

#[test]
fn count_then_done() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    client.write_all(b"COUNT 3\n").unwrap();
    assert_eq!(read_exact(&mut client, 11), b"1\n2\n3\ndone\n");
    client.write_all(b"COUNT 0\n").unwrap();
    assert_eq!(read_line(&mut client), "done\n");
}

#[test]
fn commands_in_one_write_are_answered_in_order() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    client
        .write_all(b"ECHO a\nCOUNT 2\nECHO b\nCOUNT 1\nECHO c\n")
        .unwrap();
    let expected = b"a\n1\n2\ndone\nb\n1\ndone\nc\n";
    assert_eq!(read_exact(&mut client, expected.len()), expected);
}

#[test]
fn half_a_line_waits_and_holds_up_no_one() {
    let server = Server::start(BIN);
    let mut half = server.connect();
    half.write_all(b"ECHO fir").unwrap();
    let mut other = server.connect();
    assert_eq!(ask(&mut other, "ECHO meanwhile\n"), "meanwhile\n");
    half.write_all(b"st\n").unwrap();
    assert_eq!(read_line(&mut half), "first\n");
}

#[test]
fn quit_says_bye_and_closes_ignoring_the_rest() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    client.write_all(b"ECHO one\nQUIT\nECHO never\n").unwrap();
    assert_eq!(read_line(&mut client), "one\n");
    assert_eq!(read_line(&mut client), "BYE\n");
    assert_closed(&mut client);
    // The server goes on.
    let mut next = server.connect();
    assert_eq!(ask(&mut next, "ECHO next\n"), "next\n");
}

/// A client asks for 16 MB of numbers and does not read them. Everyone else
/// is served meanwhile; the server does not build the 16 MB in memory; and
/// when the client reads at last, every number arrives, in order.
#[test]
fn a_client_that_does_not_read_stalls_no_one_and_catches_up() {
    const LAST: u64 = 2_000_000;
    let server = Server::start(BIN);
    let mut hog = connect_small_window(server.addr());
    hog.write_all(format!("COUNT {LAST}\n").as_bytes()).unwrap();
    // Once the reply starts, the server is counting for the hog.
    assert_eq!(read_line(&mut hog), "1\n");

    for round in 0..3 {
        let mut other = server.connect();
        assert_eq!(
            ask(&mut other, &format!("ECHO {round}\n")),
            format!("{round}\n")
        );
        other.write_all(b"COUNT 1000\n").unwrap();
        let mut reader = BufReader::new(other);
        for n in 1..=1000 {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            assert_eq!(line, format!("{n}\n"));
        }
    }

    let mut reader = BufReader::with_capacity(256 * 1024, hog);
    let mut line = String::new();
    for n in 2..=LAST {
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line.trim_end(), n.to_string(), "after {}", n - 1);
    }
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "done\n");
    let mut hog = reader.into_inner();
    assert_eq!(ask(&mut hog, "ECHO caught up\n"), "caught up\n");

    // The numbers were made as the socket took them, not all at once.
    let peak = peak_memory_kib(&server);
    assert!(
        peak < 8 * 1024,
        "the server used {peak} KiB at its peak: is the whole COUNT built in memory?"
    );
}

#[test]
fn a_hundred_clients_at_once() {
    let server = Server::start(BIN);
    let mut clients: Vec<TcpStream> = (0..100).map(|_| server.connect()).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        client
            .write_all(format!("ECHO client {i}\n").as_bytes())
            .unwrap();
    }
    let mut answered = BTreeSet::new();
    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(read_line(client), format!("client {i}\n"));
        answered.insert(i);
    }
    assert_eq!(answered.len(), 100);
}
