//! The measurement itself is not asserted (no timed assertions): these tests
//! check that the binary runs the three experiments to completion, reads the
//! option back from the kernel as set, and reports in the documented shape.

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::{contains, is_match};

const BIN: &str = env!("CARGO_BIN_EXE_nagle");

#[test]
fn reports_the_median_and_p90_of_each_experiment() {
    let number = r"\s+\d+\.\d{3} ms";
    let line = |label: &str| format!("{label}\\s+median{number}, p90{number} over 3 round trips\n");
    let expected = format!(
        "^echo peer on 127\\.0\\.0\\.1:\\d+\n\
         each round trip: send a 4-byte length and a 17-byte body, read the 17-byte reply\n\
         {}{}{}$",
        line("two writes, TCP_NODELAY off:"),
        line("two writes, TCP_NODELAY on:"),
        line("one write, TCP_NODELAY off:"),
    );
    Command::new(BIN)
        .env("ROUNDS", "3")
        .timeout(test_support::TIMEOUT)
        .assert()
        .success()
        .stdout(is_match(expected).unwrap());
}

#[test]
fn rejects_a_rounds_that_is_not_a_positive_number() {
    for (rounds, message) in [
        ("0", "ROUNDS must be at least 1"),
        ("many", "ROUNDS=\"many\" is not a whole number"),
    ] {
        Command::new(BIN)
            .env("ROUNDS", rounds)
            .timeout(test_support::TIMEOUT)
            .assert()
            .failure()
            .stderr(contains(message))
            .stderr(contains("panicked").not());
    }
}
