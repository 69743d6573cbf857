//! The command line every benchmark shares: `[--quick | --smoke] [--out DIR]`,
//! plus the few flags a benchmark declares for itself.

use std::fmt;
use std::path::PathBuf;

use anyhow::{Context, bail};

/// How long and how large a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The real measurement, the one `just bench` runs and the book shows.
    Full,
    /// A shorter run with the same shape (`just bench-quick`): fewer
    /// iterations, shorter durations, same sizes where they are cheap.
    Quick,
    /// The smallest run that exercises every code path, for the smoke tests
    /// (a few seconds at most). Its figures mean nothing.
    Smoke,
}

impl Mode {
    /// Picks one of three values, by mode.
    pub fn pick<T>(self, full: T, quick: T, smoke: T) -> T {
        match self {
            Mode::Full => full,
            Mode::Quick => quick,
            Mode::Smoke => smoke,
        }
    }

    /// The flag that selects this mode (empty for the full run).
    pub fn flag(self) -> Option<&'static str> {
        self.pick(None, Some("--quick"), Some("--smoke"))
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.pick("full run", "quick run", "smoke run"))
    }
}

/// The parsed command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub mode: Mode,
    /// Where `measured/…` is written: the book's `src` directory by default.
    pub out: PathBuf,
    /// The extra flags given, among those the benchmark declared.
    pub flags: Vec<String>,
}

impl Options {
    /// Parses `std::env::args()`. `extra` lists the flags (without values)
    /// this benchmark accepts besides the common ones; `usage` describes
    /// them for `--help`.
    pub fn parse(extra: &[&str], usage: &str) -> anyhow::Result<Options> {
        Options::parse_from(std::env::args().skip(1), extra, usage)
    }

    /// Like [`Options::parse`], from any list of arguments.
    pub fn parse_from(
        args: impl IntoIterator<Item = String>,
        extra: &[&str],
        usage: &str,
    ) -> anyhow::Result<Options> {
        let mut options = Options {
            mode: Mode::Full,
            out: book_src(),
            flags: Vec::new(),
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.mode = Mode::Quick,
                "--smoke" => options.mode = Mode::Smoke,
                "--out" => {
                    let dir = args.next().context("--out needs a directory")?;
                    options.out = PathBuf::from(dir);
                }
                "--help" | "-h" => {
                    println!(
                        "options: [--quick | --smoke] [--out DIR]{}{usage}",
                        if usage.is_empty() { "" } else { " " }
                    );
                    println!("  --quick     a short run with the same shape");
                    println!("  --smoke     the smallest run (for tests; figures mean nothing)");
                    println!(
                        "  --out DIR   write DIR/measured/… (default: the book, {})",
                        book_src().display()
                    );
                    std::process::exit(0);
                }
                flag if extra.contains(&flag) => options.flags.push(arg),
                other => bail!("unknown argument {other:?} (try --help)"),
            }
        }
        Ok(options)
    }

    /// Whether the extra flag `flag` was given.
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|given| given == flag)
    }

    /// The directory the results go to: `OUT/measured`.
    pub fn measured_dir(&self) -> PathBuf {
        self.out.join("measured")
    }
}

/// The book's `src` directory in this checkout.
pub fn book_src() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../book/src"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> anyhow::Result<Options> {
        Options::parse_from(args.iter().map(|arg| arg.to_string()), &["--no-redis"], "")
    }

    #[test]
    fn defaults_to_a_full_run_into_the_book() {
        let options = parse(&[]).unwrap();
        assert_eq!(options.mode, Mode::Full);
        assert!(options.measured_dir().ends_with("book/src/measured"));
    }

    #[test]
    fn reads_the_mode_the_directory_and_declared_flags() {
        let options = parse(&["--smoke", "--out", "/tmp/x", "--no-redis"]).unwrap();
        assert_eq!(options.mode, Mode::Smoke);
        assert_eq!(options.measured_dir(), PathBuf::from("/tmp/x/measured"));
        assert!(options.has("--no-redis"));
        assert!(!options.has("--other"));
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        assert!(parse(&["--fast"]).is_err());
        assert!(parse(&["--out"]).is_err());
    }
}
