use std::fs;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use socket2::{Domain, SockAddr, Socket, Type};
use test_support::{Server, TIMEOUT, assert_closed, read_line, read_to_end};

const BIN: &str = env!("CARGO_BIN_EXE_serial_pasv");

/// A temporary served directory with `hello.txt` and a 2 MiB `big.bin`.
struct Root {
    dir: PathBuf,
}

impl Root {
    fn new() -> Root {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "serial_pasv-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("hello.txt"), "hello\n").unwrap();
        fs::write(dir.join("big.bin"), big()).unwrap();
        Root { dir }
    }

    fn start(&self) -> Server {
        let mut command = Command::new(BIN);
        command.env("PORT", "0").env("FTP_ROOT", &self.dir);
        Server::start_command(command)
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// 2 MiB in which every 4-byte word differs from its neighbours.
fn big() -> Vec<u8> {
    (0u32..512 * 1024)
        .flat_map(|n| n.wrapping_mul(2_654_435_761).to_le_bytes())
        .collect()
}

struct Ftp {
    control: TcpStream,
}

impl Ftp {
    fn connect(server: &Server) -> Ftp {
        let mut control = server.connect();
        let greeting = read_line(&mut control);
        assert!(greeting.starts_with("220 "), "{greeting:?}");
        Ftp { control }
    }

    /// Sends a command and returns its reply without the CRLF.
    fn cmd(&mut self, line: &str) -> String {
        self.control
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
        self.reply()
    }

    fn reply(&mut self) -> String {
        read_line(&mut self.control).trim_end().to_string()
    }

    /// Sends PASV and returns the address from the 227 reply.
    fn pasv(&mut self) -> SocketAddr {
        let reply = self.cmd("PASV");
        let numbers = reply
            .strip_prefix("227 Entering Passive Mode (")
            .and_then(|rest| rest.strip_suffix(")."))
            .unwrap_or_else(|| panic!("not a 227 reply: {reply:?}"));
        let n: Vec<u8> = numbers
            .split(',')
            .map(|n| {
                n.parse()
                    .unwrap_or_else(|_| panic!("bad number in {reply:?}"))
            })
            .collect();
        assert_eq!(n.len(), 6, "{reply:?}");
        SocketAddr::from((
            Ipv4Addr::new(n[0], n[1], n[2], n[3]),
            u16::from(n[4]) * 256 + u16::from(n[5]),
        ))
    }
}

/// A connection to `to` from the local address `from`.
fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SockAddr::from(SocketAddr::from((from, 0))))
        .unwrap();
    socket
        .connect_timeout(&SockAddr::from(to), TIMEOUT)
        .unwrap();
    let stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream
}

#[test]
fn pasv_names_the_servers_address_and_a_listening_port() {
    let root = Root::new();
    let server = root.start();
    let mut ftp = Ftp::connect(&server);
    let addr = ftp.pasv();
    assert_eq!(addr.ip(), server.addr().ip(), "the IP the client reached");
    assert_ne!(addr.port(), 0);
    assert_ne!(addr.port(), server.addr().port());
    // Something is listening there.
    TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
}

#[test]
fn retr_over_a_passive_connection() {
    let root = Root::new();
    let server = root.start();
    let mut ftp = Ftp::connect(&server);
    let addr = ftp.pasv();
    let mut data = test_support::connect(addr);
    assert!(ftp.cmd("RETR hello.txt").starts_with("150 "));
    assert_eq!(read_to_end(&mut data), b"hello\n");
    assert_eq!(ftp.reply(), "226 Transfer complete.");
}

#[test]
fn a_binary_file_arrives_byte_for_byte() {
    let root = Root::new();
    let server = root.start();
    let mut ftp = Ftp::connect(&server);
    let addr = ftp.pasv();
    // This time the client connects after sending RETR.
    assert!(ftp.cmd("RETR big.bin").starts_with("150 "));
    let mut data = test_support::connect(addr);
    assert!(read_to_end(&mut data) == big(), "big.bin differs");
    assert_eq!(ftp.reply(), "226 Transfer complete.");
}

#[test]
fn a_connection_from_another_address_is_closed() {
    let root = Root::new();
    let server = root.start();
    let mut ftp = Ftp::connect(&server);
    let addr = ftp.pasv();
    let mut intruder = connect_from(Ipv4Addr::new(127, 0, 0, 2), addr);
    assert!(ftp.cmd("RETR hello.txt").starts_with("150 "));
    assert_closed(&mut intruder);
    let mut data = connect_from(Ipv4Addr::LOCALHOST, addr);
    assert_eq!(read_to_end(&mut data), b"hello\n");
    assert_eq!(ftp.reply(), "226 Transfer complete.");
}

#[test]
fn one_pasv_serves_one_transfer() {
    let root = Root::new();
    let server = root.start();
    let mut ftp = Ftp::connect(&server);
    let addr = ftp.pasv();
    let mut data = test_support::connect(addr);
    ftp.cmd("RETR hello.txt");
    read_to_end(&mut data);
    assert_eq!(ftp.reply(), "226 Transfer complete.");
    assert!(ftp.cmd("RETR hello.txt").starts_with("425 "));
    // A fresh PASV works again, and the session went on throughout.
    let addr = ftp.pasv();
    let mut data = test_support::connect(addr);
    ftp.cmd("RETR hello.txt");
    assert_eq!(read_to_end(&mut data), b"hello\n");
    assert_eq!(ftp.reply(), "226 Transfer complete.");
    assert_eq!(ftp.cmd("QUIT"), "221 Goodbye.");
}

#[test]
fn port_still_works() {
    let root = Root::new();
    let server = root.start();
    let mut ftp = Ftp::connect(&server);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let line = format!("PORT 127,0,0,1,{},{}", port / 256, port % 256);
    assert_eq!(ftp.cmd(&line), "200 PORT command successful.");
    assert!(ftp.cmd("RETR hello.txt").starts_with("150 "));
    let (mut data, _) = test_support::accept(&listener);
    assert_eq!(read_to_end(&mut data), b"hello\n");
    assert_eq!(ftp.reply(), "226 Transfer complete.");
}

/// curl with EPSV turned off uses PASV (skipped where curl is missing).
#[test]
fn curl_downloads_in_passive_mode() {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("curl").is_file()));
    if !found {
        eprintln!("SKIPPED: curl is not on PATH");
        return;
    }
    let root = Root::new();
    let server = root.start();
    let mut command = Command::new("curl");
    command
        .args([
            "--silent",
            "--show-error",
            "--max-time",
            "10",
            "--disable-epsv",
        ])
        .arg(format!("ftp://127.0.0.1:{}/big.bin", server.port()));
    let output = test_support::run(command);
    assert!(
        output.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stdout == big(), "big.bin differs");
}
