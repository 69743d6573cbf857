//! The conformance suite against `evented`, the tests every reactor must
//! pass, and the reactor's connection cap.

mod common;
mod reactor_suite;

use std::os::unix::process::CommandExt;
use std::process::Command;

use common::{Fixture, Ftp};
use nix::sys::resource::{Resource, setrlimit};
use test_support::{Server, assert_closed};

const BIN: &str = env!("CARGO_BIN_EXE_evented");

common::conformance_tests!(BIN);
common::concurrency_tests!(BIN);
reactor_suite::reactor_tests!(BIN);

/// With an open file limit of 64 (hard, so the server cannot raise it), the
/// reactor keeps 32 descriptors for itself and one in eight of the other 32
/// for data transfers: room for 28 clients. The 29th gets 421 and is closed,
/// and the server neither stops nor spins; once a client leaves, the next
/// one is served again.
#[test]
fn past_its_descriptors_a_client_gets_421() {
    let fixture = Fixture::new();
    let mut command = Command::new(BIN);
    command.env("PORT", "0").env("FTP_ROOT", &fixture.root);
    // SAFETY: between fork and exec the closure only calls setrlimit(2), a
    // plain system call that allocates nothing and takes no lock.
    unsafe {
        command
            .pre_exec(|| setrlimit(Resource::RLIMIT_NOFILE, 64, 64).map_err(std::io::Error::from));
    }
    let server = Server::start_command(command);

    let mut clients: Vec<Ftp> = (0..28).map(|_| Ftp::connect(&server)).collect();
    let mut refused = Ftp::connect_silently(&server);
    assert_eq!(
        refused.reply(),
        "421 Too many connections, try again later.\r\n"
    );
    assert_closed(&mut refused.control);

    // Everyone already connected is still served.
    for client in &mut clients {
        client.expect("NOOP", 200);
    }
    // One leaves; the next newcomer gets in.
    let mut leaving = clients.pop().unwrap();
    leaving.expect("QUIT", 221);
    assert_closed(&mut leaving.control);
    let mut next = Ftp::connect(&server);
    next.expect("PWD", 257);
    // The refused client left no trace: still exactly one over the top.
    let mut refused = Ftp::connect_silently(&server);
    refused.expect_reply(421);
}
