//! The tests play `length_prefix_server` on a loopback listener of their own
//! and check, without timing anything: the exact requests and output; the
//! TCP_NODELAY value the client reads back from its kernel; and, from the
//! server side's kernel, how many TCP segments carrying data arrived.

use std::collections::HashMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::thread;

use test_support::read_exact;

const BIN: &str = env!("CARGO_BIN_EXE_nodelay_fix");

const EXPECTED_REQUESTS: [&str; 6] = [
    "SET lang rust",
    "GET lang",
    "GET ruby",
    "SET lang ruby",
    "GET lang",
    "exit",
];

/// What the fake server saw.
struct Seen {
    requests: Vec<String>,
    data_segments: u32,
}

/// Runs the client against a fake CloudHash server speaking frames.
fn run_against_fake_server() -> (Output, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = thread::spawn(move || {
        let mut command = Command::new(BIN);
        command.env("PORT", port.to_string());
        test_support::run(command)
    });

    let (mut connection, _) = test_support::accept(&listener);
    let mut store = HashMap::new();
    let mut requests = Vec::new();
    loop {
        let request = read_frame(&mut connection);
        requests.push(request.clone());
        let words: Vec<&str> = request.splitn(3, ' ').collect();
        let reply = match words.as_slice() {
            ["exit"] => break,
            ["SET", key, value] => {
                store.insert(key.to_string(), value.to_string());
                "OK".to_string()
            }
            ["GET", key] => match store.get(*key) {
                Some(value) => format!("VALUE {value}"),
                None => "NIL".to_string(),
            },
            _ => panic!("unexpected request {request:?}"),
        };
        // The reply in one write, as the real server sends it.
        let frame = [&(reply.len() as u32).to_be_bytes()[..], reply.as_bytes()].concat();
        connection.write_all(&frame).unwrap();
    }
    // Everything the client sent has arrived: ask the kernel how it came.
    let data_segments = data_segments_received(&connection);
    drop(connection);

    let output = client.join().unwrap();
    (
        output,
        Seen {
            requests,
            data_segments,
        },
    )
}

fn read_frame(stream: &mut TcpStream) -> String {
    let header = read_exact(stream, 4);
    let length = u32::from_be_bytes(header.try_into().unwrap());
    assert!(length < 1000, "a request of {length} bytes?");
    String::from_utf8(read_exact(stream, length as usize)).unwrap()
}

/// How many segments carrying data the kernel has received on `stream`:
/// `tcpi_data_segs_in` from getsockopt(IPPROTO_TCP, TCP_INFO) (Linux 4.6+).
#[cfg(target_os = "linux")]
fn data_segments_received(stream: &TcpStream) -> u32 {
    use nix::libc;
    use std::os::fd::AsRawFd;

    // SAFETY: tcp_info is a C struct of integers, for which all zeroes is a
    // valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut length = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is writable and `length` is its size; the kernel writes
    // at most `length` bytes into it and stores how many in `length`.
    let result = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut length,
        )
    };
    assert_eq!(
        result,
        0,
        "getsockopt(TCP_INFO): {}",
        std::io::Error::last_os_error()
    );
    info.tcpi_data_segs_in
}

#[test]
fn sends_the_same_requests_and_prints_each_reply() {
    let (output, seen) = run_against_fake_server();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(seen.requests, EXPECTED_REQUESTS);

    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    let replies = [
        ("SET lang rust", "OK"),
        ("GET lang", "VALUE rust"),
        ("GET ruby", "NIL"),
        ("SET lang ruby", "OK"),
        ("GET lang", "VALUE ruby"),
    ];
    for (line, (request, reply)) in lines[1..].iter().zip(replies) {
        // `<request> -> <reply> (<time> ms)`; the time is not checked.
        let prefix = format!("{request} -> {reply} (");
        let time = line
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(" ms)"))
            .unwrap_or_else(|| panic!("{line:?} is not \"{prefix}<time> ms)\""));
        assert!(time.parse::<f64>().is_ok(), "{line:?}: bad time");
    }
}

#[test]
fn turns_tcp_nodelay_on() {
    let (output, _) = run_against_fake_server();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout.lines().next(),
        Some("TCP_NODELAY: on"),
        "the first line is the option as getsockopt reports it"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn sends_each_request_as_one_segment() {
    let (output, seen) = run_against_fake_server();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        seen.data_segments,
        EXPECTED_REQUESTS.len() as u32,
        "{} requests arrived in {} TCP segments: each frame should go out in a single write",
        EXPECTED_REQUESTS.len(),
        seen.data_segments
    );
}
