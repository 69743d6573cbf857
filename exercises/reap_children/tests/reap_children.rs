use std::fs;
use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use test_support::{Server, TIMEOUT, assert_closed, read_line};

const BIN: &str = env!("CARGO_BIN_EXE_reap_children");

/// The pids and states (`S`, `R`, `Z`…) of the processes whose parent is `parent`.
fn children_of(parent: u32) -> Vec<(u32, char)> {
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
        // "pid (name) state ppid ...": the name may hold spaces, so count
        // from the last ')'.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
            .split_whitespace()
            .collect();
        if fields[1].parse::<u32>() == Ok(parent) {
            children.push((pid, fields[0].chars().next().unwrap()));
        }
    }
    children
}

/// The pid in a `child <pid> serves <peer>` line.
fn child_pid(server: &Server) -> u32 {
    let line = server.next_line();
    line.strip_prefix("child ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("expected `child <pid> serves <peer>`, got {line:?}"))
}

#[test]
fn each_client_is_echoed_by_its_own_child() {
    let server = Server::start(BIN);
    let mut first = server.connect();
    let mut second = server.connect();
    second.write_all(b"second\n").unwrap();
    assert_eq!(read_line(&mut second), "second\n");
    first.write_all(b"first\n").unwrap();
    assert_eq!(read_line(&mut first), "first\n");
    let pids = [child_pid(&server), child_pid(&server)];
    assert_ne!(pids[0], pids[1]);
}

#[test]
fn every_child_is_reaped_as_soon_as_its_client_leaves() {
    let server = Server::start(BIN);
    let mut clients: Vec<_> = (0..3).map(|_| server.connect()).collect();
    let mut pids = Vec::new();
    for client in &mut clients {
        client.write_all(b"ohai\n").unwrap();
        assert_eq!(read_line(client), "ohai\n");
        pids.push(child_pid(&server));
    }
    for client in clients {
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut client = client;
        assert_closed(&mut client);
    }

    // No new client connects: the parent must notice the exits by itself.
    let mut reaped = Vec::new();
    while reaped.len() < pids.len() {
        let line = server.next_line();
        let pid = line
            .strip_prefix("reaped ")
            .and_then(|pid| pid.parse::<u32>().ok())
            .unwrap_or_else(|| panic!("expected `reaped <pid>`, got {line:?}"));
        assert!(
            pids.contains(&pid),
            "reaped {pid}, which is not one of {pids:?}"
        );
        reaped.push(pid);
    }

    // And no zombie is left in the process table.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let children = children_of(server.pid());
        if children.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "children left (pid, state): {children:?}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}
