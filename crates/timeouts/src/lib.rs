//! What the Timeouts and DNS Lookup examples share: reading the `TIMEOUT`
//! variable, and turning a `Duration` into `poll(2)`'s millisecond timeout.
//!
//! Every example of the two chapters reads `TIMEOUT`, in seconds, default 5.
//! Fractions are allowed (`TIMEOUT=0.3`), so that you can watch a timeout
//! happen without waiting, and so that the tests run fast.
//!
//! Nothing here touches a socket: the system calls each example teaches are
//! in its own file.

use std::time::Duration;

use anyhow::{Context, bail};
use nix::poll::PollTimeout;

/// The timeout every example uses unless `TIMEOUT` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// `TIMEOUT` from the environment (seconds, fractions allowed), or 5 s.
pub fn timeout_from_env() -> anyhow::Result<Duration> {
    match std::env::var("TIMEOUT") {
        Ok(text) => parse_seconds(&text),
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_TIMEOUT),
        Err(err) => bail!("TIMEOUT is not valid text: {err}"),
    }
}

/// Parses a number of seconds such as `5`, `0.3` or `1.5`.
pub fn parse_seconds(text: &str) -> anyhow::Result<Duration> {
    let seconds: f64 = text
        .trim()
        .parse()
        .with_context(|| format!("TIMEOUT={text:?} is not a number of seconds (say 5 or 0.3)"))?;
    Duration::try_from_secs_f64(seconds).with_context(|| {
        format!("TIMEOUT={text:?} must be zero or more seconds, and not absurdly large")
    })
}

/// `poll(2)` counts its timeout in whole milliseconds. Round *up*, so that a
/// wait of 0.4 ms becomes 1 ms rather than 0, which poll reads as "do not
/// wait at all"; and cap it at what fits in poll's `int` (about 24 days).
pub fn poll_timeout(wait: Duration) -> PollTimeout {
    let millis = wait.as_nanos().div_ceil(1_000_000);
    PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_and_fractional_seconds_parse() {
        assert_eq!(parse_seconds("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_seconds("0.3").unwrap(), Duration::from_millis(300));
        assert_eq!(parse_seconds(" 2.5 ").unwrap(), Duration::from_millis(2500));
        assert_eq!(parse_seconds("0").unwrap(), Duration::ZERO);
    }

    #[test]
    fn nonsense_is_a_clear_error() {
        for bad in ["", "soon", "-1", "NaN", "inf"] {
            let err = parse_seconds(bad).unwrap_err();
            assert!(format!("{err:#}").contains("TIMEOUT="), "{bad:?}: {err:#}");
        }
    }

    #[test]
    fn poll_timeouts_round_up_to_whole_milliseconds() {
        assert_eq!(poll_timeout(Duration::ZERO), PollTimeout::ZERO);
        assert_eq!(
            poll_timeout(Duration::from_micros(400)).as_millis(),
            Some(1)
        );
        assert_eq!(
            poll_timeout(Duration::from_millis(300)).as_millis(),
            Some(300)
        );
        assert_eq!(
            poll_timeout(Duration::from_secs(u64::MAX)),
            PollTimeout::MAX
        );
    }
}
