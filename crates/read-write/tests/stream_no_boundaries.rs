use assert_cmd::Command;

/// The bytes a `server read #N: … "text"` line reports, or None for other lines.
fn read_data(line: &str) -> Option<String> {
    let rest = line.strip_prefix("server read #")?;
    let (_, quoted) = rest.split_once(" byte(s) ")?;
    Some(quoted.trim_matches('"').to_string())
}

#[test]
fn three_writes_arrive_as_one_stream_complete_and_in_order() {
    let output = Command::new(env!("CARGO_BIN_EXE_stream_no_boundaries"))
        .timeout(test_support::TIMEOUT)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();

    // The writes happen exactly as the program makes them.
    assert_eq!(
        lines[..4],
        [
            r#"client write #1: 1 byte(s) "a""#,
            r#"client write #2: 1 byte(s) "b""#,
            r#"client write #3: 1 byte(s) "c""#,
            "client shutdown(Write): no more data will follow",
        ]
    );

    // How the reads cut the stream is the kernel's business, so the test
    // does not insist on one read of "abc". What must hold: the reads,
    // joined, are exactly the writes, joined, and the last read is EOF.
    let reads: Vec<String> = lines.iter().filter_map(|line| read_data(line)).collect();
    assert!(!reads.is_empty(), "no data reads in:\n{stdout}");
    assert_eq!(reads.concat(), "abc", "reads: {reads:?}");
    let eof_line = format!("server read #{}: 0 bytes, EOF", reads.len() + 1);
    assert_eq!(lines[4 + reads.len()], eof_line);
    assert_eq!(
        lines[5 + reads.len()],
        format!(
            r#"write calls: 3, sent "abc"; read calls with data: {}, received "abc""#,
            reads.len()
        )
    );
    assert_eq!(lines[6 + reads.len()], "same bytes in the same order: yes");
    assert_eq!(lines.len(), 7 + reads.len(), "unexpected output:\n{stdout}");
}
