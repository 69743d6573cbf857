use assert_cmd::Command;

/// What the program reported, parsed from its exact lines.
#[derive(Debug)]
struct Report {
    sndbuf: usize,
    rcvbuf: usize,
    first_write: usize,
    accepted: usize,
}

/// The number after `prefix` in `line` (up to the next space).
fn number_after(line: &str, prefix: &str) -> usize {
    let rest = line
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{line:?} does not start with {prefix:?}"));
    let digits = rest.split(' ').next().unwrap();
    digits
        .parse()
        .unwrap_or_else(|err| panic!("{digits:?} in {line:?}: {err}"))
}

fn run(envs: &[(&str, &str)]) -> Report {
    let output = Command::new(env!("CARGO_BIN_EXE_buffering"))
        .envs(envs.iter().copied())
        .timeout(test_support::TIMEOUT)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "unexpected output:\n{stdout}");

    // sender SO_SNDBUF: <n> bytes before connect(2), <m> after[ (asked for …)]
    let (_, after) = lines[0].split_once(" before connect(2), ").unwrap();
    assert!(lines[0].starts_with("sender SO_SNDBUF: "), "{}", lines[0]);
    number_after(lines[0], "sender SO_SNDBUF: ");
    let sndbuf = number_after(after, "");
    let rcvbuf = number_after(lines[1], "receiver SO_RCVBUF: ");
    let first_write = number_after(lines[2], "first write(2) returned ");
    assert!(
        lines[2].ends_with(" bytes; the receiver has read 0 bytes"),
        "{}",
        lines[2]
    );
    let calls = number_after(lines[3], "write(2) would block after ");
    assert!(lines[3].ends_with(" successful calls"), "{}", lines[3]);
    let accepted = number_after(lines[4], "the kernel accepted ");
    assert!(
        lines[4].ends_with(" bytes that nobody has read"),
        "{}",
        lines[4]
    );
    // Every byte the kernel accepted is delivered once the receiver reads.
    assert_eq!(lines[5], format!("the receiver then read {accepted} bytes"));

    assert!(calls >= 1);
    assert!(first_write > 0 && first_write <= 64 * 1024);
    assert!(accepted >= first_write);
    Report {
        sndbuf,
        rcvbuf,
        first_write,
        accepted,
    }
}

#[test]
fn the_kernel_takes_at_least_half_a_send_buffer_before_a_write_blocks() {
    let report = run(&[]);
    assert!(report.sndbuf > 0 && report.rcvbuf > 0, "{report:?}");
    // Linux's SO_SNDBUF value counts its bookkeeping too; at least half of
    // it is room for data.
    assert!(report.accepted >= report.sndbuf / 2, "{report:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn smaller_buffers_hold_less_and_linux_doubles_the_requested_size() {
    let small = run(&[("SNDBUF", "4096"), ("RCVBUF", "4096")]);
    assert_eq!(small.sndbuf, 8192, "{small:?}");
    assert_eq!(small.rcvbuf, 8192, "{small:?}");
    assert!(small.accepted >= small.sndbuf / 2, "{small:?}");
    // With these buffers even the first 64 KiB write cannot be taken whole.
    assert!(small.first_write < 64 * 1024, "{small:?}");
    let default = run(&[]);
    assert!(
        small.accepted < default.accepted,
        "{small:?} vs {default:?}"
    );
}

#[test]
fn a_bad_size_is_a_clear_error() {
    Command::new(env!("CARGO_BIN_EXE_buffering"))
        .env("SNDBUF", "lots")
        .timeout(test_support::TIMEOUT)
        .assert()
        .failure()
        .stderr(predicates::str::contains(
            r#"SNDBUF="lots" is not a number of bytes"#,
        ));
}
