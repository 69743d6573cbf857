//! The shared part of CloudHash, without sockets: parsing, processing, the
//! exact reply bytes, and the store's sharing.

use std::thread;

use cloudhash::{Command, MAX_REQUEST, Reply, RequestError, Store, parse};

fn reply_text(store: &Store, request: &str) -> String {
    String::from_utf8(store.process(request.as_bytes()).to_bytes()).unwrap()
}

#[test]
fn parses_get_and_set() {
    assert_eq!(parse(b"GET prez"), Ok(Command::Get { key: "prez" }));
    assert_eq!(
        parse(b"SET prez obama"),
        Ok(Command::Set {
            key: "prez",
            value: "obama"
        })
    );
}

#[test]
fn the_command_is_case_insensitive_but_keys_and_values_are_not() {
    for request in ["get Prez", "Get Prez", "gEt Prez"] {
        assert_eq!(parse(request.as_bytes()), Ok(Command::Get { key: "Prez" }));
    }
    assert_eq!(
        parse(b"set Prez Obama"),
        Ok(Command::Set {
            key: "Prez",
            value: "Obama"
        })
    );
}

#[test]
fn any_run_of_ascii_whitespace_separates_words_and_ends_are_ignored() {
    let expected = Ok(Command::Set {
        key: "a",
        value: "b",
    });
    assert_eq!(parse(b"SET a b\n"), expected, "echo's trailing newline");
    assert_eq!(parse(b"SET a b\r\n"), expected, "a CRLF line end");
    assert_eq!(parse(b"  SET \t a   b  "), expected, "spaces and tabs");
    assert_eq!(parse(b"SET\na\nb"), expected, "newlines are whitespace too");
}

#[test]
fn an_empty_or_blank_request_is_an_error() {
    assert_eq!(parse(b""), Err(RequestError::Empty));
    assert_eq!(parse(b" \t\r\n"), Err(RequestError::Empty));
}

#[test]
fn unknown_commands_are_reported_as_sent() {
    assert_eq!(
        parse(b"foo bar"),
        Err(RequestError::UnknownCommand("foo".to_string()))
    );
    assert_eq!(
        parse(b"DEL prez"),
        Err(RequestError::UnknownCommand("DEL".to_string()))
    );
}

#[test]
fn missing_and_extra_arguments_are_errors() {
    let get = Err(RequestError::WrongArguments {
        command: "GET",
        usage: "GET key",
    });
    let set = Err(RequestError::WrongArguments {
        command: "SET",
        usage: "SET key value",
    });
    assert_eq!(parse(b"GET"), get);
    assert_eq!(parse(b"get a b"), get);
    assert_eq!(parse(b"SET"), set);
    assert_eq!(parse(b"SET a"), set);
    assert_eq!(
        parse(b"SET greeting hello world"),
        set,
        "a value is one word"
    );
    assert_eq!(parse(b"SET a b\nGET a"), set, "one command per request");
}

#[test]
fn bytes_that_are_not_utf8_are_an_error() {
    assert_eq!(parse(b"SET a \xff\xfe"), Err(RequestError::NotUtf8));
}

#[test]
fn a_request_of_exactly_the_limit_is_fine_one_byte_more_is_too_large() {
    let mut request = b"GET ".to_vec();
    request.resize(MAX_REQUEST, b'k');
    let key = "k".repeat(MAX_REQUEST - 4);
    assert_eq!(parse(&request), Ok(Command::Get { key: &key }));

    request.push(b'k');
    assert_eq!(parse(&request), Err(RequestError::TooLarge));
    // The size is checked first: even bytes that are not UTF-8 are "too large".
    assert_eq!(
        parse(&vec![0xff; MAX_REQUEST + 1]),
        Err(RequestError::TooLarge)
    );
}

#[test]
fn error_replies_are_one_exact_line() {
    let store = Store::new();
    let cases = [
        ("", "ERR empty request\n"),
        ("\n", "ERR empty request\n"),
        ("FOO bar", "ERR unknown command \"FOO\"\n"),
        ("FO\"O", "ERR unknown command \"FO\\\"O\"\n"),
        ("\u{0}", "ERR unknown command \"\\0\"\n"),
        (
            "GET",
            "ERR wrong number of arguments for GET (expected: GET key)\n",
        ),
        (
            "GET a b",
            "ERR wrong number of arguments for GET (expected: GET key)\n",
        ),
        (
            "SET a",
            "ERR wrong number of arguments for SET (expected: SET key value)\n",
        ),
        (
            "SET a b c",
            "ERR wrong number of arguments for SET (expected: SET key value)\n",
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(reply_text(&store, request), expected, "request {request:?}");
    }
    assert_eq!(
        store.process(b"\xff").to_bytes(),
        b"ERR request is not UTF-8\n"
    );
    assert_eq!(
        store.process(&vec![b'a'; MAX_REQUEST + 1]).to_bytes(),
        b"ERR request too large (limit is 1048576 bytes)\n"
    );
    assert!(store.is_empty(), "no error stored anything");
}

#[test]
fn a_long_unknown_command_is_cut_to_32_characters() {
    let store = Store::new();
    let word = "x".repeat(32);
    assert_eq!(
        reply_text(&store, &word),
        format!("ERR unknown command \"{word}\"\n"),
        "32 characters are shown whole"
    );
    assert_eq!(
        reply_text(&store, &"y".repeat(100_000)),
        format!("ERR unknown command \"{}\"...\n", "y".repeat(32))
    );
    // Characters, not bytes: a multi-byte character is never split.
    assert_eq!(
        reply_text(&store, &"é".repeat(40)),
        format!("ERR unknown command \"{}\"...\n", "é".repeat(32))
    );
}

#[test]
fn set_answers_the_value_and_get_finds_it() {
    let store = Store::new();
    assert_eq!(
        store.process(b"SET prez obama"),
        Reply::Value("obama".to_string())
    );
    assert_eq!(
        store.process(b"GET prez"),
        Reply::Value("obama".to_string())
    );
    assert_eq!(reply_text(&store, "SET prez lincoln"), "lincoln");
    assert_eq!(reply_text(&store, "get prez\n"), "lincoln");
    assert_eq!(store.get("prez").as_deref(), Some("lincoln"));
}

#[test]
fn get_of_a_missing_key_answers_nothing() {
    let store = Store::new();
    store.set("prez", "obama");
    assert_eq!(store.process(b"GET vp"), Reply::NotFound);
    assert_eq!(store.process(b"GET vp").to_bytes(), b"");
    assert_eq!(
        store.process(b"GET Prez"),
        Reply::NotFound,
        "keys are case-sensitive"
    );
}

#[test]
fn errors_leave_the_store_as_it_was() {
    let store = Store::new();
    store.set("prez", "obama");
    for bad in [
        &b""[..],
        b"SET prez",
        b"SET prez a b",
        b"FOO prez x",
        b"SET prez \xff",
    ] {
        assert!(matches!(store.process(bad), Reply::Error(_)), "{bad:?}");
    }
    assert_eq!(store.len(), 1);
    assert_eq!(store.get("prez").as_deref(), Some("obama"));
}

#[test]
fn clones_share_one_map_across_threads() {
    let store = Store::new();
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            thread::spawn(move || {
                for i in 0..100 {
                    let request = format!("SET key-{t}-{i} value-{i}");
                    assert_eq!(
                        store.process(request.as_bytes()),
                        Reply::Value(format!("value-{i}"))
                    );
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    assert_eq!(store.len(), 400);
    assert_eq!(store.get("key-3-99").as_deref(), Some("value-99"));
}
