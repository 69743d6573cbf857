//! Exercise (Serial): give a serial FTP server passive mode.
//!
//! This is a small serial FTP server — one client at a time, like the
//! chapter's `serial` — that can send files only in *active* mode: the client
//! says `PORT h1,h2,h3,h4,p1,p2` and the server connects to it. Behind a NAT
//! or a firewall that connection never arrives, which is why every client
//! today prefers *passive* mode: the client sends `PASV`, the server opens a
//! listening socket and says where it is, and the client connects to it.
//!
//! It serves the plain files directly in `FTP_ROOT` (default: the current
//! directory) with `RETR name`; it understands `USER`, `PASS`, `SYST`,
//! `TYPE`, `PWD`, `PORT`, `RETR` and `QUIT`.
//!
//! The contract the tests check, for `PASV`:
//! - the server binds a new listening socket on the address the client
//!   reached it at (the control connection's local IP), on a port the kernel
//!   picks, and answers `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).`
//!   where `h1..h4` is that IP and the port is `p1 * 256 + p2`;
//! - the next `RETR` answers `150`, accepts one connection on that socket,
//!   sends the file on it, closes it, and answers `226`;
//! - a connection to the passive port from any IP other than the control
//!   connection's peer is closed at once, and the server keeps waiting for
//!   the real client (RFC 2577: otherwise anyone could grab the file);
//! - a `PASV` serves one transfer: a second `RETR` without a new `PASV` or
//!   `PORT` gets `425`;
//! - `PORT` keeps working.
//!
//! Run the tests with `just exercise serial_pasv`
//! (or `cargo test -p serial_pasv` inside `exercises/`).
//! Stuck? `just hint serial_pasv`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

/// How long a data connection may take to arrive, and a write to it to
/// proceed, before we give up on it.
const DATA_TIMEOUT: Duration = Duration::from_secs(10);

/// How the next transfer reaches the client.
enum DataPlan {
    /// Active mode (`PORT`): we connect to the client.
    Active(SocketAddr),
    // TODO: a variant for passive mode (`PASV`), holding the listener the
    // client will connect to.
}

fn main() -> anyhow::Result<()> {
    let root = match std::env::var_os("FTP_ROOT") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_dir()?,
    };
    let root = root
        .canonicalize()
        .with_context(|| format!("FTP_ROOT={} does not exist", root.display()))?;

    // Shorthand for socket(2) + bind(2) + listen(2); see the chapter.
    let addr = conventions::listen_addr("127.0.0.1")?;
    let listener = TcpListener::bind(addr).map_err(|err| conventions::bind_error(addr, err))?;
    conventions::announce(listener.local_addr()?);
    // The serial architecture: one client, start to finish, then the next.
    for connection in listener.incoming() {
        let connection = match connection {
            Ok(connection) => connection,
            Err(err) => {
                eprintln!("accept failed: {err}");
                continue;
            }
        };
        if let Err(err) = serve(connection, &root) {
            eprintln!("connection ended: {err}");
        }
    }
    Ok(())
}

fn serve(control: TcpStream, root: &Path) -> io::Result<()> {
    // The address the client reached us at: where a passive listener goes.
    #[allow(unused_variables)]
    let local = control.local_addr()?;
    let peer = control.peer_addr()?;
    // A silent client must not hold a serial server for ever.
    control.set_read_timeout(Some(Duration::from_secs(300)))?;
    let mut reader = BufReader::new(control.try_clone()?);
    let mut control = control;
    control.write_all(b"220 serial_pasv ready\r\n")?;
    let mut data: Option<DataPlan> = None;

    loop {
        let mut line = Vec::new();
        if (&mut reader).take(4096).read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end();
        let (verb, argument) = line.split_once(' ').unwrap_or((line, ""));
        let reply = match verb.to_ascii_uppercase().as_str() {
            "USER" | "PASS" => "230 Logged in anonymously.".to_string(),
            "SYST" => "215 UNIX Type: L8".to_string(),
            "TYPE" => "200 Type set.".to_string(),
            "PWD" => "257 \"/\" is the current directory.".to_string(),
            "PORT" => match parse_port(argument) {
                // Only to the client itself, and not to a privileged port.
                Some(target) if target.ip() == peer.ip() && target.port() >= 1024 => {
                    data = Some(DataPlan::Active(target));
                    "200 PORT command successful.".to_string()
                }
                Some(_) => "504 PORT refused.".to_string(),
                None => "501 Syntax error in PORT arguments.".to_string(),
            },
            // TODO: bind a listener on `local.ip()`, port 0; remember it in
            // `data`; answer 227 with its address as h1,h2,h3,h4,p1,p2.
            "PASV" => "502 PASV not implemented yet.".to_string(),
            "RETR" => {
                let Some(file) = open_in_root(root, argument) else {
                    control.write_all(b"550 No such file.\r\n")?;
                    continue;
                };
                let Some(plan) = data.take() else {
                    control.write_all(b"425 Use PORT or PASV first.\r\n")?;
                    continue;
                };
                control.write_all(b"150 Opening data connection.\r\n")?;
                send_file(file, plan, peer.ip())
            }
            "QUIT" => {
                control.write_all(b"221 Goodbye.\r\n")?;
                return Ok(());
            }
            _ => "502 Command not implemented.".to_string(),
        };
        control.write_all(format!("{reply}\r\n").as_bytes())?;
    }
}

/// Sends `file` over the data connection `plan` describes; returns the
/// final reply (226, 425 or 426).
#[allow(unused_variables)]
fn send_file(mut file: File, plan: DataPlan, client: IpAddr) -> String {
    let mut stream = match plan {
        DataPlan::Active(target) => match TcpStream::connect_timeout(&target, DATA_TIMEOUT) {
            Ok(stream) => stream,
            Err(_) => return "425 Cannot open data connection.".to_string(),
        },
        // TODO: passive mode: accept on the listener, but only a connection
        // from `client`; close any other and keep waiting (with a timeout).
    };
    let _ = stream.set_write_timeout(Some(DATA_TIMEOUT));
    match io::copy(&mut file, &mut stream) {
        // Dropping `stream` closes the data connection: end of file.
        Ok(_) => "226 Transfer complete.".to_string(),
        Err(_) => "426 Transfer aborted.".to_string(),
    }
}

/// `h1,h2,h3,h4,p1,p2` → the address it names.
fn parse_port(argument: &str) -> Option<SocketAddr> {
    let numbers: Vec<u8> = argument
        .split(',')
        .map(|n| n.trim().parse().ok())
        .collect::<Option<_>>()?;
    let [h1, h2, h3, h4, p1, p2] = numbers[..] else {
        return None;
    };
    let port = u16::from(p1) * 256 + u16::from(p2);
    Some(SocketAddr::from((Ipv4Addr::new(h1, h2, h3, h4), port)))
}

/// Opens a plain file directly in the root. Only bare names are served
/// (no `/`, no `..`), which keeps this exercise clear of path tricks;
/// `jail_path` is the exercise about those.
fn open_in_root(root: &Path, name: &str) -> Option<File> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return None;
    }
    let path = root.join(name);
    let metadata = std::fs::symlink_metadata(&path).ok()?;
    if !metadata.is_file() {
        return None;
    }
    File::open(path).ok()
}
