use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use test_support::{Server, TIMEOUT, assert_closed, read_line};

const BIN: &str = env!("CARGO_BIN_EXE_thread_pool_from_std");

fn start(concurrency: &str) -> Server {
    Server::start_with(BIN, &[("CONCURRENCY", concurrency)])
}

fn echo(client: &mut TcpStream, line: &str) {
    client.write_all(line.as_bytes()).unwrap();
    assert_eq!(read_line(client), line);
}

/// How many threads the process has (`/proc/<pid>/task` has one entry each).
fn thread_count(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/task")).unwrap().count()
}

/// Waits until the server has `count` threads; fails after TIMEOUT.
fn wait_for_threads(server: &Server, count: usize) {
    let deadline = Instant::now() + TIMEOUT;
    while thread_count(server.pid()) != count {
        assert!(
            Instant::now() < deadline,
            "the server has {} threads after {TIMEOUT:?}; {count} wanted",
            thread_count(server.pid())
        );
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn echoes_lines() {
    let server = start("4");
    let mut client = server.connect();
    echo(&mut client, "ohai\n");
    echo(&mut client, "second line\n");
}

#[test]
fn serves_concurrency_clients_at_the_same_time() {
    let server = start("3");
    let mut clients: Vec<TcpStream> = (0..3).map(|_| server.connect()).collect();
    // The last to connect is answered first: all three are being served.
    for (n, client) in clients.iter_mut().enumerate().rev() {
        echo(client, &format!("client {n}\n"));
    }
}

#[test]
fn the_next_client_waits_for_a_free_thread() {
    let server = start("2");
    let mut first = server.connect();
    let mut second = server.connect();
    echo(&mut first, "one\n");
    echo(&mut second, "two\n");

    let mut third = server.connect();
    third.write_all(b"three\n").unwrap();
    // Both threads are busy: no answer for now. (A negative check: a
    // correct pool never fails it, a thread per client always does.)
    third
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    match third.read(&mut byte) {
        Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("the third client was answered while two threads were busy: {other:?}"),
    }
    third.set_read_timeout(Some(TIMEOUT)).unwrap();

    // One leaves: its thread takes the third client.
    first.shutdown(Shutdown::Write).unwrap();
    assert_closed(&mut first);
    assert_eq!(read_line(&mut third), "three\n");
}

#[test]
fn runs_exactly_concurrency_threads_and_reuses_them() {
    let server = start("3");
    wait_for_threads(&server, 4); // the pool and main
    for n in 0..6 {
        let mut client = server.connect();
        echo(&mut client, &format!("client {n}\n"));
        client.shutdown(Shutdown::Write).unwrap();
        assert_closed(&mut client);
    }
    assert_eq!(thread_count(server.pid()), 4);
}
