use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::net::TcpStream;

use test_support::{Server, read_line};

const BIN: &str = env!("CARGO_BIN_EXE_reuseport_workers");

fn start(workers: &str) -> Server {
    Server::start_with(BIN, &[("WORKERS", workers)])
}

/// Connects and reads the greeting: which worker took this client.
fn connect(server: &Server) -> (TcpStream, usize) {
    let mut client = server.connect();
    let greeting = read_line(&mut client);
    let worker = greeting
        .strip_prefix("worker ")
        .and_then(|rest| rest.strip_suffix('\n'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("expected `worker <n>`, got {greeting:?}"));
    (client, worker)
}

/// How many sockets are listening on `port` (TCP over IPv4), as the kernel
/// lists them in /proc/net/tcp (what `ss -ltn` shows).
fn listeners_on(port: u16) -> usize {
    let table = fs::read_to_string("/proc/net/tcp").unwrap();
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // fields[1] is "0100007F:1F90" (address:port in hex), fields[3]
            // the state; 0A is LISTEN.
            fields[3] == "0A" && fields[1].ends_with(&format!(":{port:04X}"))
        })
        .count()
}

#[test]
fn binds_loopback_and_announces_the_real_port() {
    let server = start("2");
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    assert_ne!(server.listening_on().port(), 0);
}

#[test]
fn one_listening_socket_per_worker_on_one_port() {
    let server = start("4");
    assert_eq!(listeners_on(server.listening_on().port()), 4);
}

#[test]
fn every_worker_serves() {
    let server = start("4");
    // The kernel picks a listener by a hash of each connection's addresses
    // and ports; with 200 clients, each of 4 workers gets some (the chance
    // that one gets none is about 4 in 10^25).
    let mut seen = BTreeSet::new();
    let mut clients = Vec::new();
    for _ in 0..200 {
        let (client, worker) = connect(&server);
        assert!(worker < 4, "there are only workers 0 to 3, not {worker}");
        seen.insert(worker);
        clients.push(client);
    }
    assert_eq!(seen, BTreeSet::from([0, 1, 2, 3]));
    // Each one echoes.
    for (i, client) in clients.iter_mut().enumerate() {
        client.write_all(format!("hello {i}\n").as_bytes()).unwrap();
    }
    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(read_line(client), format!("hello {i}\n"));
    }
}

#[test]
fn silent_clients_hold_up_no_worker() {
    let server = start("2");
    let _silent: Vec<(TcpStream, usize)> = (0..20).map(|_| connect(&server)).collect();
    let mut half = server.connect();
    half.write_all(b"half a li").unwrap();
    for i in 0..20 {
        let (mut client, _) = connect(&server);
        client.write_all(format!("line {i}\n").as_bytes()).unwrap();
        assert_eq!(read_line(&mut client), format!("line {i}\n"));
    }
    half.write_all(b"ne\n").unwrap();
    let greeting = read_line(&mut half);
    assert!(greeting.starts_with("worker "), "{greeting:?}");
    assert_eq!(read_line(&mut half), "half a line\n");
}

#[test]
fn a_single_worker_serves_everyone() {
    let server = start("1");
    assert_eq!(listeners_on(server.listening_on().port()), 1);
    for _ in 0..10 {
        let (_client, worker) = connect(&server);
        assert_eq!(worker, 0);
    }
}
