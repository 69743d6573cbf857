//! The conformance suite against `serial`, plus the test that shows what
//! serial costs: a client waits until every client before it has gone.

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_serial");

common::conformance_tests!(BIN);

#[test]
fn third_client_waits_until_the_first_two_have_gone() {
    common::third_client_waits_for_the_first_two(BIN);
}
