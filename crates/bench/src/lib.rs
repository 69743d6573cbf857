//! Benchmarks that put numbers behind the book's claims, and write those
//! numbers into the book.
//!
//! Every benchmark is a binary in `src/bin/` (`bench_multiplex`,
//! `bench_nagle`, `bench_cloudhash`, …) and `bench_all` runs them one after
//! another. None of them is a test: they take seconds to minutes, and what
//! they measure depends on the machine. `just bench` builds in release mode,
//! runs them all and rewrites the book's results; `just bench-quick` runs a
//! short version (under two minutes) and leaves the book alone.
//!
//! Every load stays on loopback (127.0.0.1), is bounded in count and in time,
//! and stops by itself; every process a benchmark starts is stopped when it
//! ends, also when it fails.
//!
//! # What a benchmark writes
//!
//! A benchmark called `NAME` writes, under `OUT/measured/` (`OUT` is
//! `book/src` unless `--out` says otherwise):
//!
//! - `NAME.md`: its section of the *Measured* chapter (`book/src/measured.md`
//!   pulls it in with `{{#include measured/NAME.md}}`): what was measured
//!   and how, the machine and the date, tables, charts, and each target with
//!   its verdict;
//! - `NAME-table.md` (optional): a bare table that the chapter making the
//!   claim includes where the claim is made;
//! - `NAME*.svg`: its charts.
//!
//! The targets a section records are also written at its end as HTML
//! comments (which the book does not show), for the summary at the top of
//! the Measured chapter.
//!
//! [`report::Section`] builds all of that.
//!
//! # Adding a benchmark
//!
//! 1. Write `src/bin/bench_NAME.rs`: parse [`options::Options`] (`--quick`,
//!    `--smoke`, `--out`), measure with a [`progress`] bar, then fill a
//!    [`report::Section`] (tables from [`report::Table`], charts from
//!    [`chart`]) and [`report::Section::write`] it. Start servers with
//!    [`procs::ServerProcess`], which stops them on drop.
//! 2. Add one entry to `BENCHMARKS` in `src/bin/bench_all.rs`.
//! 3. Add `tests/bench_NAME.rs`: run the binary with `--smoke --out <temp
//!    dir>` and check the shape of what it prints and writes.

pub mod chart;
pub mod ftp_client;
pub mod ftp_load;
pub mod kv_load;
pub mod machine;
pub mod options;
pub mod proc_tree;
pub mod procs;
pub mod progress;
pub mod report;
pub mod stats;
