//! Exercise (Network Architecture Patterns): keep an FTP client inside its root.
//!
//! This is a tiny serial FTP server that speaks just enough FTP to walk
//! around a directory tree: `USER`/`PASS` (230), `PWD` (257), `CWD dir`
//! (250 or 550), `SIZE file` (213 or 550), `QUIT` (221); anything else gets
//! 502. It serves the directory `FTP_ROOT` (default: the current directory)
//! as `/`.
//!
//! Everything works except the one function that matters for security,
//! [`resolve`]. As given, it glues the client's path onto the root, the way
//! the Ruby book's `File.join(pwd, options)` does, and so a client can walk
//! out with `CWD ..`, `SIZE /etc/passwd`-style absolute paths, or a symlink
//! in the root that points elsewhere — and `PWD` then shows it the server's
//! real directories.
//!
//! The contract the tests check:
//! - `resolve(root, cwd, requested)` returns the real, canonical path of
//!   `requested` if it exists and lies inside `root`, and `None` otherwise;
//! - `requested` is virtual: an absolute path starts at the root (`/sub` is
//!   `root/sub`), a relative one at the current directory `cwd` (relative
//!   to the root, `""` for `/`);
//! - `..` may go up, but never above `/` (`CWD ..` at `/` is 550);
//! - a symlink that leads out of the root is refused (550), one that stays
//!   inside is fine;
//! - `PWD` shows only virtual paths (`"/"`, `"/sub"`), never the real one.
//!
//! Run the tests with `just exercise jail_path`
//! (or `cargo test -p jail_path` inside `exercises/`).
//! Stuck? `just hint jail_path`.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use anyhow::Context;

/// The real path of `requested` (sent by a client whose current directory
/// is `cwd`, relative to `root`), or `None` if it does not exist or is
/// outside `root`. `root` is canonical.
fn resolve(root: &Path, cwd: &Path, requested: &[u8]) -> Option<PathBuf> {
    let requested = Path::new(OsStr::from_bytes(requested));
    // Lexically: absolute paths start at the root, relative ones at cwd,
    // and `..` may not pop past the root.
    let mut inside = if requested.has_root() {
        PathBuf::new()
    } else {
        cwd.to_path_buf()
    };
    for component in requested.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                if !inside.pop() {
                    return None;
                }
            }
            Component::Normal(name) => inside.push(name),
            Component::Prefix(_) => return None,
        }
    }
    // Then let the kernel follow every symlink, and check where we landed.
    let real = root.join(inside).canonicalize().ok()?;
    real.starts_with(root).then_some(real)
}

fn main() -> anyhow::Result<()> {
    let root = match std::env::var_os("FTP_ROOT") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_dir()?,
    };
    let root = root
        .canonicalize()
        .with_context(|| format!("FTP_ROOT={} does not exist", root.display()))?;

    // Shorthand for socket(2) + bind(2) + listen(2); see the Serial chapter.
    let addr = conventions::listen_addr("127.0.0.1")?;
    let listener = TcpListener::bind(addr).map_err(|err| conventions::bind_error(addr, err))?;
    conventions::announce(listener.local_addr()?);
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

/// One client's session, from greeting to QUIT or close.
fn serve(connection: TcpStream, root: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(connection.try_clone()?);
    let mut writer = connection;
    // The current directory, relative to the root ("" is "/").
    let mut cwd = PathBuf::new();
    writer.write_all(b"220 jail_path ready\r\n")?;
    loop {
        let mut line = Vec::new();
        // At most 4 KiB per line, so a flood cannot fill our memory.
        if (&mut reader).take(4096).read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_ascii_end();
        let (verb, argument) = match line.iter().position(|&b| b == b' ') {
            Some(space) => (&line[..space], &line[space + 1..]),
            None => (line, &b""[..]),
        };
        let reply = match verb.to_ascii_uppercase().as_slice() {
            b"USER" | b"PASS" => "230 Logged in anonymously.".to_string(),
            b"PWD" => format!("257 \"{}\" is the current directory.", shown(&cwd)),
            b"CWD" => match resolve(root, &cwd, argument) {
                Some(real) if real.is_dir() => {
                    cwd = real.strip_prefix(root).unwrap_or(&real).to_path_buf();
                    format!("250 Directory changed to {}.", shown(&cwd))
                }
                _ => "550 No such file or directory.".to_string(),
            },
            b"SIZE" => match resolve(root, &cwd, argument).map(std::fs::metadata) {
                Some(Ok(metadata)) if metadata.is_file() => format!("213 {}", metadata.len()),
                _ => "550 No such file or directory.".to_string(),
            },
            b"QUIT" => {
                writer.write_all(b"221 Goodbye.\r\n")?;
                return Ok(());
            }
            _ => "502 Command not implemented.".to_string(),
        };
        writer.write_all(format!("{reply}\r\n").as_bytes())?;
    }
}

/// How the client sees a directory relative to the root: `/`, `/sub`, …
fn shown(cwd: &Path) -> String {
    let shown = format!("/{}", cwd.display());
    // Line breaks in a name would end the reply early.
    shown.replace(['\r', '\n'], "?")
}
