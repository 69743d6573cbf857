//! `bench_multiplex` in its smallest run: it must time all three calls,
//! report in the documented shape and write its part of the book where it
//! is told to. The figures themselves are not checked (no timed assertions).

use std::fs;
use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::{contains, is_match};

const BIN: &str = env!("CARGO_BIN_EXE_bench_multiplex");

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bench-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_smoke_run_reports_every_call_and_writes_its_section() {
    let out = out_dir("multiplex");
    let figure = r"\d[\d,.]* \(\d[\d,.]*\)";
    Command::new(BIN)
        .args(["--smoke", "--out"])
        .arg(&out)
        .timeout(test_support::TIMEOUT)
        .assert()
        .success()
        .stdout(contains(
            "| idle connections | select | poll | epoll |\n| --- | ---: | ---: | ---: |\n",
        ))
        .stdout(is_match(format!(r"\n\| 10 \| {figure} \| {figure} \| {figure} \|\n")).unwrap())
        .stdout(is_match(format!(r"\n\| 100 \| {figure} \| {figure} \| {figure} \|\n")).unwrap())
        // A smoke run stops at 100 connections, so it cannot meet the target.
        .stdout(contains(
            "target: epoll's wait cost stays flat (within 2×) from 10 to 10,000 idle descriptors: medians from",
        ))
        .stdout(contains("over 10 to 100 idle").and(contains(": missed\n")));

    let measured = out.join("measured");
    let section = fs::read_to_string(measured.join("multiplex.md")).unwrap();
    assert!(section.starts_with(
        "## Multiplexing: what one wait costs as idle connections grow\n\n*Measured "
    ));
    assert!(section.contains("(smoke run)"));
    assert!(section.contains("](measured/multiplex.svg)"));
    assert!(section.contains("**Targets**\n\n- epoll's wait cost"));
    let table = fs::read_to_string(measured.join("multiplex-table.md")).unwrap();
    assert!(table.starts_with("| idle connections | select | poll | epoll |\n"));
    let svg = fs::read_to_string(measured.join("multiplex.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("epoll"));
    assert!(section.ends_with("\tmissed -->\n"));
    fs::remove_dir_all(&out).unwrap();
}

#[test]
fn refuses_an_unknown_argument() {
    Command::new(BIN)
        .arg("--fast")
        .timeout(test_support::TIMEOUT)
        .assert()
        .failure()
        .stderr(contains("unknown argument \"--fast\""))
        .stderr(contains("panicked").not());
}
