use std::fs;
use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use test_support::{Server, TIMEOUT, assert_closed, read_line};

const BIN: &str = env!("CARGO_BIN_EXE_prefork_replace");

/// The pids of the running (not zombie) processes whose parent is `parent`.
fn running_children_of(parent: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in fs::read_dir("/proc").unwrap() {
        let Some(pid) = entry
            .ok()
            .and_then(|e| e.file_name().to_str()?.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (name) state ppid ...": count from the last ')'.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
            .split_whitespace()
            .collect();
        if fields[1].parse::<u32>() == Ok(parent) && fields[0] != "Z" {
            children.push(pid);
        }
    }
    children.sort();
    children
}

/// The pid in a `started worker <pid>` line.
fn started(server: &Server) -> u32 {
    let line = server.next_line();
    line.strip_prefix("started worker ")
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("expected `started worker <pid>`, got {line:?}"))
}

/// Waits until the server runs `count` workers again, none of them `dead`.
fn wait_for_workers(server: &Server, count: usize, dead: u32) -> Vec<u32> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let workers = running_children_of(server.pid());
        if workers.len() == count && !workers.contains(&dead) {
            return workers;
        }
        assert!(
            Instant::now() < deadline,
            "after {TIMEOUT:?} the workers are {workers:?}; {dead} is dead and {count} are wanted"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// `count` clients connected at once, each echoed: needs `count` workers.
fn all_served_at_once(server: &Server, count: usize) -> Vec<TcpStream> {
    let mut clients: Vec<TcpStream> = (0..count).map(|_| server.connect()).collect();
    for (n, client) in clients.iter_mut().enumerate() {
        let line = format!("client {n}\n");
        client.write_all(line.as_bytes()).unwrap();
        assert_eq!(read_line(client), line);
    }
    clients
}

#[test]
fn forks_concurrency_workers_that_serve_at_once() {
    let server = Server::start_with(BIN, &[("CONCURRENCY", "3")]);
    let mut pids: Vec<u32> = (0..3).map(|_| started(&server)).collect();
    pids.sort();
    assert_eq!(wait_for_workers(&server, 3, 0), pids);
    all_served_at_once(&server, 3);
}

#[test]
fn a_killed_worker_is_replaced() {
    let server = Server::start_with(BIN, &[("CONCURRENCY", "2")]);
    let first = [started(&server), started(&server)];

    kill(Pid::from_raw(first[0] as i32), Signal::SIGKILL).unwrap();
    assert_eq!(server.next_line(), format!("worker {} died", first[0]));
    let replacement = started(&server);
    assert_eq!(wait_for_workers(&server, 2, first[0]), {
        let mut expected = vec![first[1], replacement];
        expected.sort();
        expected
    });
    all_served_at_once(&server, 2);
}

#[test]
fn a_crashed_worker_is_replaced_again_and_again() {
    let server = Server::start_with(BIN, &[("CONCURRENCY", "2")]);
    let mut workers = vec![started(&server), started(&server)];
    for round in 0..3 {
        let mut client = server.connect();
        client.write_all(b"crash\n").unwrap();
        assert_closed(&mut client);
        let line = server.next_line();
        let dead: u32 = line
            .strip_prefix("worker ")
            .and_then(|rest| rest.strip_suffix(" died"))
            .and_then(|pid| pid.parse().ok())
            .unwrap_or_else(|| panic!("round {round}: expected `worker <pid> died`, got {line:?}"));
        assert!(workers.contains(&dead), "{dead} is not one of {workers:?}");
        workers.retain(|&pid| pid != dead);
        workers.push(started(&server));
        workers.sort();
        assert_eq!(wait_for_workers(&server, 2, dead), workers);
    }
    all_served_at_once(&server, 2);
}
