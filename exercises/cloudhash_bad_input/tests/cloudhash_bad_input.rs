use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use test_support::{Server, read_to_end};

const BIN: &str = env!("CARGO_BIN_EXE_cloudhash_bad_input");
const MAX_REQUEST: usize = 1024 * 1024;

/// One request on a connection of its own: write, half-close, read to EOF.
fn request(server: &Server, bytes: &[u8]) -> String {
    let mut client = server.connect();
    client.write_all(bytes).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    String::from_utf8_lossy(&read_to_end(&mut client)).into_owned()
}

/// A server with `prez` set, to check after each bad client that it still
/// serves and still has its data.
fn server_with_data() -> Server {
    let server = Server::start(BIN);
    assert_eq!(request(&server, b"SET prez obama"), "obama");
    server
}

fn assert_still_serving_with_data(server: &Server) {
    assert_eq!(request(server, b"GET prez"), "obama");
}

#[test]
fn polite_clients_are_served() {
    let server = server_with_data();
    assert_eq!(request(&server, b"get prez\n"), "obama");
    assert_eq!(request(&server, b"GET vp"), "");
}

#[test]
fn an_empty_request() {
    let server = server_with_data();
    assert_eq!(request(&server, b""), "ERR empty request\n");
    assert_still_serving_with_data(&server);
    assert_eq!(request(&server, b" \n"), "ERR empty request\n");
    assert_still_serving_with_data(&server);
}

#[test]
fn an_unknown_command() {
    let server = server_with_data();
    assert_eq!(
        request(&server, b"FOO bar"),
        "ERR unknown command \"FOO\"\n"
    );
    assert_still_serving_with_data(&server);
}

#[test]
fn missing_arguments() {
    let server = server_with_data();
    let get = "ERR wrong number of arguments for GET (expected: GET key)\n";
    let set = "ERR wrong number of arguments for SET (expected: SET key value)\n";
    assert_eq!(request(&server, b"GET"), get);
    assert_still_serving_with_data(&server);
    assert_eq!(request(&server, b"SET"), set);
    assert_still_serving_with_data(&server);
    assert_eq!(request(&server, b"SET prez"), set);
    assert_still_serving_with_data(&server);
}

#[test]
fn extra_arguments() {
    let server = server_with_data();
    let get = "ERR wrong number of arguments for GET (expected: GET key)\n";
    let set = "ERR wrong number of arguments for SET (expected: SET key value)\n";
    assert_eq!(request(&server, b"GET prez vp"), get);
    assert_eq!(request(&server, b"SET prez barack obama"), set);
    assert_still_serving_with_data(&server);
}

#[test]
fn bytes_that_are_not_utf8() {
    let server = server_with_data();
    assert_eq!(
        request(&server, b"SET prez \xff\xfe"),
        "ERR request is not UTF-8\n"
    );
    assert_still_serving_with_data(&server);
}

#[test]
fn a_request_over_one_mebibyte_is_refused_without_waiting_for_eof() {
    let server = server_with_data();
    let mut client = server.connect();
    client.write_all(&vec![b'a'; MAX_REQUEST + 1]).unwrap();
    // No shutdown: the server must answer once it has read one byte more
    // than the limit. One that waits for EOF makes this read time out.
    assert_eq!(
        String::from_utf8_lossy(&read_to_end(&mut client)),
        "ERR request too large (limit is 1048576 bytes)\n"
    );
    assert_still_serving_with_data(&server);
}

#[test]
fn a_request_of_exactly_one_mebibyte_is_still_served() {
    let server = server_with_data();
    let mut big = b"GET ".to_vec();
    big.resize(MAX_REQUEST, b'k');
    assert_eq!(request(&server, &big), "");
    assert_still_serving_with_data(&server);
}

#[test]
fn a_client_that_connects_and_closes_without_sending() {
    let server = server_with_data();
    drop(server.connect());
    assert_still_serving_with_data(&server);
}

#[test]
fn a_client_that_resets_the_connection() {
    let server = server_with_data();
    let mut client = server.connect();
    client.write_all(b"SET prez").unwrap();
    // SO_LINGER 0: close(2) sends RST instead of FIN, and the server's read
    // fails with ECONNRESET.
    let client = socket2::Socket::from(client);
    client.set_linger(Some(Duration::ZERO)).unwrap();
    drop(client);
    assert_still_serving_with_data(&server);
}
