use std::io::Write;
use std::net::{Shutdown, TcpStream};

use framing::MAX_FRAME;
use test_support::{Server, assert_closed, read_exact};

const BIN: &str = env!("CARGO_BIN_EXE_length_prefix_server");

/// `payload` framed: its length as 4 big-endian bytes, then the payload.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut bytes = (payload.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(payload);
    bytes
}

/// Reads one reply frame and returns its payload.
fn read_reply(stream: &mut TcpStream) -> Vec<u8> {
    let header = read_exact(stream, 4);
    let length = u32::from_be_bytes(header.try_into().unwrap());
    assert!(length <= MAX_FRAME, "reply announces {length} bytes");
    read_exact(stream, length as usize)
}

/// Sends one request frame and returns the reply's payload.
fn ask(stream: &mut TcpStream, request: &[u8]) -> Vec<u8> {
    stream.write_all(&frame(request)).unwrap();
    read_reply(stream)
}

#[test]
fn binds_loopback_and_announces_the_real_port() {
    let server = Server::start(BIN);
    assert_eq!(server.listening_on().ip().to_string(), "127.0.0.1");
    assert_ne!(server.listening_on().port(), 0);
}

#[test]
fn answers_each_frame_on_one_connection() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    assert_eq!(ask(&mut client, b"SET prez obama"), b"OK");
    assert_eq!(ask(&mut client, b"GET prez"), b"VALUE obama");
    assert_eq!(ask(&mut client, b"GET vp"), b"NIL");
    assert_eq!(ask(&mut client, b"SET vp "), b"OK");
    assert_eq!(ask(&mut client, b"GET vp"), b"VALUE ");
    assert_eq!(
        ask(&mut client, b"FROB"),
        b"ERR unknown command \"FROB\" (expected SET, GET or exit)"
    );
}

#[test]
fn values_with_newlines_and_any_bytes_round_trip() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let value = b"roses are red\nviolets are blue\r\n\0\xff\xfe end";
    assert_eq!(
        ask(&mut client, &[b"SET poem ", &value[..]].concat()),
        b"OK"
    );
    assert_eq!(
        ask(&mut client, b"GET poem"),
        [b"VALUE ", &value[..]].concat()
    );
}

#[test]
fn a_zero_length_frame_is_an_empty_request_and_the_connection_stays_open() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    client.write_all(&[0, 0, 0, 0]).unwrap();
    assert_eq!(read_reply(&mut client), b"ERR empty request");
    assert_eq!(ask(&mut client, b"SET after empty"), b"OK");
}

#[test]
fn several_frames_in_one_write_are_answered_in_order() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let mut requests = Vec::new();
    let mut expected = Vec::new();
    for i in 0..300 {
        let key = format!("k{}", i % 7);
        requests.extend(frame(format!("SET {key} v{i}\nline two").as_bytes()));
        requests.extend(frame(format!("GET {key}").as_bytes()));
        expected.push(b"OK".to_vec());
        expected.push(format!("VALUE v{i}\nline two").into_bytes());
    }
    client.write_all(&requests).unwrap();
    for (i, want) in expected.iter().enumerate() {
        assert_eq!(&read_reply(&mut client), want, "reply {i}");
    }
}

#[test]
fn a_frame_split_across_writes_is_answered_once_complete() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let first = frame(b"GET a");
    let second = frame(b"SET a split\nvalue");
    // One write: a whole frame and the first two bytes of the next header.
    client
        .write_all(&[&first[..], &second[..2]].concat())
        .unwrap();
    // The reply proves the server has read that write, half header included.
    assert_eq!(read_reply(&mut client), b"NIL");
    // The rest of the header with one byte of payload, then the rest.
    client.write_all(&second[2..5]).unwrap();
    client.write_all(&second[5..]).unwrap();
    assert_eq!(read_reply(&mut client), b"OK");
    assert_eq!(ask(&mut client, b"GET a"), b"VALUE split\nvalue");
}

#[test]
fn a_frame_of_exactly_the_cap_is_accepted() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let value = vec![b'x'; MAX_FRAME as usize - b"SET k ".len()];
    assert_eq!(ask(&mut client, &[b"SET k ", &value[..]].concat()), b"OK");
    let reply = ask(&mut client, b"GET k");
    assert_eq!(reply.len(), MAX_FRAME as usize, "VALUE + the value");
    assert!(reply == [b"VALUE ", &value[..]].concat());
}

#[test]
fn a_length_over_the_cap_is_refused_and_the_connection_closed() {
    let server = Server::start(BIN);
    for length in [MAX_FRAME + 1, u32::MAX] {
        let mut client = server.connect();
        // Only the header: the server must refuse on the length alone,
        // without waiting for (or making room for) the payload.
        client.write_all(&length.to_be_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(read_reply(&mut client)).unwrap(),
            format!("ERR frame of {length} bytes refused (the limit is 1048576)")
        );
        assert_closed(&mut client);
    }
    // The server goes on serving.
    let mut client = server.connect();
    assert_eq!(ask(&mut client, b"GET k"), b"NIL");
}

#[test]
fn exit_closes_the_connection_and_later_frames_go_unanswered() {
    let server = Server::start(BIN);
    let mut client = server.connect();
    let requests = [frame(b"SET a 1"), frame(b"exit"), frame(b"GET a")].concat();
    client.write_all(&requests).unwrap();
    assert_eq!(read_reply(&mut client), b"OK");
    assert_closed(&mut client);
}

#[test]
fn connections_are_served_concurrently_and_share_one_store() {
    let server = Server::start(BIN);
    let mut first = server.connect();
    let mut second = server.connect();
    assert_eq!(ask(&mut first, b"SET from first"), b"OK");
    assert_eq!(ask(&mut second, b"GET from"), b"VALUE first");
    assert_eq!(ask(&mut second, b"SET back second"), b"OK");
    assert_eq!(ask(&mut first, b"GET back"), b"VALUE second");
}

#[test]
fn a_client_that_leaves_mid_frame_does_not_disturb_the_server() {
    let server = Server::start(BIN);
    for partial in [&[0u8, 0][..], &[0, 0, 0, 10, b'S', b'E', b'T'][..]] {
        let mut client = server.connect();
        client.write_all(partial).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        assert_closed(&mut client);
    }
    let mut next = server.connect();
    assert_eq!(ask(&mut next, b"GET k"), b"NIL");
}
