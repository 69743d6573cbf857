use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_both_roles");

/// Runs the program and returns (listener port, client port) after checking
/// that every line has the contracted form and the lines agree.
fn run_once() -> (u16, u16) {
    let output = test_support::run(Command::new(BIN));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "exit status {}; stdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "five lines expected, got:\n{stdout}");

    let port = |text: &str| -> u16 {
        text.parse()
            .unwrap_or_else(|_| panic!("{text:?} is not a port number in:\n{stdout}"))
    };
    let listener = port(
        lines[0]
            .strip_prefix("listener: 127.0.0.1:")
            .unwrap_or_else(|| {
                panic!(
                    "line 1 should be `listener: 127.0.0.1:P`, got {:?}",
                    lines[0]
                )
            }),
    );
    let client_line_start = "client: 127.0.0.1:";
    let client = port(
        lines[1]
            .strip_prefix(client_line_start)
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| {
                panic!(
                    "line 2 should be `client: 127.0.0.1:C -> 127.0.0.1:P`, got {:?}",
                    lines[1]
                )
            }),
    );
    assert_eq!(
        lines[1],
        format!("client: 127.0.0.1:{client} -> 127.0.0.1:{listener}"),
        "the client's peer is the listener's address"
    );
    assert_eq!(
        lines[2],
        format!("server: 127.0.0.1:{listener} -> 127.0.0.1:{client}"),
        "the accepted socket mirrors the client: same port as the listener, the client as peer"
    );
    assert_eq!(lines[3], r#"server read "ping\n""#);
    assert_eq!(lines[4], r#"client read "pong\n""#);
    assert_ne!(listener, 0, "the kernel's port, not the 0 we asked for");
    assert_ne!(listener, client);
    (listener, client)
}

#[test]
fn plays_both_ends_of_one_connection() {
    run_once();
}

#[test]
fn the_ports_are_the_kernels_choice_each_time() {
    // Port 0 makes the kernel pick a free port, and connect(2) picks the
    // client's: two runs do not print the same pair.
    assert_ne!(run_once(), run_once());
}
