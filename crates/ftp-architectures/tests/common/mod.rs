//! The conformance suite: one set of tests that every architecture binary
//! must pass, written once and instantiated per binary.
//!
//! A test file per architecture does
//!
//! ```ignore
//! mod common;
//! common::conformance_tests!(env!("CARGO_BIN_EXE_thread_pool"));
//! common::concurrency_tests!(env!("CARGO_BIN_EXE_thread_pool"));
//! ```
//!
//! (`serial` uses `conformance_tests!` and its own waiting test instead of
//! `concurrency_tests!`). Each test starts its own server with `PORT=0` on a
//! fresh temporary root, so they all run in parallel.
//!
//! Real clients (Python's ftplib, curl, lftp) drive the happy paths; raw
//! sockets drive the refusals, because a real client never sends them.

// Each test file uses a different subset of these helpers and macros.
#![allow(dead_code, unused_imports, unused_macros)]

use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use socket2::{Domain, SockAddr, Socket, Type};
use test_support::{Server, TIMEOUT, assert_closed, read_line, read_to_end};

// ---------------------------------------------------------------------------
// The tests, as macros that instantiate them for one binary
// ---------------------------------------------------------------------------

/// Every behaviour an FTP server of this crate must have, whatever its
/// architecture.
macro_rules! conformance_tests {
    ($bin:expr) => {
        #[test]
        fn ftplib_passive_session() {
            crate::common::ftplib_session($bin, "passive");
        }
        #[test]
        fn ftplib_active_session() {
            crate::common::ftplib_session($bin, "active");
        }
        #[test]
        fn curl_epsv() {
            crate::common::curl_session($bin, &[]);
        }
        #[test]
        fn curl_pasv() {
            crate::common::curl_session($bin, &["--disable-epsv"]);
        }
        #[test]
        fn curl_eprt() {
            crate::common::curl_session($bin, &["--ftp-port", "-"]);
        }
        #[test]
        fn curl_port() {
            crate::common::curl_session($bin, &["--ftp-port", "-", "--disable-eprt"]);
        }
        #[test]
        fn lftp_passive() {
            crate::common::lftp_session($bin, true);
        }
        #[test]
        fn lftp_active() {
            crate::common::lftp_session($bin, false);
        }
        #[test]
        fn basic_commands() {
            crate::common::basic_commands($bin);
        }
        #[test]
        fn listing_format() {
            crate::common::listing_format($bin);
        }
        #[test]
        fn port_and_eprt_to_another_address_are_refused() {
            crate::common::bounce_to_another_address_is_refused($bin);
        }
        #[test]
        fn port_and_eprt_below_1024_are_refused() {
            crate::common::bounce_to_a_privileged_port_is_refused($bin);
        }
        #[test]
        fn paths_cannot_escape_the_root() {
            crate::common::paths_cannot_escape_the_root($bin);
        }
        #[test]
        fn pwd_is_virtual() {
            crate::common::pwd_is_virtual($bin);
        }
        #[test]
        fn transfers_without_a_data_connection_get_425() {
            crate::common::no_data_connection($bin);
        }
        #[test]
        fn malformed_arguments_get_501() {
            crate::common::malformed_arguments($bin);
        }
        #[test]
        fn missing_files_get_550() {
            crate::common::missing_files($bin);
        }
        #[test]
        fn passive_connection_from_another_address_is_refused() {
            crate::common::passive_from_another_address($bin);
        }
        #[test]
        fn flood_without_line_end_is_cut_off() {
            crate::common::flood_is_cut_off($bin);
        }
        #[test]
        fn endless_flood_is_not_buffered() {
            crate::common::endless_flood_is_not_buffered($bin);
        }
        #[test]
        fn idle_client_gets_421() {
            crate::common::idle_client_gets_421($bin);
        }
        #[test]
        fn client_that_never_reads_data_gets_426() {
            crate::common::stalled_data_connection_gets_426($bin);
        }
    };
}
pub(crate) use conformance_tests;

/// What every architecture except `serial` must do: serve clients while
/// others are connected, silent, or in the middle of a transfer.
macro_rules! concurrency_tests {
    ($bin:expr) => {
        #[test]
        fn third_client_is_served_while_two_are_connected() {
            crate::common::third_client_is_served_promptly($bin);
        }
        #[test]
        fn stalled_transfer_does_not_stall_other_clients() {
            crate::common::stalled_transfer_does_not_stall_others($bin);
        }
    };
}
pub(crate) use concurrency_tests;

// ---------------------------------------------------------------------------
// The served tree
// ---------------------------------------------------------------------------

/// Size of `big.bin`: several megabytes, more than any socket buffer holds
/// at once with default settings on a small machine, so a transfer really
/// streams.
pub const BIG_SIZE: usize = 4 * 1024 * 1024;
/// Every file in the tree is dated 2024-03-14 00:00 UTC.
pub const MTIME: u64 = 1_710_374_400;
pub const LS_DATE: &str = "Mar 14  2024";

/// A temporary directory holding the served `root/` and, beside it, an
/// `outside/` directory that no client may reach:
///
/// ```text
/// root/big.bin          4 MiB of a known pseudo-random pattern
/// root/hello.txt        "hello\n"
/// root/sub/inner.txt    "inner\n"
/// root/inside_link  ->  sub                     (allowed: stays inside)
/// root/escape_dir   ->  <tmp>/outside           (absolute, leads out)
/// root/escape_file  ->  ../outside/secret.txt   (relative, leads out)
/// outside/secret.txt    "top secret\n"
/// ```
///
/// Removed on drop.
pub struct Fixture {
    pub dir: PathBuf,
    pub root: PathBuf,
}

impl Fixture {
    pub fn new() -> Fixture {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "ftp-architectures-{}-{}-{nanos}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let root = dir.join("root");
        let outside = dir.join("outside");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        write_file(&root.join("big.bin"), &big_file());
        write_file(&root.join("hello.txt"), b"hello\n");
        write_file(&root.join("sub/inner.txt"), b"inner\n");
        write_file(&outside.join("secret.txt"), b"top secret\n");
        symlink("sub", root.join("inside_link")).unwrap();
        symlink(&outside, root.join("escape_dir")).unwrap();
        symlink("../outside/secret.txt", root.join("escape_file")).unwrap();
        for dir in [root.join("sub"), root.clone()] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let root = root.canonicalize().unwrap();
        Fixture {
            dir: dir.canonicalize().unwrap(),
            root,
        }
    }

    /// A sparse file of `len` zero bytes in the root, made instantly.
    pub fn add_sparse_file(&self, name: &str, len: u64) {
        let file = File::create(self.root.join(name)).unwrap();
        file.set_len(len).unwrap();
    }

    /// A path for a client to write a download to (outside the root).
    pub fn download(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn write_file(path: &Path, contents: &[u8]) {
    fs::write(path, contents).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
    let file = File::options().write(true).open(path).unwrap();
    file.set_modified(UNIX_EPOCH + Duration::from_secs(MTIME))
        .unwrap();
}

/// The contents of `big.bin`: a xorshift sequence, so that a dropped,
/// repeated or reordered chunk anywhere shows up as a mismatch.
pub fn big_file() -> Vec<u8> {
    let mut state: u32 = 0x2545_f491;
    let mut bytes = Vec::with_capacity(BIG_SIZE);
    while bytes.len() < BIG_SIZE {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes
}

/// The `LIST` line for a plain file of the fixture.
pub fn file_line(name: &str, size: usize) -> String {
    format!("-rw-r--r--   1 ftp      ftp      {size:>12} {LS_DATE} {name}")
}

// ---------------------------------------------------------------------------
// Starting a server, and a raw FTP client
// ---------------------------------------------------------------------------

/// Starts `bin` serving `fixture.root` with `PORT=0`, plus `envs`.
pub fn start(bin: &str, fixture: &Fixture, envs: &[(&str, &str)]) -> Server {
    let mut command = Command::new(bin);
    for name in [
        "HOST",
        "IDLE_TIMEOUT",
        "DATA_TIMEOUT",
        "MAX_CONNECTIONS",
        "CONCURRENCY",
    ] {
        command.env_remove(name);
    }
    command.env("PORT", "0").env("FTP_ROOT", &fixture.root);
    command.envs(envs.iter().copied());
    Server::start_command(command)
}

/// A control connection driven by hand, one command at a time. Every reply
/// is kept in `transcript` so a test can check what the client was told.
pub struct Ftp {
    pub control: TcpStream,
    pub transcript: String,
}

impl Ftp {
    /// Connects and reads the `220` greeting.
    pub fn connect(server: &Server) -> Ftp {
        let mut ftp = Ftp::connect_silently(server);
        let greeting = ftp.reply();
        assert!(greeting.starts_with("220 "), "greeting: {greeting:?}");
        ftp
    }

    /// Connects without reading anything.
    pub fn connect_silently(server: &Server) -> Ftp {
        Ftp {
            control: server.connect(),
            transcript: String::new(),
        }
    }

    /// Sends raw bytes on the control connection.
    pub fn send(&mut self, bytes: &[u8]) {
        self.control.write_all(bytes).unwrap();
    }

    /// Reads one whole reply (all lines of a multi-line one).
    pub fn reply(&mut self) -> String {
        let first = read_line(&mut self.control);
        let mut text = first.clone();
        if first.len() >= 4 && first.as_bytes()[3] == b'-' {
            let end = format!("{} ", &first[..3]);
            loop {
                let line = read_line(&mut self.control);
                text.push_str(&line);
                if line.starts_with(&end) {
                    break;
                }
            }
        }
        assert!(text.ends_with("\r\n"), "reply without CRLF: {text:?}");
        self.transcript.push_str(&text);
        text
    }

    /// Sends `line` + CRLF and returns the reply, CRLF included.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// Sends `line` and asserts the reply's code.
    pub fn expect(&mut self, line: &str, code: u16) -> String {
        let reply = self.cmd(line);
        assert!(
            reply.starts_with(&format!("{code} ")),
            "{line:?} should get {code}, got {reply:?}"
        );
        reply
    }

    /// PASV, returning the address the server said to connect to.
    pub fn pasv(&mut self) -> SocketAddr {
        let reply = self.expect("PASV", 227);
        let inside = reply
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(numbers, _)| numbers)
            .unwrap_or_else(|| panic!("227 without (h1,...,p2): {reply:?}"));
        let n: Vec<u8> = inside.split(',').map(|n| n.parse().unwrap()).collect();
        assert_eq!(n.len(), 6, "{reply:?}");
        SocketAddr::from((
            Ipv4Addr::new(n[0], n[1], n[2], n[3]),
            u16::from(n[4]) * 256 + u16::from(n[5]),
        ))
    }

    /// EPSV, returning the port the server said to connect to.
    pub fn epsv(&mut self) -> u16 {
        let reply = self.expect("EPSV", 229);
        let port = reply
            .split_once("(|||")
            .and_then(|(_, rest)| rest.split_once("|)"))
            .map(|(port, _)| port)
            .unwrap_or_else(|| panic!("229 without (|||port|): {reply:?}"));
        port.parse().unwrap()
    }

    /// PASV, then `command` (RETR/LIST/NLST): returns everything received on
    /// the data connection, after checking the 150 and 226 replies.
    pub fn passive_transfer(&mut self, command: &str) -> Vec<u8> {
        let addr = self.pasv();
        let mut data = test_support::connect(addr);
        self.expect(command, 150);
        let received = read_to_end(&mut data);
        self.expect_reply(226);
        received
    }

    /// Reads the next reply and asserts its code.
    pub fn expect_reply(&mut self, code: u16) -> String {
        let reply = self.reply();
        assert!(
            reply.starts_with(&format!("{code} ")),
            "expected {code}, got {reply:?}"
        );
        reply
    }
}

/// A TCP connection from `local_ip` (another loopback address, say) to `to`.
pub fn connect_from(local_ip: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SockAddr::from(SocketAddr::from((local_ip, 0))))
        .unwrap();
    socket
        .connect_timeout(&SockAddr::from(to), TIMEOUT)
        .unwrap();
    let stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream
}

/// A connection to `to` that can hold very little unread data: its receive
/// buffer is as small as the kernel allows, so a sender soon has to wait.
pub fn connect_small_window(to: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket
        .connect_timeout(&SockAddr::from(to), TIMEOUT)
        .unwrap();
    TcpStream::from(socket)
}

/// Whether a program is on PATH; prints a note that the test is skipped if not.
pub fn have(program: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()));
    if !found {
        eprintln!("SKIPPED: `{program}` is not on PATH; install it to run this test");
    }
    found
}

fn run(mut command: Command) -> String {
    let output = test_support::run({
        command.env_remove("http_proxy").env_remove("ftp_proxy");
        command
    });
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "client failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

// ---------------------------------------------------------------------------
// Real clients
// ---------------------------------------------------------------------------

const FTPLIB_SCRIPT: &str = r#"
import ftplib, sys
host, port, mode, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ftp = ftplib.FTP()
ftp.connect(host, port, timeout=10)
print("login", ftp.login())
ftp.set_pasv(mode == "passive")
print("pwd", ftp.pwd())
print("cwd", ftp.cwd("sub"))
print("pwd", ftp.pwd())
lines = []
ftp.dir(lines.append)
print("dir", lines)
print("cwd", ftp.cwd(".."))
print("nlst", ftp.nlst())
print("size", ftp.size("big.bin"))
with open(out, "wb") as f:
    print("retr", ftp.retrbinary("RETR big.bin", f.write))
print("quit", ftp.quit())
"#;

/// Python's ftplib logs in, moves around, lists and downloads `big.bin`,
/// in passive (PASV) or active (PORT) mode.
pub fn ftplib_session(bin: &str, mode: &str) {
    if !have("python3") {
        return;
    }
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[]);
    let script = fixture.download("session.py");
    fs::write(&script, FTPLIB_SCRIPT).unwrap();
    let out = fixture.download("big.bin");

    let mut command = Command::new("python3");
    command
        .arg(&script)
        .arg("127.0.0.1")
        .arg(server.port())
        .arg(mode)
        .arg(&out);
    let printed = run(command);

    let expected = format!(
        "login 230 Logged in anonymously.\n\
         pwd /\n\
         cwd 250 Directory changed to /sub.\n\
         pwd /sub\n\
         dir ['{}']\n\
         cwd 250 Directory changed to /.\n\
         nlst ['big.bin', 'hello.txt', 'inside_link', 'sub']\n\
         size {BIG_SIZE}\n\
         retr 226 Transfer complete.\n\
         quit 221 Goodbye.\n",
        file_line("inner.txt", 6)
    );
    assert_eq!(printed, expected);
    assert!(fs::read(&out).unwrap() == big_file(), "big.bin differs");
}

/// curl downloads `big.bin` and lists `/sub/`, with the given mode flags.
pub fn curl_session(bin: &str, mode: &[&str]) {
    if !have("curl") {
        return;
    }
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[]);
    let base = format!("ftp://127.0.0.1:{}", server.port());
    let out = fixture.download("big.bin");

    let curl = |url: String, extra: &[&str]| {
        let mut command = Command::new("curl");
        command
            .args(["--silent", "--show-error", "--max-time", "10"])
            .args(mode)
            .args(extra)
            .arg(url);
        run(command)
    };
    curl(
        format!("{base}/big.bin"),
        &["--output", out.to_str().unwrap()],
    );
    assert!(fs::read(&out).unwrap() == big_file(), "big.bin differs");

    // curl fetches listings in ASCII mode and turns CRLF into the local \n.
    let listing = curl(format!("{base}/sub/"), &[]);
    assert_eq!(listing, format!("{}\n", file_line("inner.txt", 6)));
}

/// lftp lists `/sub`, fetches `big.bin`, in passive or active mode.
pub fn lftp_session(bin: &str, passive: bool) {
    if !have("lftp") {
        return;
    }
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[]);
    let out = fixture.download("big.bin");
    let script = format!(
        "set net:max-retries 1; set net:timeout 5; set ftp:passive-mode {}; \
         open -p {} 127.0.0.1; cd sub; ls; cd /; get big.bin -o {}; bye",
        if passive { "on" } else { "off" },
        server.port(),
        out.display()
    );
    let mut command = Command::new("lftp");
    command.arg("-c").arg(script);
    let printed = run(command);
    // lftp prints the server's LIST lines as they came (without the CR).
    assert_eq!(printed, format!("{}\n", file_line("inner.txt", 6)));
    assert!(fs::read(&out).unwrap() == big_file(), "big.bin differs");
}

// ---------------------------------------------------------------------------
// The protocol, by hand
// ---------------------------------------------------------------------------

pub fn basic_commands(bin: &str) {
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[]);
    let mut ftp = Ftp::connect(&server);
    ftp.expect("USER anonymous", 230);
    ftp.expect("PASS guest@", 230);
    assert_eq!(ftp.cmd("SYST"), "215 UNIX Type: L8\r\n");
    assert_eq!(
        ftp.cmd("FEAT"),
        "211-Features:\r\n EPRT\r\n EPSV\r\n PASV\r\n SIZE\r\n211 End\r\n"
    );
    ftp.expect("NOOP", 200);
    ftp.expect("TYPE I", 200);
    ftp.expect("TYPE A", 200);
    ftp.expect("TYPE X", 504);
    ftp.expect("TYPE", 501);
    // Commands are case-insensitive.
    assert_eq!(ftp.cmd("pwd"), "257 \"/\" is the current directory.\r\n");
    assert_eq!(ftp.cmd("SIZE hello.txt"), "213 6\r\n");
    ftp.expect("SITE CHMOD 777 hello.txt", 502);
    ftp.expect("XYZZY", 502);
    ftp.expect("123", 500);
    ftp.expect("", 500);
    // Two commands in one segment get two replies, in order.
    ftp.send(b"CWD sub\r\nPWD\r\n");
    ftp.expect_reply(250);
    assert_eq!(ftp.reply(), "257 \"/sub\" is the current directory.\r\n");
    // A bare \n ends a line too (nc without -C sends that).
    ftp.send(b"CDUP\n");
    ftp.expect_reply(250);
    // TYPE A sends files unchanged: a binary file arrives byte for byte.
    ftp.expect("TYPE A", 200);
    assert!(ftp.passive_transfer("RETR big.bin") == big_file());
    let port = ftp.epsv();
    let mut data = test_support::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    ftp.expect("RETR hello.txt", 150);
    assert_eq!(read_to_end(&mut data), b"hello\n");
    ftp.expect_reply(226);
    ftp.expect("QUIT", 221);
    assert_closed(&mut ftp.control);
}

pub fn listing_format(bin: &str) {
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[]);
    let mut ftp = Ftp::connect(&server);
    let listing = String::from_utf8(ftp.passive_transfer("LIST")).unwrap();
    let lines: Vec<&str> = listing.split_terminator("\r\n").collect();
    assert!(listing.ends_with("\r\n"), "{listing:?}");
    // Sorted by name; the symlinks that lead out of the root are not shown;
    // the one that stays inside is shown as what it points to.
    assert_eq!(lines.len(), 4, "{listing:?}");
    assert_eq!(lines[0], file_line("big.bin", BIG_SIZE));
    assert_eq!(lines[1], file_line("hello.txt", 6));
    for (line, name) in [(lines[2], "inside_link"), (lines[3], "sub")] {
        assert!(
            line.starts_with("drwxr-xr-x   1 ftp      ftp  "),
            "{line:?}"
        );
        assert!(
            line.ends_with(&format!(" {LS_DATE} {name}")) || line.ends_with(&format!(" {name}")),
            "{line:?}"
        );
    }
    // `ls` options are ignored; a directory or a file may be named.
    let listing = ftp.passive_transfer("LIST -la sub");
    assert_eq!(
        listing,
        format!("{}\r\n", file_line("inner.txt", 6)).as_bytes()
    );
    let listing = ftp.passive_transfer("LIST /hello.txt");
    assert_eq!(
        listing,
        format!("{}\r\n", file_line("hello.txt", 6)).as_bytes()
    );
    let names = ftp.passive_transfer("NLST");
    assert_eq!(names, b"big.bin\r\nhello.txt\r\ninside_link\r\nsub\r\n");
}

/// RFC 2577's bounce attack: PORT/EPRT naming any address but the client's
/// own is refused, and the server never connects there.
pub fn bounce_to_another_address_is_refused(bin: &str) {
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[]);
    // A "victim" on another loopback address, which must never be contacted.
    let victim = TcpListener::bind("127.0.0.2:0").unwrap();
    victim.set_nonblocking(true).unwrap();
    let port = victim.local_addr().unwrap().port();

    let mut ftp = Ftp::connect(&server);
    let (p1, p2) = (port / 256, port % 256);
    assert_eq!(
        ftp.cmd(&format!("PORT 127,0,0,2,{p1},{p2}")),
        "504 PORT refused: data connections go only to your own address.\r\n"
    );
    ftp.expect("RETR hello.txt", 425);
    assert_eq!(
        ftp.cmd(&format!("EPRT |1|127.0.0.2|{port}|")),
        "504 EPRT refused: data connections go only to your own address.\r\n"
    );
    ftp.expect("LIST", 425);
    ftp.expect(&format!("EPRT |2|::1|{port}|"), 504);
    ftp.expect("NOOP", 200);
    match victim.accept() {
        Err(err) if err.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the server connected to the victim: {other:?}"),
    }
}

/// PORT/EPRT to the client's own address but a port below 1024 (a service
/// such as SMTP, 25) is refused.
pub fn bounce_to_a_privileged_port_is_refused(bin: &str) {
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[]);
    let mut ftp = Ftp::connect(&server);
    assert_eq!(
        ftp.cmd("PORT 127,0,0,1,0,25"),
        "504 PORT refused: ports below 1024 are not allowed.\r\n"
    );
    assert_eq!(
        ftp.cmd("EPRT |1|127.0.0.1|1023|"),
        "504 EPRT refused: ports below 1024 are not allowed.\r\n"
    );
    ftp.expect("RETR hello.txt", 425);
    // The session goes on, and an allowed PORT works.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    ftp.expect(
        &format!("PORT 127,0,0,1,{},{}", port / 256, port % 256),
        200,
    );
    ftp.expect("RETR hello.txt", 150);
    let (mut data, _) = test_support::accept(&listener);
    assert_eq!(read_to_end(&mut data), b"hello\n");
    ftp.expect_reply(226);
}

pub fn paths_cannot_escape_the_root(bin: &str) {
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[]);
    let mut ftp = Ftp::connect(&server);
    // A data connection stays arranged across the refusals, so each 550
    // below is the path check, not a missing data connection.
    let addr = ftp.pasv();
    for line in [
        "CWD ..",
        "CWD ../..",
        "CWD /..",
        "CWD sub/../..",
        "CWD escape_dir",
        "CWD /escape_dir/",
        "RETR escape_file",
        "RETR ../outside/secret.txt",
        "RETR /../outside/secret.txt",
        "RETR escape_dir/secret.txt",
        "RETR /etc/passwd",
        "SIZE escape_file",
        "SIZE ../outside/secret.txt",
        "LIST escape_dir",
        "LIST ..",
        "NLST /..",
    ] {
        assert_eq!(
            ftp.cmd(line),
            "550 No such file or directory.\r\n",
            "for {line:?}"
        );
    }
    assert_eq!(ftp.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
    // The same from inside a subdirectory.
    ftp.expect("CWD sub", 250);
    ftp.expect("CWD ../../outside", 550);
    ftp.expect("RETR ../../outside/secret.txt", 550);
    assert_eq!(ftp.cmd("PWD"), "257 \"/sub\" is the current directory.\r\n");
    // Going up to the root (and not further) is fine.
    ftp.expect("CWD ..", 250);
    assert_eq!(ftp.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
    let mut data = test_support::connect(addr);
    ftp.expect("RETR /sub/../sub/inner.txt", 150);
    assert_eq!(read_to_end(&mut data), b"inner\n");
    ftp.expect_reply(226);
    assert!(
        !ftp.transcript.contains("secret") && !ftp.transcript.contains("outside"),
        "{}",
        ftp.transcript
    );
}

/// PWD shows the virtual path, never the server's real one, also after a
/// CWD through a symlink.
pub fn pwd_is_virtual(bin: &str) {
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[]);
    let mut ftp = Ftp::connect(&server);
    assert_eq!(ftp.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
    assert_eq!(
        ftp.cmd("CWD /inside_link"),
        "250 Directory changed to /sub.\r\n"
    );
    assert_eq!(ftp.cmd("PWD"), "257 \"/sub\" is the current directory.\r\n");
    ftp.expect("CWD /", 250);
    assert_eq!(ftp.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
    let real = fixture.root.to_string_lossy().into_owned();
    assert!(!ftp.transcript.contains(&real), "{}", ftp.transcript);
    let tmp = std::env::temp_dir().to_string_lossy().into_owned();
    assert!(!ftp.transcript.contains(&tmp), "{}", ftp.transcript);
}

pub fn no_data_connection(bin: &str) {
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[]);
    let mut ftp = Ftp::connect(&server);
    assert_eq!(
        ftp.cmd("RETR hello.txt"),
        "425 Use PORT, EPRT, PASV or EPSV first.\r\n"
    );
    ftp.expect("LIST", 425);
    ftp.expect("NLST", 425);
    // A data connection serves one transfer only.
    assert_eq!(ftp.passive_transfer("RETR hello.txt"), b"hello\n");
    ftp.expect("RETR hello.txt", 425);
    ftp.expect("NOOP", 200);
}

pub fn malformed_arguments(bin: &str) {
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[]);
    let mut ftp = Ftp::connect(&server);
    for line in [
        "PORT",
        "PORT 127,0,0,1,200",
        "PORT 127,0,0,1,200,1,7",
        "PORT 127,0,0,256,200,1",
        "PORT 127,0,0,one,200,1",
        "PORT -1,0,0,1,200,1",
        "EPRT",
        "EPRT |1|127.0.0.1|",
        "EPRT |1|127.0.0.1|70000|",
        "EPRT |1|localhost|5000|",
        "EPRT |1|::1|5000|",
        "EPRT 1|127.0.0.1|5000",
        "EPSV 7",
        "USER",
        "CWD",
        "RETR",
        "SIZE",
        "TYPE",
    ] {
        let reply = ftp.cmd(line);
        assert!(
            reply.starts_with("501 "),
            "{line:?} should get 501, got {reply:?}"
        );
    }
    ftp.expect("EPRT |3|127.0.0.1|5000|", 522);
    // Bytes that are not UTF-8, or a NUL, in a path are just a missing file.
    ftp.send(b"CWD \xff\xfe\r\n");
    ftp.expect_reply(550);
    ftp.send(b"SIZE hello\0.txt\r\n");
    ftp.expect_reply(550);
    ftp.expect("NOOP", 200);
}

pub fn missing_files(bin: &str) {
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[]);
    let mut ftp = Ftp::connect(&server);
    let addr = ftp.pasv();
    assert_eq!(
        ftp.cmd("RETR nope.txt"),
        "550 No such file or directory.\r\n"
    );
    ftp.expect("RETR sub", 550); // a directory is not a file
    ftp.expect("SIZE nope.txt", 550);
    ftp.expect("SIZE sub", 550);
    ftp.expect("CWD nope", 550);
    ftp.expect("CWD hello.txt", 550);
    ftp.expect("LIST nope", 550);
    // The refused commands left the data connection arranged.
    let mut data = test_support::connect(addr);
    ftp.expect("RETR hello.txt", 150);
    assert_eq!(read_to_end(&mut data), b"hello\n");
    ftp.expect_reply(226);
}

/// Someone at another address races the client to its passive port: the
/// server closes that connection and serves the real client.
pub fn passive_from_another_address(bin: &str) {
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[]);
    let mut ftp = Ftp::connect(&server);
    let addr = ftp.pasv();
    let mut intruder = connect_from(Ipv4Addr::new(127, 0, 0, 2), addr);
    ftp.expect("RETR hello.txt", 150);
    assert_closed(&mut intruder);
    let mut data = connect_from(Ipv4Addr::LOCALHOST, addr);
    assert_eq!(read_to_end(&mut data), b"hello\n");
    ftp.expect_reply(226);
    // The same with EPSV, and the intruder arriving after the command.
    let port = ftp.epsv();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    ftp.expect("LIST sub", 150);
    let mut intruder = connect_from(Ipv4Addr::new(127, 0, 0, 3), addr);
    assert_closed(&mut intruder);
    let mut data = connect_from(Ipv4Addr::LOCALHOST, addr);
    assert_eq!(
        read_to_end(&mut data),
        format!("{}\r\n", file_line("inner.txt", 6)).as_bytes()
    );
    ftp.expect_reply(226);
    ftp.expect("NOOP", 200);
}

/// Exactly MAX_LINE bytes with no line end: the server answers 500, closes,
/// and goes on serving others.
pub fn flood_is_cut_off(bin: &str) {
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[]);
    let mut ftp = Ftp::connect(&server);
    ftp.send(&[b'A'; 4096]);
    assert_eq!(
        ftp.reply(),
        "500 Command line too long (the limit is 4096 bytes); closing.\r\n"
    );
    assert_closed(&mut ftp.control);
    drop(ftp);

    // A long but complete line is refused the same way.
    let mut ftp = Ftp::connect(&server);
    let mut line = b"CWD ".to_vec();
    line.extend_from_slice(&[b'a'; 5000]);
    line.extend_from_slice(b"\r\n");
    ftp.send(&line);
    ftp.expect_reply(500);
    drop(ftp);

    let mut next = Ftp::connect(&server);
    next.expect("PWD", 257);
}

/// A client that never stops sending: the server must hang up rather than
/// buffer it all, so our writes soon fail with a broken pipe or a reset.
pub fn endless_flood_is_not_buffered(bin: &str) {
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[]);
    let mut ftp = Ftp::connect(&server);
    let chunk = [b'x'; 64 * 1024];
    let mut sent = 0usize;
    let error = loop {
        match ftp.control.write(&chunk) {
            Ok(n) => sent += n,
            Err(err) => break err,
        }
        // A server that stopped reading leaves at most our send buffer plus
        // its (unread, so not auto-grown) receive buffer in flight: a few
        // MiB. One still taking bytes after 16 MiB is buffering the flood.
        assert!(sent < 16 * 1024 * 1024, "the server kept reading the flood");
    };
    assert!(
        matches!(
            error.kind(),
            ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
        ),
        "expected the server to close, got {error} after {sent} bytes"
    );
    let mut next = Ftp::connect(&server);
    next.expect("PWD", 257);
}

pub fn idle_client_gets_421(bin: &str) {
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[("IDLE_TIMEOUT", "0.5")]);
    let mut ftp = Ftp::connect(&server);
    ftp.expect("NOOP", 200);
    // Now silence: the next thing we hear is the 421, then the close.
    assert_eq!(
        ftp.reply(),
        "421 Timeout: closing the control connection.\r\n"
    );
    assert_closed(&mut ftp.control);
    let mut next = Ftp::connect(&server);
    next.expect("PWD", 257);
}

/// A client opens the data connection and never reads it: the server gives
/// up after DATA_TIMEOUT with 426, and the session goes on.
pub fn stalled_data_connection_gets_426(bin: &str) {
    let fixture = Fixture::new();
    // Far bigger than every socket buffer between us, so the server must wait.
    fixture.add_sparse_file("huge.bin", 256 * 1024 * 1024);
    let server = start(bin, &fixture, &[("DATA_TIMEOUT", "1")]);
    let mut ftp = Ftp::connect(&server);
    let addr = ftp.pasv();
    let data = connect_small_window(addr);
    ftp.expect("RETR huge.bin", 150);
    assert_eq!(ftp.reply(), "426 Connection closed; transfer aborted.\r\n");
    drop(data);
    ftp.expect("NOOP", 200);
    assert_eq!(ftp.passive_transfer("RETR hello.txt"), b"hello\n");
}

// ---------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------

/// Client A is connected and silent; client B has sent half a command.
/// Client C must still get its greeting and its replies.
pub fn third_client_is_served_promptly(bin: &str) {
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[]);
    let _silent = Ftp::connect(&server);
    let mut half = Ftp::connect(&server);
    half.send(b"NO");
    let mut third = Ftp::connect(&server);
    third.expect("PWD", 257);
    assert_eq!(third.passive_transfer("RETR hello.txt"), b"hello\n");
    // B's command completes when the rest arrives.
    half.send(b"OP\r\n");
    half.expect_reply(200);
}

/// Client A's download is stuck (it never reads its data connection).
/// Client C is served meanwhile, transfers included.
pub fn stalled_transfer_does_not_stall_others(bin: &str) {
    let fixture = Fixture::new();
    fixture.add_sparse_file("huge.bin", 256 * 1024 * 1024);
    let server = start(bin, &fixture, &[]);
    let mut stuck = Ftp::connect(&server);
    let addr = stuck.pasv();
    let _never_read = connect_small_window(addr);
    stuck.expect("RETR huge.bin", 150);

    let mut other = Ftp::connect(&server);
    other.expect("PWD", 257);
    assert!(other.passive_transfer("RETR big.bin") == big_file());
    let names = other.passive_transfer("NLST");
    assert_eq!(
        names,
        b"big.bin\r\nhello.txt\r\nhuge.bin\r\ninside_link\r\nsub\r\n"
    );
}

/// For `serial` only: while A is connected and B has sent half a command,
/// C gets no greeting; it is greeted once A and B have gone, in turn.
pub fn third_client_waits_for_the_first_two(bin: &str) {
    let fixture = Fixture::new();
    let server = start(bin, &fixture, &[]);
    let first = Ftp::connect(&server);
    let mut second = Ftp::connect_silently(&server);
    second.send(b"NO");
    let mut third = Ftp::connect_silently(&server);

    // connect(2) succeeded (the kernel queued both connections), but the
    // server is busy with the first client: no greeting for the others.
    for waiting in [&mut second, &mut third] {
        assert_no_data_yet(&mut waiting.control);
    }

    // The first client leaves: the server accepts the second, whose half
    // command is waiting for it.
    drop(first);
    second.expect_reply(220);
    assert_no_data_yet(&mut third.control);
    second.send(b"OP\r\n");
    second.expect_reply(200);

    // The second leaves: now the third is greeted and served.
    drop(second);
    third.expect_reply(220);
    third.expect("PWD", 257);
}

/// Asserts that nothing has arrived on `stream` for a moment. (A negative
/// check: a correct serial server can never fail it.)
fn assert_no_data_yet(stream: &mut TcpStream) {
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("expected nothing yet, got {other:?}"),
    }
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
}
