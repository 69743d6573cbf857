//! `bench_nagle` in its smallest run, driving the real `nagle` binary of the
//! framing crate (built next to it by `cargo test --workspace`): it must
//! read all three experiments and write them into its part of the book.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::str::is_match;

const BIN: &str = env!("CARGO_BIN_EXE_bench_nagle");

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bench-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

/// The benchmark runs the `nagle` binary built next to it.
fn require_sibling(name: &str) {
    let sibling = Path::new(BIN).with_file_name(name);
    assert!(
        sibling.is_file(),
        "{} is not built; run these tests with `cargo test --workspace` \
         (or `cargo test -p bench -p framing -p cloudhash`)",
        sibling.display()
    );
}

#[test]
fn a_smoke_run_reports_the_three_experiments() {
    require_sibling("nagle");
    let out = out_dir("nagle");
    let row = |writes: &str, nodelay: &str| {
        format!(r"\n\| {writes} \| {nodelay} \| \d+\.\d{{3}} ms \| \d+\.\d{{3}} ms \|")
    };
    Command::new(BIN)
        .args(["--smoke", "--out"])
        .arg(&out)
        .timeout(test_support::TIMEOUT)
        .assert()
        .success()
        .stdout(
            is_match(format!(
                r"^\| the request is sent as \| `TCP_NODELAY` \| median round trip \| 90th percentile \|\n\| --- \| --- \| ---: \| ---: \|{}{}{}\n",
                row("two writes", "off"),
                row("two writes", "on"),
                row("one write", "off"),
            ))
            .unwrap(),
        );
    let measured = out.join("measured");
    let section = fs::read_to_string(measured.join("nagle.md")).unwrap();
    assert!(section.starts_with("## Nagle's algorithm and delayed ACK\n"));
    assert!(section.contains("`ROUNDS=3 nagle`"));
    assert!(section.contains("](measured/nagle.svg)"));
    let table = fs::read_to_string(measured.join("nagle-table.md")).unwrap();
    assert!(table.contains("| two writes | on |"));
    assert!(
        fs::read_to_string(measured.join("nagle.svg"))
            .unwrap()
            .starts_with("<svg")
    );
    fs::remove_dir_all(&out).unwrap();
}
