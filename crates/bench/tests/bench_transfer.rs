//! `bench_transfer` in its smallest run (a 4 MiB file), downloading from
//! the real `evented` and `thread_pool` (built next to it by `cargo test
//! --workspace`) in both modes: the shape of the table, the targets, the
//! book files, the temporary file removed, and an honest note when vsftpd
//! is not there. The figures themselves are not checked (no timed
//! assertions); every download's byte count is (the benchmark fails on a
//! short one).

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::{contains, is_match};

const BIN: &str = env!("CARGO_BIN_EXE_bench_transfer");

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bench-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn require_siblings() {
    for server in ["evented", "thread_pool"] {
        let sibling = Path::new(BIN).with_file_name(server);
        assert!(
            sibling.is_file(),
            "{} is not built; run these tests with `cargo test --workspace` \
             (or `cargo test -p bench -p ftp-architectures`)",
            sibling.display()
        );
    }
}

const HEADER: &str = "| sender | mode | MB/s (median) | best | share of the limit |\n\
                      | --- | --- | ---: | ---: | ---: |\n\
                      | loopback limit (sendfile → discard) | — | ";

fn row(server: &str, mode: &str) -> predicates::str::RegexPredicate {
    is_match(format!(
        r"\n\| {server} \| {mode} \| [\d,]+ \| [\d,]+ \| \d+% \|\n"
    ))
    .unwrap()
}

#[test]
fn a_smoke_run_downloads_from_both_servers_in_both_modes() {
    require_siblings();
    let out = out_dir("transfer");
    let mut assert = Command::new(BIN)
        .args(["--smoke", "--no-vsftpd", "--out"])
        .arg(&out)
        .timeout(test_support::TIMEOUT)
        .assert()
        .success()
        .stdout(contains(HEADER))
        .stderr(contains("vsftpd: not run (--no-vsftpd)"));
    for server in ["evented", "thread_pool"] {
        for mode in ["passive", "active"] {
            assert = assert.stdout(row(server, mode));
        }
    }
    // Without vsftpd there is one target, not two.
    assert
        .stdout(is_match(r"target: RETR reaches at least 90% of the loopback limit measured in the same run: evented passive \d+%, evented active \d+%, thread_pool passive \d+%, thread_pool active \d+% \(limit [\d,]+ MB/s\): (met|missed)\n").unwrap())
        .stdout(contains("vsftpd's rate").not());

    let measured = out.join("measured");
    let section = fs::read_to_string(measured.join("transfer.md")).unwrap();
    assert!(section.starts_with("## File transfer: RETR against the loopback limit and vsftpd\n"));
    assert!(section.contains("one 4 MiB file"));
    assert!(section.contains("](measured/transfer.svg)"));
    let svg = fs::read_to_string(measured.join("transfer.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("thread_pool"));
    assert!(
        fs::read_to_string(measured.join("transfer-table.md"))
            .unwrap()
            .starts_with("| sender | passive MB/s | active MB/s |\n")
    );
    fs::remove_dir_all(&out).unwrap();
}

#[test]
fn without_vsftpd_it_says_how_to_install_it_and_measures_ours() {
    require_siblings();
    let out = out_dir("transfer-no-vsftpd");
    Command::new(BIN)
        .args(["--smoke", "--out"])
        .arg(&out)
        .env("VSFTPD", out.join("no-such-vsftpd"))
        .timeout(test_support::TIMEOUT)
        .assert()
        .success()
        .stderr(contains(
            "`vsftpd` is not installed (Debian/Ubuntu: `apt-get install vsftpd`",
        ))
        .stdout(row("evented", "passive"))
        .stdout(contains("| vsftpd").not());
    let section = fs::read_to_string(out.join("measured/transfer.md")).unwrap();
    assert!(section.contains("`apt-get install vsftpd`"));
    fs::remove_dir_all(&out).unwrap();
}

/// Only where vsftpd is installed (`apt-get install vsftpd`): the benchmark
/// starts its own on loopback and downloads the same file from it.
#[test]
fn with_vsftpd_installed_it_downloads_from_vsftpd_too() {
    require_siblings();
    let installed = [
        "/usr/sbin/vsftpd",
        "/usr/bin/vsftpd",
        "/usr/local/sbin/vsftpd",
    ]
    .iter()
    .any(|path| Path::new(path).is_file());
    if !installed {
        eprintln!("vsftpd is not installed: nothing to compare with, skipped");
        return;
    }
    let out = out_dir("transfer-vsftpd");
    Command::new(BIN)
        .args(["--smoke", "--out"])
        .arg(&out)
        .env_remove("VSFTPD")
        .timeout(test_support::TIMEOUT)
        .assert()
        .success()
        .stdout(row("vsftpd", "passive"))
        .stdout(row("vsftpd", "active"))
        .stdout(is_match(r"target: RETR at least matches vsftpd's rate \(same file, same client, same mode\): evented passive [\d.]+×, evented active [\d.]+×, thread_pool passive [\d.]+×, thread_pool active [\d.]+× \(vsftpd [\d,]+ / [\d,]+ MB/s passive / active\): (met|missed)\n").unwrap());
    let section = fs::read_to_string(out.join("measured/transfer.md")).unwrap();
    assert!(section.contains("vsftpd 3.") || section.contains("vsftpd unknown version"));
    fs::remove_dir_all(&out).unwrap();
}
