//! `bench_architectures` in its smallest run, driving the seven real FTP
//! servers of `ftp-architectures` (built next to it by `cargo test
//! --workspace`): a row for every server and client count, in the
//! documented shape, and its part of the book where it is told to write it.
//! The figures themselves are not checked (no timed assertions).

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::str::{contains, is_match};

const BIN: &str = env!("CARGO_BIN_EXE_bench_architectures");

const SERVERS: [&str; 7] = [
    "serial",
    "process_per_connection",
    "thread_per_connection",
    "preforking",
    "thread_pool",
    "evented",
    "hybrid",
];

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bench-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn require_siblings() {
    for server in SERVERS {
        let sibling = Path::new(BIN).with_file_name(server);
        assert!(
            sibling.is_file(),
            "{} is not built; run these tests with `cargo test --workspace` \
             (or `cargo test -p bench -p ftp-architectures`)",
            sibling.display()
        );
    }
}

#[test]
fn a_smoke_run_measures_every_server_and_writes_its_section() {
    require_siblings();
    let out = out_dir("architectures");
    let mut assert = Command::new(BIN)
        .args(["--smoke", "--out"])
        .arg(&out)
        // Fourteen servers started and stopped in turn: more than one
        // server's start-up time.
        .timeout(test_support::TIMEOUT * 3)
        .assert()
        .success()
        .stdout(contains(
            "| server | clients | requests/s | p50 µs | p99 µs | wait for 220, p99 ms | served \
             | memory MiB | PSS MiB | processes | threads | server CPU | generator CPU |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        ));
    let figure = r"[\d,.]+";
    for clients in [1, 8] {
        for server in SERVERS {
            // Every client was served at least once, and every figure is there.
            let row = format!(
                r"\n\| {server} \| {clients} \| {figure} \| {figure} \| {figure} \| {figure} \| {clients} \| {figure} \| {figure} \| \d+ \| \d+ \| \d\.\d\d \| \d\.\d\d \|\n"
            );
            assert = assert.stdout(is_match(row).unwrap());
        }
    }
    // A reactor is one process with one thread, whatever the load.
    assert = assert.stdout(is_match(r"\n\| evented \| 8 \|( [^|]+ \|){7} 1 \| 1 \|").unwrap());
    drop(assert);

    let measured = out.join("measured");
    let section = fs::read_to_string(measured.join("architectures.md")).unwrap();
    assert!(section.starts_with("## Seven FTP architectures under load\n"));
    assert!(
        section.contains("No client saw a refusal") || section.contains("Failures seen"),
        "{section}"
    );
    for chart in [
        "throughput",
        "p50",
        "p99",
        "wait",
        "memory",
        "processes",
        "threads",
    ] {
        let file = format!("architectures-{chart}.svg");
        assert!(section.contains(&format!("](measured/{file})")), "{file}");
        let svg = fs::read_to_string(measured.join(&file)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("hybrid"), "{file}");
    }
    let table = fs::read_to_string(measured.join("architectures-table.md")).unwrap();
    assert!(table.starts_with("| server | requests/s |"));
    assert!(table.contains("| thread_pool |"));
    fs::remove_dir_all(&out).unwrap();
}
