//! What all four multiplexing echo servers must do alike: serve many clients
//! at once from one thread, each getting exactly its own bytes back.
//!
//! Each check below is a function taking the server binary's path; the
//! `for_each_server!` macro at the end turns every check into one test per
//! server (`multiplex_poll::large_echo_comes_back_byte_for_byte`, …).

use std::io::{ErrorKind, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::Duration;

use test_support::{Server, read_exact, read_to_end};

/// Sends `message` and asserts that exactly it comes back.
fn assert_echoes(stream: &mut TcpStream, message: &[u8]) {
    stream.write_all(message).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&read_exact(stream, message.len())),
        String::from_utf8_lossy(message)
    );
}

/// Closes our sending side and asserts that nothing more comes back before
/// the server closes the connection: no byte meant for another client.
fn assert_nothing_more(stream: &mut TcpStream) {
    stream.shutdown(Shutdown::Write).unwrap();
    let rest = read_to_end(stream);
    assert!(
        rest.is_empty(),
        "unexpected bytes: {:?}",
        String::from_utf8_lossy(&rest)
    );
}

/// Reads the server's stdout until a line starts with `prefix`.
fn wait_for_line_starting(server: &Server, prefix: &str) -> String {
    loop {
        let line = server.next_line();
        if line.starts_with(prefix) {
            return line;
        }
    }
}

fn interleaved_clients_each_get_their_own_bytes_back(bin: &str) {
    let server = Server::start(bin);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    let mut a = server.connect();
    let mut b = server.connect();
    let mut c = server.connect();

    // A, then B, then A again, before anyone reads.
    a.write_all(b"from A, first\n").unwrap();
    b.write_all(b"from B\n").unwrap();
    a.write_all(b"from A, second\n").unwrap();

    // B's answer can be read before A's: neither waits for the other.
    assert_eq!(read_exact(&mut b, 7), b"from B\n");
    assert_eq!(read_exact(&mut a, 29), b"from A, first\nfrom A, second\n");
    // C, connected all along but silent so far, is served too.
    assert_echoes(&mut c, b"from C\n");
    assert_echoes(&mut b, b"B again\n");

    for client in [&mut a, &mut b, &mut c] {
        assert_nothing_more(client);
    }
}

fn a_client_that_closes_is_dropped_and_the_others_carry_on(bin: &str) {
    let server = Server::start(bin);
    let mut stays = server.connect();
    let leaves = server.connect();
    let leaves_addr = leaves.local_addr().unwrap();
    assert_echoes(&mut stays, b"before\n");

    drop(leaves);
    server.expect_line(&format!("closed {leaves_addr}"));

    assert_echoes(&mut stays, b"after\n");
    let mut newcomer = server.connect();
    assert_echoes(&mut newcomer, b"newcomer\n");
}

fn a_reset_connection_is_dropped_and_the_others_carry_on(bin: &str) {
    let server = Server::start(bin);
    let mut stays = server.connect();
    let resets = server.connect();
    let resets_addr = resets.local_addr().unwrap();
    assert_echoes(&mut stays, b"before\n");

    // SO_LINGER with a zero timeout: close(2) sends RST instead of FIN, so
    // the server's next read fails with ECONNRESET instead of returning 0.
    socket2::SockRef::from(&resets)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(resets);
    let line = wait_for_line_starting(&server, &format!("dropped {resets_addr}: "));
    assert!(line.contains("reset"), "{line}");

    assert_echoes(&mut stays, b"after\n");
}

fn large_echo_comes_back_byte_for_byte(bin: &str) {
    let server = Server::start(bin);
    let mut client = server.connect();
    let client_addr = client.local_addr().unwrap();
    // 8 MiB: far more than the socket buffers hold, so the server's writes
    // are cut short again and again and the rest must wait in its buffer.
    let payload: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();

    // Write from another thread while this one reads: nobody reading the
    // echo would fill every buffer and deadlock.
    let mut writer = client.try_clone().unwrap();
    let sent = payload.clone();
    let sender = thread::spawn(move || {
        writer.write_all(&sent).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let echoed = read_to_end(&mut client);
    sender.join().unwrap();

    assert_eq!(echoed.len(), payload.len());
    assert!(echoed == payload, "echoed bytes differ from those sent");
    // Everything was written back before the server closed.
    server.expect_line(&format!("closed {client_addr}"));
}

fn a_client_that_never_reads_does_not_stall_the_others(bin: &str) {
    // More than every kernel buffer between the two sockets can hold (tens
    // of MiB at most): reaching it means the server never stopped reading.
    const SENT_LIMIT: usize = 256 * 1024 * 1024;

    let server = Server::start(bin);
    let mut other = server.connect();
    let hog = server.connect();
    hog.set_nonblocking(true).unwrap();
    let chunk = vec![b'h'; 64 * 1024];

    // The hog sends as much as the kernel takes, never reading its echo.
    // Between bursts, the other client must still get its answer. Once the
    // hog's echo piles up, the server stops reading from it (backpressure),
    // every buffer on the way fills, and the hog's writes stop going
    // anywhere, for good. A server without backpressure would go on reading
    // and only stall the hog for a moment now and then: waiting for 100
    // rounds without progress (a few milliseconds) tells the two apart.
    let mut sent = 0;
    let mut rounds_without_progress = 0;
    let mut round = 0;
    while rounds_without_progress < 100 {
        let before = sent;
        while sent < SENT_LIMIT {
            match (&hog).write(&chunk) {
                Ok(n) => sent += n,
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) => panic!("hog write failed after {sent} bytes: {err}"),
            }
        }
        assert!(
            sent < SENT_LIMIT,
            "the server took {sent} bytes from a client that reads none of its echo"
        );
        assert_echoes(&mut other, format!("round {round}\n").as_bytes());
        rounds_without_progress = if sent == before {
            rounds_without_progress + 1
        } else {
            0
        };
        round += 1;
    }

    // Still stalled, the hog holds megabytes in flight; others are served.
    let mut newcomer = server.connect();
    assert_echoes(&mut newcomer, b"newcomer\n");
    assert_echoes(&mut other, b"other, at the end\n");
}

/// One module per server binary, with one `#[test]` per check above.
macro_rules! for_each_server {
    ($($(#[$attr:meta])* $server:ident),* $(,)?) => {$(
        $(#[$attr])*
        mod $server {
            const BIN: &str = env!(concat!("CARGO_BIN_EXE_", stringify!($server)));

            #[test]
            fn interleaved_clients_each_get_their_own_bytes_back() {
                super::interleaved_clients_each_get_their_own_bytes_back(BIN);
            }

            #[test]
            fn a_client_that_closes_is_dropped_and_the_others_carry_on() {
                super::a_client_that_closes_is_dropped_and_the_others_carry_on(BIN);
            }

            #[test]
            fn a_reset_connection_is_dropped_and_the_others_carry_on() {
                super::a_reset_connection_is_dropped_and_the_others_carry_on(BIN);
            }

            #[test]
            fn large_echo_comes_back_byte_for_byte() {
                super::large_echo_comes_back_byte_for_byte(BIN);
            }

            #[test]
            fn a_client_that_never_reads_does_not_stall_the_others() {
                super::a_client_that_never_reads_does_not_stall_the_others(BIN);
            }
        }
    )*};
}

for_each_server!(
    multiplex_busy,
    multiplex_select,
    multiplex_poll,
    #[cfg(target_os = "linux")]
    multiplex_epoll,
);
