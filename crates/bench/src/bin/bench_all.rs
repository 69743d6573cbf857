//! Runs every benchmark, one after another, and writes the *Measured*
//! chapter (`book/src/measured.md`) around their sections.
//!
//! Each benchmark is a binary of this crate, built next to this one; each
//! writes its own section (`measured/NAME.md`), charts and the tables other
//! chapters include, and shows its own progress bar. This driver runs them
//! with the same options (`--quick`, `--smoke`, `--out DIR`), then writes
//! the chapter: the machine, how to rerun, a summary of every target, and
//! an `{{#include}}` of each section. A benchmark that fails is reported,
//! the others still run, and the exit status says so.
//!
//! Run it: `just bench`, or `cargo run --release -p bench --bin bench_all`
//! after `cargo build --release -p bench -p cloudhash -p framing -p ftp-architectures`.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use bench::machine::{Machine, today};
use bench::options::Options;
use bench::procs::sibling_binary;
use bench::report::read_targets;

/// One benchmark: its binary and the section it writes.
struct Benchmark {
    /// `bench_multiplex`: a binary of this crate.
    bin: &'static str,
    /// `multiplex`: it writes `measured/multiplex.md`.
    section: &'static str,
}

/// Every benchmark, in the order of the chapter. Adding one is adding its
/// binary and a line here.
const BENCHMARKS: &[Benchmark] = &[
    Benchmark {
        bin: "bench_multiplex",
        section: "multiplex",
    },
    Benchmark {
        bin: "bench_nagle",
        section: "nagle",
    },
    Benchmark {
        bin: "bench_cloudhash",
        section: "cloudhash",
    },
    Benchmark {
        bin: "bench_architectures",
        section: "architectures",
    },
    Benchmark {
        bin: "bench_c10k",
        section: "c10k",
    },
    Benchmark {
        bin: "bench_transfer",
        section: "transfer",
    },
];

fn main() -> anyhow::Result<()> {
    let options = Options::parse(&[], "")?;
    let machine = Machine::detect();
    let started = Instant::now();
    let mut failed = Vec::new();
    for (i, benchmark) in BENCHMARKS.iter().enumerate() {
        println!("== [{}/{}] {} ==", i + 1, BENCHMARKS.len(), benchmark.bin);
        let begun = Instant::now();
        let mut command = Command::new(sibling_binary(benchmark.bin)?);
        command
            .args(options.mode.flag())
            .arg("--out")
            .arg(&options.out);
        let status = command
            .status()
            .with_context(|| format!("running {}", benchmark.bin))?;
        println!(
            "== {} {} in {:.1} s ==\n",
            benchmark.bin,
            if status.success() { "done" } else { "FAILED" },
            begun.elapsed().as_secs_f64()
        );
        if !status.success() {
            failed.push(benchmark.bin);
        }
    }

    let chapter = chapter(&options, &machine);
    let path = options.out.join("measured.md");
    std::fs::write(&path, chapter).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    println!(
        "all benchmarks ({}) in {:.1} s",
        options.mode,
        started.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        bail!("failed: {}", failed.join(", "));
    }
    Ok(())
}

/// The Measured chapter: an introduction, a summary of the targets, and
/// every section that exists.
fn chapter(options: &Options, machine: &Machine) -> String {
    let mut text = String::from("# Measured\n\n");
    text.push_str(
        "The book claims that select gets slower with every idle connection and epoll does not, \
         that Nagle's algorithm can stall a request for 40 ms, that a single-threaded event \
         loop can serve key-value requests as fast as Redis, that the architectures of Part 3 \
         differ in what each client costs, that a reactor holds ten thousand idle connections, \
         and that `sendfile(2)` takes a download to the loopback limit. This chapter puts \
         numbers behind those claims. Every figure comes from a benchmark in the `bench` crate \
         (`crates/bench/src/bin/`), run on loopback only; the chapters that make a claim include \
         the table that backs it.\n\n",
    );
    let _ = writeln!(
        text,
        "Last run of `bench_all`: {} ({}), on {}. Each section says when it was measured. \
         Figures from another machine will differ; the shapes should not.\n",
        today(),
        options.mode,
        machine.describe()
    );
    text.push_str(
        "## Running the benchmarks\n\n\
         ```sh\n\
         just bench          # release build, every benchmark, rewrites this chapter (about 6 minutes)\n\
         just bench-quick    # the same, shorter (under 2 minutes); writes to target/bench-quick, not the book\n\
         ```\n\n\
         One benchmark alone, after \
         `cargo build --release -p bench -p cloudhash -p framing -p ftp-architectures`: \
         `cargo run --release -p bench --bin bench_multiplex` (or `bench_nagle`, \
         `bench_cloudhash`, `bench_architectures`, `bench_c10k`, `bench_transfer`); add \
         `--quick` for a short run, `--out DIR` to write somewhere other than the book. \
         `bench_cloudhash` compares with Redis when `redis-server` is installed \
         (Debian/Ubuntu: `apt-get install redis-server`; the benchmark starts and stops its own, \
         on loopback, with persistence off), and `bench_transfer` with vsftpd when `vsftpd` is \
         (`apt-get install vsftpd`; likewise started by the benchmark, on loopback, with a \
         configuration file of its own).\n\n",
    );

    let measured = options.measured_dir();
    let mut summary = String::new();
    for benchmark in BENCHMARKS {
        for target in read_targets(&measured.join(format!("{}.md", benchmark.section))) {
            let _ = writeln!(
                summary,
                "| {} | {} | {} |",
                target.what,
                target.measured,
                if target.met { "met" } else { "**missed**" }
            );
        }
    }
    if !summary.is_empty() {
        text.push_str("## Targets\n\n| target | measured | |\n| --- | --- | --- |\n");
        text.push_str(&summary);
        text.push('\n');
    }
    for benchmark in BENCHMARKS {
        if measured.join(format!("{}.md", benchmark.section)).is_file() {
            let _ = writeln!(text, "{{{{#include measured/{}.md}}}}\n", benchmark.section);
        }
    }
    text
}
