//! No test here may reach the network: the machine's nameserver is not on
//! loopback. `localhost` and `127.0.0.1` are answered from /etc/hosts and by
//! parsing, and the unknown name is one glibc rejects before asking any
//! nameserver (a host name cannot contain a space). A plain unknown name
//! such as `nosuch.invalid` would be sent to the nameserver, so it is not
//! used. The deadline itself is tested in the binary's unit tests.

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;

const BIN: &str = env!("CARGO_BIN_EXE_dns_lookup");

fn lookup(name: &str) -> assert_cmd::assert::Assert {
    Command::new(BIN)
        .arg(name)
        .timeout(test_support::TIMEOUT)
        .assert()
}

#[test]
fn localhost_resolves_to_loopback_one_line_per_address() {
    let output = lookup("localhost").success().get_output().stdout.clone();
    let stdout = String::from_utf8(output).unwrap();
    assert!(
        stdout
            .lines()
            .any(|line| line == "localhost has address 127.0.0.1"),
        "{stdout}"
    );
    for line in stdout.lines() {
        let ok = line
            .strip_prefix("localhost has address ")
            .map(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok())
            .or_else(|| {
                line.strip_prefix("localhost has IPv6 address ")
                    .map(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
            })
            .unwrap_or(false);
        assert!(ok, "unexpected line {line:?} in\n{stdout}");
    }
}

#[test]
fn an_ip_address_is_its_own_answer() {
    lookup("127.0.0.1")
        .success()
        .stdout("127.0.0.1 has address 127.0.0.1\n");
    lookup("::1").success().stdout("::1 has IPv6 address ::1\n");
}

#[test]
fn an_unknown_name_is_a_clean_error() {
    lookup("nosuch host.invalid")
        .code(1)
        .stdout("")
        .stderr(contains(r#"resolving "nosuch host.invalid" failed"#))
        .stderr(contains("failed to lookup address information"))
        .stderr(contains("panicked").not());
}

#[test]
fn no_name_is_a_usage_error() {
    Command::new(BIN)
        .timeout(test_support::TIMEOUT)
        .assert()
        .code(1)
        .stderr(contains("usage: dns_lookup NAME"));
}
