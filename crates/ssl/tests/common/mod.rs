//! What the ssl tests share: a scratch directory per test for the PEM files,
//! starting a server that writes its certificate there, and waiting for a
//! line on a server's stderr.

#![allow(dead_code)] // each test file uses a different part of this

use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use test_support::{Server, TIMEOUT};

/// A fresh, empty directory for one test's files, under cargo's scratch
/// space for integration tests.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts `bin` with PORT=0, `CERT_FILE` and `CLIENT_CERT` in `dir`, and
/// the extra environment `envs`.
pub fn start_in(bin: &str, dir: &Path, envs: &[(&str, &str)]) -> Server {
    let mut command = Command::new(bin);
    command
        .env("PORT", "0")
        .env("CERT_FILE", dir.join("cert.pem"))
        .env("CLIENT_CERT", dir.join("client.pem"))
        .env("RUST_BACKTRACE", "0")
        .envs(envs.iter().copied());
    Server::start_command(command)
}

/// Waits until the server's stderr contains `needle` and returns all of it.
/// Fails the test if it does not within [`TIMEOUT`].
pub fn wait_for_stderr(server: &Server, needle: &str) -> String {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let stderr = server.stderr();
        if stderr.contains(needle) {
            return stderr;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} on the server's stderr within {TIMEOUT:?}; stderr:\n{stderr}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}
