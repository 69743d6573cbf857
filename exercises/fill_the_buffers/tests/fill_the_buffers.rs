use std::process::Command;

use test_support::run;

const BIN: &str = env!("CARGO_BIN_EXE_fill_the_buffers");

/// (SO_SNDBUF, accepted before WouldBlock) from a successful run.
fn measure(sndbuf: Option<&str>) -> (usize, usize) {
    let mut command = Command::new(BIN);
    command.env_remove("SNDBUF");
    if let Some(bytes) = sndbuf {
        command.env("SNDBUF", bytes);
    }
    let output = run(command);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "expected three lines, got:\n{stdout}");
    let number = |line: &str, prefix: &str| -> usize {
        line.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(" bytes"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("expected `{prefix}N bytes`, got {line:?}"))
    };
    let sndbuf = number(lines[0], "SO_SNDBUF: ");
    let accepted = number(lines[1], "accepted before WouldBlock: ");
    let received = number(lines[2], "receiver read: ");
    assert!(accepted > 0, "the kernel took nothing?\n{stdout}");
    // Nothing accepted is lost, and nothing counted was never accepted.
    assert_eq!(received, accepted, "\n{stdout}");
    // The send buffer alone holds at least half its SO_SNDBUF in data.
    assert!(accepted >= sndbuf / 2, "\n{stdout}");
    (sndbuf, accepted)
}

#[test]
fn counts_every_byte_the_kernel_took_and_the_receiver_gets_them_all() {
    measure(None);
}

#[cfg(target_os = "linux")]
#[test]
fn a_smaller_send_buffer_holds_less_and_linux_doubles_the_request() {
    let (sndbuf, small) = measure(Some("8192"));
    assert_eq!(sndbuf, 16384, "Linux reports twice the size asked for");
    let (_, default) = measure(None);
    assert!(
        small < default,
        "{small} bytes with SNDBUF=8192, {default} without"
    );
}
