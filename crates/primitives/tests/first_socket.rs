use assert_cmd::Command;
use predicates::str::{contains, is_match};

#[test]
fn creates_an_ipv4_stream_socket_with_no_address() {
    Command::new(env!("CARGO_BIN_EXE_first_socket"))
        .timeout(test_support::TIMEOUT)
        .assert()
        .success()
        .stdout(is_match(r"^created socket: fd \d+, domain AF_INET, type SOCK_STREAM\n").unwrap())
        .stdout(contains("local address before bind: Some(0.0.0.0:0)\n"));
}
