use std::io::Write;
use std::net::Shutdown;

use test_support::{Server, read_to_end};

const BIN: &str = env!("CARGO_BIN_EXE_cloudhash_del_keys");

/// One request on a connection of its own: write, half-close, read to EOF.
fn request(server: &Server, text: &str) -> String {
    let mut client = server.connect();
    client.write_all(text.as_bytes()).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    String::from_utf8(read_to_end(&mut client)).unwrap()
}

#[test]
fn get_and_set_still_work() {
    let server = Server::start(BIN);
    assert_eq!(request(&server, "SET prez obama"), "obama");
    assert_eq!(request(&server, "GET prez"), "obama");
    assert_eq!(request(&server, "GET vp"), "");
}

#[test]
fn del_answers_the_value_it_removed() {
    let server = Server::start(BIN);
    request(&server, "SET prez obama");
    request(&server, "SET vp biden");
    assert_eq!(request(&server, "DEL prez\n"), "obama");
    assert_eq!(request(&server, "GET prez"), "", "the key is gone");
    assert_eq!(request(&server, "GET vp"), "biden", "the other key is not");
}

#[test]
fn del_of_a_missing_key_answers_nothing() {
    let server = Server::start(BIN);
    assert_eq!(request(&server, "DEL prez"), "");
    request(&server, "SET prez obama");
    request(&server, "DEL prez");
    assert_eq!(request(&server, "DEL prez"), "", "deleting twice");
}

#[test]
fn keys_lists_every_key_sorted_and_space_separated() {
    let server = Server::start(BIN);
    assert_eq!(request(&server, "KEYS"), "", "an empty store");
    for key in ["vp", "prez", "chief", "speaker"] {
        request(&server, &format!("SET {key} someone"));
    }
    assert_eq!(request(&server, "KEYS\n"), "chief prez speaker vp");
    request(&server, "DEL speaker");
    assert_eq!(request(&server, "KEYS"), "chief prez vp");
    request(&server, "SET prez lincoln");
    assert_eq!(
        request(&server, "KEYS"),
        "chief prez vp",
        "a key set twice is listed once"
    );
}

#[test]
fn new_commands_are_case_insensitive() {
    let server = Server::start(BIN);
    request(&server, "SET prez obama");
    assert_eq!(request(&server, "keys"), "prez");
    assert_eq!(request(&server, "Keys"), "prez");
    assert_eq!(request(&server, "del prez"), "obama");
    assert_eq!(request(&server, "kEyS"), "");
}

#[test]
fn wrong_numbers_of_arguments_are_exact_errors() {
    let server = Server::start(BIN);
    request(&server, "SET prez obama");
    let del = "ERR wrong number of arguments for DEL (expected: DEL key)\n";
    let keys = "ERR wrong number of arguments for KEYS (expected: KEYS)\n";
    assert_eq!(request(&server, "DEL"), del);
    assert_eq!(request(&server, "DEL prez vp"), del);
    assert_eq!(request(&server, "KEYS prez"), keys);
    assert_eq!(
        request(&server, "GET prez"),
        "obama",
        "errors delete nothing"
    );
}

#[test]
fn unknown_commands_are_still_unknown() {
    let server = Server::start(BIN);
    assert_eq!(request(&server, "FLUSH"), "ERR unknown command \"FLUSH\"\n");
}
