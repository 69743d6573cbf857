//! Part 2 of the book: Nagle's algorithm, and framing many messages on one
//! connection.
//!
//! Every socket call is in a binary in `src/bin/`. This file holds only what
//! the two framed CloudHash servers (`newline_server`, `length_prefix_server`)
//! share, so that each of them can spend its lines on framing:
//!
//! - [`Store`], the key-value map that every connection reads and writes;
//! - [`process`], which turns one request into one reply (or the end of the
//!   session);
//! - the caps, [`MAX_LINE`] and [`MAX_FRAME`].
//!
//! # The commands
//!
//! A request is the bytes of one message, its frame (the newline, or the
//! length prefix) already removed by the server:
//!
//! | request | reply |
//! |---|---|
//! | `SET <key> <value>` | `OK` |
//! | `GET <key>`, key present | `VALUE <value>` (`VALUE`, one space, the value's bytes, possibly none) |
//! | `GET <key>`, key absent | `NIL` |
//! | `exit` | none: the server closes the connection |
//! | anything else | `ERR <what went wrong>` |
//!
//! The command word is matched without regard to case (`set`, `Get`). Fields
//! are separated by exactly one space: the key runs up to the first space
//! after the command and may not be empty; the value is *every* byte after
//! the space that ends the key, spaces included, and may be empty. So
//! `SET k ` stores an empty value, and `GET k` then answers `VALUE ` — which
//! is not `NIL`: a client can always tell "empty" from "missing".
//!
//! Replies never contain a newline except inside a value, and a value can
//! only contain one if it was stored through the length-prefixed server. An
//! `ERR` message quotes at most a few bytes of the request, escaped, so an
//! error is always one short line.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The longest line `newline_server` accepts, its `\n` (or `\r\n`) included:
/// 64 KiB. A longer line gets `ERR line too long…` and the connection is
/// closed; the server never holds more than this much of one line.
pub const MAX_LINE: usize = 64 * 1024;

/// The largest payload `length_prefix_server` accepts, not counting the
/// 4-byte length in front of it: 1 MiB. A larger length is refused before
/// anything is allocated for it.
///
/// No reply is larger either, so a client can apply the same cap: the
/// longest reply is `VALUE <value>`, and the request that stored the value,
/// `SET <key> <value>` with a key of at least one byte, was at least as long.
pub const MAX_FRAME: u32 = 1024 * 1024;

/// The key-value map shared by every connection of one server.
///
/// Cloning a `Store` clones a handle (an `Arc`), not the map: every thread
/// gets its own handle to the one map, and the `Mutex` makes each `SET` and
/// `GET` happen whole, one at a time.
#[derive(Clone, Default)]
pub struct Store {
    entries: Arc<Mutex<HashMap<Vec<u8>, Vec<u8>>>>,
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// Stores `value` under `key`, replacing what was there.
    pub fn set(&self, key: &[u8], value: &[u8]) {
        self.lock().insert(key.to_vec(), value.to_vec());
    }

    /// The value stored under `key`, if any.
    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.lock().get(key).cloned()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Vec<u8>, Vec<u8>>> {
        // A poisoned lock means another thread panicked while holding it.
        // `insert` and `get` cannot leave the map half-changed, so the map is
        // still sound: keep serving rather than panic in every thread.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a server does after one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Send this reply to the client, framed the way the request was (the
    /// caller adds the `\n` or the length prefix).
    Reply(Vec<u8>),
    /// The client sent `exit`: close the connection, without a reply.
    Exit,
}

const SET_USAGE: &str = "usage: SET <key> <value>";
const GET_USAGE: &str = "usage: GET <key>";

// ANCHOR: process
/// Runs one request (its frame already removed) against `store`.
pub fn process(store: &Store, request: &[u8]) -> Outcome {
    let (command, args) = split_at_space(request);
    let reply = if request.is_empty() {
        error("empty request")
    } else if command.eq_ignore_ascii_case(b"SET") {
        set(store, args)
    } else if command.eq_ignore_ascii_case(b"GET") {
        get(store, args)
    } else if command.eq_ignore_ascii_case(b"exit") {
        match args {
            None => return Outcome::Exit,
            Some(_) => error("usage: exit"),
        }
    } else {
        error(&format!(
            "unknown command \"{}\" (expected SET, GET or exit)",
            quote(command)
        ))
    };
    Outcome::Reply(reply)
}

fn set(store: &Store, args: Option<&[u8]>) -> Vec<u8> {
    // The key ends at the first space; the value is everything after it.
    let Some((key, Some(value))) = args.map(split_at_space) else {
        return error(SET_USAGE);
    };
    if key.is_empty() {
        return error(SET_USAGE);
    }
    store.set(key, value);
    b"OK".to_vec()
}

fn get(store: &Store, args: Option<&[u8]>) -> Vec<u8> {
    let Some(key) = args else {
        return error(GET_USAGE);
    };
    if key.is_empty() || key.contains(&b' ') {
        return error(GET_USAGE);
    }
    match store.get(key) {
        // `VALUE ` even when the value is empty, so that empty ≠ missing.
        Some(value) => [b"VALUE ".as_slice(), &value].concat(),
        None => b"NIL".to_vec(),
    }
}
// ANCHOR_END: process

/// `ERR <message>`.
fn error(message: &str) -> Vec<u8> {
    format!("ERR {message}").into_bytes()
}

/// Splits `bytes` at its first space: the word before it, and everything
/// after it (`None` when there is no space at all).
fn split_at_space(bytes: &[u8]) -> (&[u8], Option<&[u8]>) {
    match bytes.iter().position(|&byte| byte == b' ') {
        Some(at) => (&bytes[..at], Some(&bytes[at + 1..])),
        None => (bytes, None),
    }
}

/// At most 32 bytes of `bytes`, escaped so that an error reply stays one
/// printable line whatever the client sent.
fn quote(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(32)];
    let mut text = shown.escape_ascii().to_string();
    if shown.len() < bytes.len() {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(store: &Store, request: &[u8]) -> String {
        match process(store, request) {
            Outcome::Reply(bytes) => String::from_utf8(bytes).unwrap(),
            Outcome::Exit => panic!("{request:?} ended the session"),
        }
    }

    #[test]
    fn set_then_get() {
        let store = Store::new();
        assert_eq!(reply(&store, b"SET prez obama"), "OK");
        assert_eq!(reply(&store, b"GET prez"), "VALUE obama");
        assert_eq!(reply(&store, b"get prez"), "VALUE obama");
    }

    #[test]
    fn a_missing_key_is_not_an_empty_value() {
        let store = Store::new();
        assert_eq!(reply(&store, b"GET vp"), "NIL");
        assert_eq!(reply(&store, b"SET vp "), "OK");
        assert_eq!(reply(&store, b"GET vp"), "VALUE ");
    }

    #[test]
    fn the_value_is_every_byte_after_the_key() {
        let store = Store::new();
        assert_eq!(reply(&store, b"SET k  two  spaces\nand a newline"), "OK");
        assert_eq!(store.get(b"k").unwrap(), b" two  spaces\nand a newline");
    }

    #[test]
    fn exit_ends_the_session() {
        let store = Store::new();
        assert_eq!(process(&store, b"exit"), Outcome::Exit);
        assert_eq!(process(&store, b"EXIT"), Outcome::Exit);
        assert_eq!(reply(&store, b"exit now"), "ERR usage: exit");
    }

    #[test]
    fn bad_requests_get_one_line_errors() {
        let store = Store::new();
        assert_eq!(reply(&store, b""), "ERR empty request");
        assert_eq!(reply(&store, b"SET"), "ERR usage: SET <key> <value>");
        assert_eq!(reply(&store, b"SET k"), "ERR usage: SET <key> <value>");
        assert_eq!(reply(&store, b"SET  v"), "ERR usage: SET <key> <value>");
        assert_eq!(reply(&store, b"GET"), "ERR usage: GET <key>");
        assert_eq!(reply(&store, b"GET "), "ERR usage: GET <key>");
        assert_eq!(reply(&store, b"GET a b"), "ERR usage: GET <key>");
        assert_eq!(
            reply(&store, b"DEL\n\xff"),
            "ERR unknown command \"DEL\\n\\xff\" (expected SET, GET or exit)"
        );
        let long = [b'x'; 100];
        assert_eq!(
            reply(&store, &long),
            format!(
                "ERR unknown command \"{}…\" (expected SET, GET or exit)",
                "x".repeat(32)
            )
        );
    }

    #[test]
    fn clones_share_one_map() {
        let store = Store::new();
        let other = store.clone();
        store.set(b"k", b"v");
        assert_eq!(other.get(b"k").as_deref(), Some(b"v".as_slice()));
    }
}
