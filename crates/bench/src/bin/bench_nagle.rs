//! The Nagle's Algorithm chapter's figures: runs the chapter's own `nagle`
//! binary (built next to this one) with more rounds, and writes what it
//! reports into the book.
//!
//! `nagle` times request/reply round trips on loopback three ways: the
//! request in two writes with Nagle's algorithm on, the same with
//! `TCP_NODELAY`, and the request in one write. This benchmark does not
//! measure anything itself: the experiment is the chapter's code, exactly as
//! a reader runs it, so the book and the binary cannot drift apart.
//!
//! Run it: `cargo build --release -p framing --bin nagle`, then
//! `cargo run --release -p bench --bin bench_nagle` (`--quick`: 20 rounds).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench::chart::{BarChart, Chart};
use bench::options::Options;
use bench::report::{Section, Table};
use bench::stats::thousands;

/// One line of `nagle`'s report.
struct Experiment {
    /// `two writes`, `one write`.
    writes: String,
    /// `on` or `off`, as read back from the kernel.
    nodelay: String,
    median_ms: f64,
    p90_ms: f64,
    /// The two figures as `nagle` printed them (three decimals).
    printed: [String; 2],
}

fn main() -> anyhow::Result<()> {
    let options = Options::parse(&[], "")?;
    let rounds: u32 = options.mode.pick(100, 20, 3);
    let nagle = bench::procs::sibling_binary("nagle")?;

    let bar = bench::progress::bar("nagle", 3);
    bar.set_message(format!("{rounds} round trips each"));
    let mut child = Command::new(&nagle)
        .env("ROUNDS", rounds.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", nagle.display()))?;
    let stdout = child.stdout.take().context("piped stdout")?;
    let (lines_tx, lines_rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });

    // Each round trip of the slow experiment takes about 44 ms; allow ten
    // times that before calling `nagle` stuck.
    let deadline =
        Instant::now() + Duration::from_millis(500 * u64::from(rounds)) + Duration::from_secs(20);
    let mut experiments = Vec::new();
    while experiments.len() < 3 {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = lines_rx.recv_timeout(left) else {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "nagle stopped reporting after {} experiments",
                experiments.len()
            );
        };
        if let Some(experiment) = parse(&line)? {
            experiments.push(experiment);
            bar.inc(1);
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("nagle exited with {status}");
    }
    bar.finish_and_clear();

    let mut section = Section::new(&options, "nagle", "Nagle's algorithm and delayed ACK");
    section.paragraph(&format!(
        "`bench_nagle` runs the chapter's own binary, `ROUNDS={rounds} nagle` (release build), \
         and reports what it prints: the time of one request/reply round trip on loopback \
         when the 21-byte request (a 4-byte length, then a 17-byte body) goes out in two \
         writes with Nagle's algorithm on, in two writes with `TCP_NODELAY`, and in one \
         write. The first waits for the peer's delayed ACK on every round trip."
    ));
    let mut table = Table::new(&[
        "the request is sent as",
        "`TCP_NODELAY`",
        "median round trip",
        "90th percentile",
    ])
    .text_columns(2);
    for experiment in &experiments {
        table.row(vec![
            experiment.writes.clone(),
            experiment.nodelay.clone(),
            format!("{} ms", experiment.printed[0]),
            format!("{} ms", experiment.printed[1]),
        ]);
    }
    section.table(&table);
    if let [stalled, nodelay, one_write] = &experiments[..] {
        section.paragraph(&format!(
            "With Nagle's algorithm on, the second small write waits for the ACK of the first, \
             which the peer delays: the median round trip is {} ms, about {}× the {} ms of the \
             same two writes with `TCP_NODELAY` and about {}× the {} ms of one write.",
            stalled.printed[0],
            roughly(stalled.median_ms / nodelay.median_ms),
            nodelay.printed[0],
            roughly(stalled.median_ms / one_write.median_ms),
            one_write.printed[0],
        ));
    }
    section.chart(
        "nagle.svg",
        "Round-trip time per way of writing the request, log scale: two writes with Nagle on take about 40 ms, the others a few µs",
        &Chart::Bars(BarChart {
            title: format!("One request/reply round trip on loopback ({rounds} rounds)"),
            y_label: "ms (log scale)".into(),
            log_y: true,
            groups: experiments
                .iter()
                .map(|e| format!("{}, NODELAY {}", e.writes, e.nodelay))
                .collect(),
            series: vec![
                ("median".into(), experiments.iter().map(|e| e.median_ms).collect()),
                ("p90".into(), experiments.iter().map(|e| e.p90_ms).collect()),
            ],
        }),
    )?;
    section.chapter_table(
        &table,
        &format!("`ROUNDS={rounds} nagle`, release build, loopback."),
    );
    section.write()?;
    Ok(())
}

/// A ratio to one significant digit (`7333.2` → `7,000`): the small
/// figures it divides by have about one.
fn roughly(ratio: f64) -> String {
    let magnitude = 10f64.powf(ratio.log10().floor());
    thousands((ratio / magnitude).round() * magnitude)
}

/// Parses `two writes, TCP_NODELAY off: median  43.986 ms, p90  44.127 ms
/// over 20 round trips`; `None` for `nagle`'s other lines.
fn parse(line: &str) -> anyhow::Result<Option<Experiment>> {
    let Some((label, figures)) = line.split_once(':') else {
        return Ok(None);
    };
    let Some(figures) = figures.trim_start().strip_prefix("median") else {
        return Ok(None);
    };
    let Some((writes, nodelay)) = label.split_once(", TCP_NODELAY ") else {
        bail!("unexpected line from nagle: {line:?}");
    };
    let numbers: Vec<(&str, f64)> = figures
        .split_whitespace()
        .map(|word| word.trim_end_matches(','))
        .filter_map(|word| Some((word, word.parse().ok()?)))
        .collect();
    let [(median, median_ms), (p90, p90_ms), _rounds] = numbers[..] else {
        bail!("unexpected line from nagle: {line:?}");
    };
    Ok(Some(Experiment {
        writes: writes.trim().to_string(),
        nodelay: nodelay.trim().to_string(),
        median_ms,
        p90_ms,
        printed: [median.to_string(), p90.to_string()],
    }))
}
