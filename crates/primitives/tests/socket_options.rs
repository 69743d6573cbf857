use assert_cmd::Command;

use test_support::TIMEOUT;

/// A number from a file under /proc/sys.
fn sysctl(path: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// `line` is `prefix`, a number, then `suffix`; returns the number.
fn number_between(line: &str, prefix: &str, suffix: &str) -> usize {
    line.strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(suffix))
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("{line:?} is not {prefix:?} NUMBER {suffix:?}"))
}

#[test]
fn reads_so_type_and_shows_what_setting_options_does() {
    let output = Command::new(env!("CARGO_BIN_EXE_socket_options"))
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 12, "stdout:\n{stdout}");

    // Ruby's getsockopt(SOL_SOCKET, SO_TYPE) on a TCP socket.
    assert_eq!(lines[0], "SO_TYPE: 1 (SOCK_STREAM)");
    assert_eq!(lines[1], "SO_TYPE == SOCK_STREAM: true");
    assert_eq!(lines[2], "SO_TYPE == SOCK_DGRAM: false");

    // Buffer sizes: the defaults vary by machine; what we set comes back
    // doubled, and a request above the maximum is capped at it (doubled).
    let rmem_max = sysctl("/proc/sys/net/core/rmem_max");
    let wmem_max = sysctl("/proc/sys/net/core/wmem_max");
    let rcvbuf = number_between(lines[3], "SO_RCVBUF: ", " bytes by default");
    assert!(rcvbuf > 0);
    assert_eq!(
        lines[4],
        format!("SO_RCVBUF: set 32768, get {}", 2 * 32768.min(rmem_max))
    );
    assert_eq!(
        lines[5],
        format!(
            "SO_RCVBUF: set {}, get {} (net.core.rmem_max is {rmem_max})",
            4 * rmem_max,
            2 * rmem_max
        )
    );
    let sndbuf = number_between(lines[6], "SO_SNDBUF: ", " bytes by default");
    assert!(sndbuf > 0);
    assert_eq!(
        lines[7],
        format!("SO_SNDBUF: set 32768, get {}", 2 * 32768.min(wmem_max))
    );

    assert_eq!(
        lines[8],
        "TCP_NODELAY: false by default, set true, get true"
    );
    assert_eq!(
        lines[9],
        "SO_KEEPALIVE: false by default, set true, get true"
    );
    assert_eq!(
        lines[10],
        "SO_REUSEADDR: false on a socket2 listener (the kernel's default)"
    );
    assert_eq!(
        lines[11],
        "SO_REUSEADDR: true on a std::net::TcpListener (std sets it before bind)"
    );
}
