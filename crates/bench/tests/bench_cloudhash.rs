//! `bench_cloudhash` in its smallest run, driving the real
//! `cloudhash_evented` and `cloudhash_hybrid` (built next to it by `cargo
//! test --workspace`): every workload against every server, in the
//! documented shape, and an honest note when Redis is not there.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::{contains, is_match};

const BIN: &str = env!("CARGO_BIN_EXE_bench_cloudhash");

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bench-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

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
fn a_smoke_run_measures_both_servers_on_every_workload() {
    require_sibling("cloudhash_evented");
    require_sibling("cloudhash_hybrid");
    let out = out_dir("cloudhash");
    let mut assert = Command::new(BIN)
        .args(["--smoke", "--no-redis", "--out"])
        .arg(&out)
        .timeout(test_support::TIMEOUT)
        .assert()
        .success()
        .stdout(contains(
            "| workload | server | requests/s | p50 µs | p99 µs | server CPU | generator CPU |\n\
             | --- | --- | ---: | ---: | ---: | ---: | ---: |\n",
        ))
        .stderr(contains("Redis: not run (--no-redis)"));
    for workload in [
        "SET, depth 1",
        "GET, depth 1",
        "SET, depth 16",
        "GET, depth 16",
    ] {
        for server in ["cloudhash_evented", "cloudhash_hybrid"] {
            let row = format!(
                r"\n\| {workload} \| {server} \| [\d,]+ \| [\d,.]+ \| [\d,.]+ \| \d\.\d\d \| \d\.\d\d \|\n"
            );
            assert = assert.stdout(is_match(row).unwrap());
        }
    }
    // Without Redis there is nothing to compare with, and no verdict.
    assert.stdout(contains("target:").not());

    let measured = out.join("measured");
    let section = fs::read_to_string(measured.join("cloudhash.md")).unwrap();
    assert!(section.starts_with("## CloudHash against Redis\n"));
    assert!(section.contains("](measured/cloudhash-throughput.svg)"));
    assert!(section.contains("](measured/cloudhash-p99.svg)"));
    for chart in ["cloudhash-throughput.svg", "cloudhash-p99.svg"] {
        let svg = fs::read_to_string(measured.join(chart)).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("cloudhash_hybrid"),
            "{chart}"
        );
    }
    fs::remove_dir_all(&out).unwrap();
}

#[test]
fn without_redis_it_says_how_to_install_it_and_measures_ours() {
    require_sibling("cloudhash_evented");
    require_sibling("cloudhash_hybrid");
    let out = out_dir("cloudhash-no-redis");
    Command::new(BIN)
        .args(["--smoke", "--out"])
        .arg(&out)
        .env("REDIS_SERVER", out.join("no-such-redis-server"))
        .timeout(test_support::TIMEOUT)
        .assert()
        .success()
        .stderr(contains(
            "`redis-server` is not installed (Debian/Ubuntu: `apt-get install redis-server`)",
        ))
        .stdout(contains("| GET, depth 16 | cloudhash_evented |"))
        .stdout(contains("| redis-server").not());
    let section = fs::read_to_string(out.join("measured/cloudhash.md")).unwrap();
    assert!(section.contains("`apt-get install redis-server`"));
    fs::remove_dir_all(&out).unwrap();
}
