//! Progress bars (indicatif) in one style for every benchmark.
//!
//! They draw on stderr and only when stderr is a terminal, so a benchmark
//! run by a script, a test or CI prints its results and nothing else.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `steps` steps, labelled with the benchmark's name.
pub fn bar(name: &str, steps: u64) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{prefix:>16} [{bar:30.cyan/blue}] {pos}/{len} {msg} ({elapsed})",
    )
    .expect("a valid template")
    .progress_chars("=> ");
    let bar = ProgressBar::new(steps)
        .with_style(style)
        .with_prefix(name.to_string());
    // Redraw even while one long step runs, so the elapsed time moves.
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
