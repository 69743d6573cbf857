use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use test_support::{Server, TIMEOUT, read_to_end};

const BIN: &str = env!("CARGO_BIN_EXE_restartable_server");

/// An IPv4 address as /proc/net/tcp writes it: hex IP (native byte order),
/// a colon, hex port.
fn proc_net_tcp_addr(addr: SocketAddr) -> String {
    let SocketAddr::V4(v4) = addr else {
        panic!("{addr} is not IPv4")
    };
    format!(
        "{:08X}:{:04X}",
        u32::from_ne_bytes(v4.ip().octets()),
        v4.port()
    )
}

/// Waits until /proc/net/tcp lists `local` -> `remote` in state 06,
/// TIME_WAIT. Fails the test after [`TIMEOUT`].
fn wait_for_time_wait(local: SocketAddr, remote: SocketAddr) {
    let (local, remote) = (proc_net_tcp_addr(local), proc_net_tcp_addr(remote));
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
        let found = table.lines().skip(1).any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() > 3 && fields[1] == local && fields[2] == remote && fields[3] == "06"
        });
        if found {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server's end of the connection never reached TIME_WAIT"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn greets_with_so_reuseaddr_read_back_and_closes_first() {
    let server = Server::start(BIN);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    for _ in 0..2 {
        let mut client = server.connect();
        // End-of-file after the line: the server closed the connection.
        assert_eq!(read_to_end(&mut client), b"SO_REUSEADDR=true\n");
    }
}

#[test]
fn restarts_on_its_port_while_a_connection_of_the_last_run_is_in_time_wait() {
    let first = Server::start(BIN);
    let addr = first.addr();
    let mut client = first.connect();
    let client_addr = client.local_addr().unwrap();
    // The server writes its line and closes first; we read end-of-file,
    // then close our end, and the server's end goes into TIME_WAIT.
    read_to_end(&mut client);
    drop(client);
    wait_for_time_wait(addr, client_addr);
    drop(first); // kills the first run

    let port = addr.port().to_string();
    // Server::start fails the test, showing the server's stderr, if the
    // second run cannot bind.
    let second = Server::start_with(BIN, &[("PORT", &port)]);
    assert_eq!(second.addr(), addr);
    let mut client = second.connect();
    assert!(read_to_end(&mut client).starts_with(b"SO_REUSEADDR="));
}
