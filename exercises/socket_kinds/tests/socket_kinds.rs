use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_socket_kinds");

#[test]
fn prints_what_the_kernel_reports_for_each_kind_of_socket() {
    let output = test_support::run(Command::new(BIN));
    assert!(
        output.status.success(),
        "exit status {}; stderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "ipv4 stream: domain AF_INET, type SOCK_STREAM, protocol IPPROTO_TCP\n\
         ipv6 stream: domain AF_INET6, type SOCK_STREAM, protocol IPPROTO_TCP\n\
         ipv4 datagram: domain AF_INET, type SOCK_DGRAM, protocol IPPROTO_UDP\n"
    );
}
