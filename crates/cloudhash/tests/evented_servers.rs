//! `cloudhash_evented` and `cloudhash_hybrid` over real loopback sockets.
//! Both run the same event loop, so every test here runs against both:
//! exact replies, pipelined requests answered in order, the caps, clients
//! that misbehave, and many clients at once sharing one store.

use std::io::{ErrorKind, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::Duration;

use framing::MAX_LINE;
use test_support::{Server, assert_closed, read_exact, read_line, read_to_end};

const EVENTED: &str = env!("CARGO_BIN_EXE_cloudhash_evented");
const HYBRID: &str = env!("CARGO_BIN_EXE_cloudhash_hybrid");

/// Both servers; the hybrid with three workers, so that connections land on
/// different event loops.
fn servers() -> Vec<Server> {
    vec![
        Server::start(EVENTED),
        Server::start_with(HYBRID, &[("WORKERS", "3")]),
    ]
}

/// Sends `requests` and reads exactly as many bytes as `expected` has.
fn exchange(client: &mut TcpStream, requests: &str, expected: &str) {
    client.write_all(requests.as_bytes()).unwrap();
    let got = read_exact(client, expected.len());
    assert_eq!(String::from_utf8_lossy(&got), expected);
}

#[test]
fn both_bind_loopback_and_announce_the_real_port() {
    for server in servers() {
        assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
        assert_ne!(server.listening_on().port(), 0);
    }
}

#[test]
fn set_get_and_errors_on_one_connection() {
    for server in servers() {
        let mut client = server.connect();
        exchange(&mut client, "SET prez obama\n", "OK\n");
        exchange(&mut client, "GET prez\n", "VALUE obama\n");
        exchange(&mut client, "GET vp\n", "NIL\n");
        exchange(&mut client, "SET vp \n", "OK\n");
        exchange(&mut client, "GET vp\n", "VALUE \n");
        exchange(&mut client, "get prez\r\n", "VALUE obama\n");
        exchange(&mut client, "\n", "ERR empty request\n");
        exchange(&mut client, "GET\n", "ERR usage: GET <key>\n");
        exchange(
            &mut client,
            "DEL \u{ff}x\n",
            "ERR unknown command \"DEL\" (expected SET, GET or exit)\n",
        );
        client.write_all(b"\xff\xfe\n").unwrap();
        assert_eq!(
            read_line(&mut client),
            "ERR unknown command \"\\xff\\xfe\" (expected SET, GET or exit)\n"
        );
        // Still serving after all that.
        exchange(&mut client, "GET prez\n", "VALUE obama\n");
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    for server in servers() {
        let mut client = server.connect();
        let mut requests = String::new();
        let mut expected = String::new();
        for i in 0..2_000 {
            requests.push_str(&format!("SET key{i} value{i}\nGET key{i}\nGET nokey{i}\n"));
            expected.push_str(&format!("OK\nVALUE value{i}\nNIL\n"));
        }
        // All 6,000 requests in one write: they arrive in a few reads, with
        // lines cut anywhere between them.
        exchange(&mut client, &requests, &expected);
    }
}

#[test]
fn a_half_closed_client_gets_every_reply_then_eof() {
    for server in servers() {
        let mut client = server.connect();
        client.write_all(b"SET a 1\nGET a\nGET b").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        // The last line has no newline: it is not a request.
        assert_eq!(read_to_end(&mut client), b"OK\nVALUE 1\n");
    }
}

#[test]
fn exit_closes_after_the_replies_before_it() {
    for server in servers() {
        let mut client = server.connect();
        client.write_all(b"SET a 1\nexit\nGET a\n").unwrap();
        assert_eq!(read_to_end(&mut client), b"OK\n");
    }
}

#[test]
fn a_line_at_the_cap_is_served_and_one_byte_more_is_refused() {
    for server in servers() {
        // `SET k <value>\n`, exactly MAX_LINE bytes with its newline.
        let value = "v".repeat(MAX_LINE - "SET k \n".len());
        let mut client = server.connect();
        exchange(&mut client, &format!("SET k {value}\n"), "OK\n");
        exchange(&mut client, "GET k\n", &format!("VALUE {value}\n"));

        client
            .write_all(format!("SET k {value}x\n").as_bytes())
            .unwrap();
        assert_eq!(
            read_line(&mut client),
            format!("ERR line too long (the limit is {MAX_LINE} bytes, newline included)\n")
        );
        assert_closed(&mut client);

        // The store and the server are unharmed.
        let mut other = server.connect();
        exchange(&mut other, "GET k\n", &format!("VALUE {value}\n"));
    }
}

#[test]
fn a_line_that_never_ends_is_refused_after_the_cap() {
    for server in servers() {
        let mut client = server.connect();
        // No newline at all: the server must not wait for one forever, nor
        // buffer without end.
        let endless = vec![b'x'; MAX_LINE];
        client.write_all(&endless).unwrap();
        assert_eq!(
            read_line(&mut client),
            format!("ERR line too long (the limit is {MAX_LINE} bytes, newline included)\n")
        );
        assert_closed(&mut client);
        let mut other = server.connect();
        exchange(&mut other, "SET still here\n", "OK\n");
    }
}

#[test]
fn many_clients_at_once_share_one_store() {
    for server in servers() {
        let mut clients: Vec<TcpStream> = (0..100).map(|_| server.connect()).collect();
        // Every client writes before any reads: the server must serve them
        // interleaved, not one after another.
        for (i, client) in clients.iter_mut().enumerate() {
            client
                .write_all(format!("SET client{i} {i}\n").as_bytes())
                .unwrap();
        }
        for client in &mut clients {
            assert_eq!(read_line(client), "OK\n");
        }
        // Each reads its neighbour's key, which another connection (on the
        // hybrid, often another worker) stored.
        for (i, client) in clients.iter_mut().enumerate() {
            let neighbour = (i + 1) % 100;
            exchange(
                client,
                &format!("GET client{neighbour}\n"),
                &format!("VALUE {neighbour}\n"),
            );
        }
    }
}

#[test]
fn a_client_that_never_reads_is_held_back_and_does_not_stall_the_others() {
    for server in servers() {
        let mut setter = server.connect();
        let big = "b".repeat(100);
        exchange(&mut setter, &format!("SET big {big}\n"), "OK\n");

        // The hog asks for the value over and over and reads none of it. Its replies pile up; the server must stop reading from it, so
        // that its writes end up blocking in its own kernel.
        let hog = server.connect();
        hog.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
        let writer = thread::spawn(move || {
            let burst = "GET big\n".repeat(8 * 1024);
            let mut sent = 0usize;
            let mut hog = hog;
            loop {
                match hog.write(burst.as_bytes()) {
                    // A write the kernel took whole: there was room.
                    Ok(n) if n == burst.len() => sent += n,
                    // The write timed out after taking part of the burst, or
                    // none of it: the buffers between us and the server are
                    // full, and the server is not emptying them.
                    Ok(n) => return (sent + n, hog),
                    Err(err)
                        if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                    {
                        return (sent, hog);
                    }
                    Err(err) => panic!("the hog's write failed: {err}"),
                }
                // The kernel buffers on the way hold a few MiB. A server
                // still reading after 32 MiB of requests (4 million GETs,
                // 430 MB of replies) buffers without limit.
                assert!(
                    sent < 32 << 20,
                    "the server kept reading from a client that never reads"
                );
            }
        });

        // Meanwhile, another client is served as usual.
        let mut other = server.connect();
        for i in 0..50 {
            exchange(
                &mut other,
                &format!("SET other{i} {i}\nGET other{i}\n"),
                &format!("OK\nVALUE {i}\n"),
            );
        }
        let (sent, _hog) = writer.join().unwrap();
        assert!(sent > 0);
        exchange(&mut other, "GET other49\n", "VALUE 49\n");
    }
}

#[test]
fn the_hybrid_runs_the_workers_it_is_asked_for() {
    let server = Server::start_with(HYBRID, &[("WORKERS", "4")]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let threads = status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .to_string();
    // Four workers and the main thread, which waits for them.
    assert_eq!(threads, "5");
}

#[test]
fn the_hybrid_refuses_a_bad_worker_count() {
    for (workers, message) in [
        ("0", "WORKERS must be between 1 and 256"),
        ("many", "WORKERS=\"many\" is not a whole number"),
    ] {
        let output = test_support::run({
            let mut command = std::process::Command::new(HYBRID);
            command.env("PORT", "0").env("WORKERS", workers);
            command
        });
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
