use std::fs;
use std::io::Write;
use std::net::TcpStream;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use test_support::{Server, read_line};

const BIN: &str = env!("CARGO_BIN_EXE_jail_path");

/// A temporary `root/` (served) beside an `outside/` that must stay out of
/// reach, removed on drop:
///
/// ```text
/// root/hello.txt, root/sub/inner.txt
/// root/inside_link -> sub                      (stays inside: allowed)
/// root/escape_dir  -> <tmp>/outside            (leads out)
/// root/escape_file -> ../outside/secret.txt    (leads out)
/// outside/secret.txt
/// ```
struct Tree {
    dir: PathBuf,
    root: PathBuf,
}

impl Tree {
    fn new() -> Tree {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "jail_path-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        let root = dir.join("root");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::create_dir_all(dir.join("outside")).unwrap();
        fs::write(root.join("hello.txt"), "hello\n").unwrap();
        fs::write(root.join("sub/inner.txt"), "inner\n").unwrap();
        fs::write(dir.join("outside/secret.txt"), "top secret\n").unwrap();
        symlink("sub", root.join("inside_link")).unwrap();
        symlink(dir.join("outside"), root.join("escape_dir")).unwrap();
        symlink("../outside/secret.txt", root.join("escape_file")).unwrap();
        let root = root.canonicalize().unwrap();
        Tree { dir, root }
    }

    fn start(&self) -> Server {
        let mut command = Command::new(BIN);
        command.env("PORT", "0").env("FTP_ROOT", &self.root);
        Server::start_command(command)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

struct Ftp {
    control: TcpStream,
    transcript: String,
}

impl Ftp {
    fn connect(server: &Server) -> Ftp {
        let mut control = server.connect();
        let greeting = read_line(&mut control);
        assert!(greeting.starts_with("220 "), "{greeting:?}");
        Ftp {
            control,
            transcript: String::new(),
        }
    }

    /// Sends a command and returns its reply without the CRLF.
    fn cmd(&mut self, line: &str) -> String {
        self.control
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
        let reply = read_line(&mut self.control);
        self.transcript.push_str(&reply);
        reply.trim_end().to_string()
    }

    fn code(&mut self, line: &str) -> String {
        self.cmd(line)[..3].to_string()
    }
}

#[test]
fn walks_around_inside_the_root() {
    let tree = Tree::new();
    let server = tree.start();
    let mut ftp = Ftp::connect(&server);
    assert_eq!(ftp.cmd("PWD"), "257 \"/\" is the current directory.");
    assert_eq!(ftp.cmd("SIZE hello.txt"), "213 6");
    assert_eq!(ftp.cmd("CWD sub"), "250 Directory changed to /sub.");
    assert_eq!(ftp.cmd("PWD"), "257 \"/sub\" is the current directory.");
    assert_eq!(ftp.cmd("SIZE inner.txt"), "213 6");
    assert_eq!(ftp.cmd("SIZE ../hello.txt"), "213 6");
    assert_eq!(ftp.cmd("CWD .."), "250 Directory changed to /.");
    assert_eq!(ftp.cmd("SIZE /sub/inner.txt"), "213 6");
    assert_eq!(ftp.cmd("SIZE ./sub/../sub/./inner.txt"), "213 6");
    assert_eq!(ftp.cmd("SIZE nope.txt"), "550 No such file or directory.");
}

#[test]
fn dot_dot_cannot_climb_above_the_root() {
    let tree = Tree::new();
    let server = tree.start();
    let mut ftp = Ftp::connect(&server);
    for line in [
        "CWD ..",
        "CWD /..",
        "CWD ../..",
        "CWD sub/../..",
        "SIZE ../outside/secret.txt",
        "SIZE /../outside/secret.txt",
    ] {
        assert_eq!(ftp.code(line), "550", "{line}");
    }
    assert_eq!(ftp.cmd("PWD"), "257 \"/\" is the current directory.");
    ftp.cmd("CWD sub");
    assert_eq!(ftp.code("SIZE ../../outside/secret.txt"), "550");
    assert_eq!(ftp.code("CWD ../../outside"), "550");
    assert_eq!(ftp.cmd("PWD"), "257 \"/sub\" is the current directory.");
}

#[test]
fn absolute_paths_start_at_the_root() {
    let tree = Tree::new();
    let server = tree.start();
    let mut ftp = Ftp::connect(&server);
    let secret = tree.dir.join("outside/secret.txt");
    assert_eq!(ftp.code(&format!("SIZE {}", secret.display())), "550");
    assert_eq!(ftp.code(&format!("CWD {}", tree.dir.display())), "550");
    assert_eq!(ftp.code("CWD /etc"), "550");
    assert_eq!(ftp.cmd("CWD /sub"), "250 Directory changed to /sub.");
    assert_eq!(ftp.cmd("SIZE /hello.txt"), "213 6");
    assert_eq!(ftp.cmd("CWD /"), "250 Directory changed to /.");
}

#[test]
fn symlinks_leading_out_are_refused() {
    let tree = Tree::new();
    let server = tree.start();
    let mut ftp = Ftp::connect(&server);
    assert_eq!(ftp.code("CWD escape_dir"), "550");
    assert_eq!(ftp.code("SIZE escape_file"), "550");
    assert_eq!(ftp.code("SIZE escape_dir/secret.txt"), "550");
    // A link that stays inside the root is fine.
    assert_eq!(ftp.code("CWD inside_link"), "250");
    assert_eq!(ftp.cmd("SIZE inner.txt"), "213 6");
}

#[test]
fn pwd_never_shows_the_real_path() {
    let tree = Tree::new();
    let server = tree.start();
    let mut ftp = Ftp::connect(&server);
    for line in [
        "CWD ..",
        "CWD /etc",
        "CWD escape_dir",
        "CWD sub",
        "PWD",
        "CWD /",
        "PWD",
    ] {
        ftp.cmd(line);
    }
    let real = tree.dir.display().to_string();
    assert!(!ftp.transcript.contains(&real), "{}", ftp.transcript);
    assert!(!ftp.transcript.contains("/.."), "{}", ftp.transcript);
    assert!(!ftp.transcript.contains("outside"), "{}", ftp.transcript);
}
