//! `bench_c10k` in its smallest run (200 idle connections instead of
//! 10,000), against the real `evented`, `hybrid` and
//! `thread_per_connection` (built next to it by `cargo test --workspace`):
//! every server holds every idle connection, the table has the documented
//! shape, and the targets are judged. The figures themselves are not
//! checked (no timed assertions).

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::str::{contains, is_match};

const BIN: &str = env!("CARGO_BIN_EXE_bench_c10k");

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bench-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_smoke_run_holds_the_idle_connections_on_all_three_servers() {
    for server in ["evented", "hybrid", "thread_per_connection"] {
        let sibling = Path::new(BIN).with_file_name(server);
        assert!(
            sibling.is_file(),
            "{} is not built; run these tests with `cargo test --workspace` \
             (or `cargo test -p bench -p ftp-architectures`)",
            sibling.display()
        );
    }
    let out = out_dir("c10k");
    let figure = r"[\d,.]+";
    let mut assert = Command::new(BIN)
        .args(["--smoke", "--out"])
        .arg(&out)
        .timeout(test_support::TIMEOUT * 3)
        .assert()
        .success()
        .stdout(contains(
            "| server | idle held | time to open | memory MiB, none / holding | KiB per connection \
             | kernel stacks MiB | processes | threads | p50 / p99 µs, alone \
             | p50 / p99 / max µs, holding | still answering |\n",
        ));
    for server in ["evented", "hybrid", "thread_per_connection"] {
        // All 200 held and still answering at the end.
        let row = format!(
            r"\n\| {server} \| 200 \| \d+\.\d\d s \| {figure} / {figure} \| -?{figure} \| -?{figure} \| \d+ \| [\d,]+ \| {figure} / {figure} \| {figure} / {figure} / {figure} \| 200 \|\n"
        );
        assert = assert.stdout(is_match(row).unwrap());
    }
    // A thread per idle client, and the main thread (and perhaps, for a
    // moment, threads of the active clients that just left).
    assert = assert.stdout(is_match(r"\| 1 \| 2(0[1-9]|1[01]) \|").unwrap());
    assert
        .stdout(is_match(r"target: `evented` holds 200 connections with p99 NOOP latency under 10 ms: 200 idle \+ 10 active held, p99 [\d.]+ ms: (met|missed)\n").unwrap())
        .stdout(contains("target: `hybrid` holds 200 connections"));

    let measured = out.join("measured");
    let section = fs::read_to_string(measured.join("c10k.md")).unwrap();
    assert!(section.starts_with("## C10K: ten thousand idle connections\n"));
    for chart in ["c10k-p99.svg", "c10k-memory.svg"] {
        assert!(section.contains(&format!("](measured/{chart})")), "{chart}");
        let svg = fs::read_to_string(measured.join(chart)).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("thread_per_connection"),
            "{chart}"
        );
    }
    assert!(section.contains("<!-- target\t`evented` holds 200 connections"));
    assert!(
        fs::read_to_string(measured.join("c10k-table.md"))
            .unwrap()
            .contains("| hybrid | 200 |")
    );
    fs::remove_dir_all(&out).unwrap();
}
