//! `bench_all --smoke`: runs every benchmark and writes the Measured
//! chapter around their sections.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::str::contains;

const BIN: &str = env!("CARGO_BIN_EXE_bench_all");

#[test]
fn a_smoke_run_writes_the_chapter_with_every_section() {
    for sibling in ["nagle", "cloudhash_evented", "cloudhash_hybrid", "evented"] {
        assert!(
            Path::new(BIN).with_file_name(sibling).is_file(),
            "{sibling} is not built; run these tests with `cargo test --workspace` \
             (or `cargo test -p bench -p framing -p cloudhash -p ftp-architectures`)"
        );
    }
    let out = std::env::temp_dir().join(format!("bench-test-{}-all", std::process::id()));
    let _ = fs::remove_dir_all(&out);
    Command::new(BIN)
        .args(["--smoke", "--out"])
        .arg(&out)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .success()
        .stdout(contains("== [1/"))
        .stdout(contains("] bench_multiplex ==\n"))
        .stdout(contains("== bench_nagle done in "))
        .stdout(contains("== bench_cloudhash done in "))
        .stdout(contains("all benchmarks (smoke run) in "));
    let chapter = fs::read_to_string(out.join("measured.md")).unwrap();
    assert!(chapter.starts_with("# Measured\n\n"));
    assert!(chapter.contains("(smoke run)"));
    assert!(chapter.contains("## Targets\n\n| target | measured | |\n"));
    assert!(chapter.contains("| epoll's wait cost stays flat"));
    let includes: Vec<&str> = chapter
        .lines()
        .filter(|line| line.starts_with("{{#include"))
        .collect();
    // Every benchmark's section, in the order of BENCHMARKS (these three
    // among them).
    let position = |section: &str| {
        let line = format!("{{{{#include measured/{section}.md}}}}");
        includes
            .iter()
            .position(|include| *include == line)
            .unwrap_or_else(|| panic!("no {line} in {includes:?}"))
    };
    assert!(position("multiplex") < position("nagle"));
    assert!(position("nagle") < position("cloudhash"));
    for section in ["multiplex.md", "nagle.md", "cloudhash.md"] {
        assert!(out.join("measured").join(section).is_file(), "{section}");
    }
    fs::remove_dir_all(&out).unwrap();
}
