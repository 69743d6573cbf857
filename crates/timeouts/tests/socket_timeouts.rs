use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::{contains, is_match};

const BIN: &str = env!("CARGO_BIN_EXE_socket_timeouts");

/// On Linux a timed-out blocking call fails with EAGAIN, which Rust calls
/// `WouldBlock`, not `TimedOut`; and a connect bounded by SO_SNDTIMEO fails
/// with EINPROGRESS.
#[test]
fn shows_the_errors_a_kernel_timeout_gives() {
    Command::new(BIN)
        .env("TIMEOUT", "0.3")
        .timeout(test_support::TIMEOUT)
        .assert()
        .success()
        .stdout(
            is_match(
                "^SO_RCVTIMEO is 300ms\n\
                 read gave up: kind WouldBlock, errno EAGAIN: Resource temporarily unavailable \\(os error 11\\)\n\
                 SO_SNDTIMEO is 300ms\n\
                 write gave up after [0-9]+ bytes: kind WouldBlock, errno EAGAIN: Resource temporarily unavailable \\(os error 11\\)\n\
                 connect gave up: kind InProgress, errno EINPROGRESS: Operation now in progress \\(os error 115\\)\n$",
            )
            .unwrap(),
        );
}

#[test]
fn a_zero_timeout_is_refused_because_it_would_mean_none() {
    Command::new(BIN)
        .env("TIMEOUT", "0")
        .timeout(test_support::TIMEOUT)
        .assert()
        .code(1)
        .stderr(contains("TIMEOUT=0 would switch the timeouts off"))
        .stderr(contains("panicked").not());
}
