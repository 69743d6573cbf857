//! CloudHash: the key-value store and its request language, shared by every
//! CloudHash server in the book.
//!
//! The chapter *Our First Client/Server* serves CloudHash one request per
//! connection (`src/bin/cloudhash_server.rs`); later chapters frame requests
//! differently and serve many clients at once, but they all answer requests
//! with this module. The binaries keep the socket calls; this file holds no
//! socket at all.
//!
//! # The request language
//!
//! A request is one command, as bytes:
//!
//! | request           | reply                                                  |
//! |-------------------|--------------------------------------------------------|
//! | `SET key value`   | `value` (after storing it under `key`)                 |
//! | `GET key`         | the value stored under `key`, or nothing (zero bytes) |
//!
//! - The request must be valid UTF-8 and at most [`MAX_REQUEST`] bytes.
//! - It is split into words on runs of ASCII whitespace (space, tab, `\n`,
//!   `\r`, form feed), as Ruby's `String#split` does. Leading and trailing
//!   whitespace is ignored, so the trailing newline that `echo` adds is fine.
//! - The command (the first word) is case-insensitive: `get`, `Get` and `GET`
//!   are the same. Keys and values are case-sensitive.
//! - A key or a value is exactly one word: it cannot contain whitespace, and
//!   so it is never empty. `SET greeting hello world` is an error, not a
//!   value with a space in it.
//! - A request is exactly one command. A newline is whitespace like any
//!   other, so two commands in one request are an error (too many words).
//!
//! Because values never contain whitespace, a reply is never ambiguous: an
//! empty reply means "no such key", and a reply that ends in `\n` is an
//! error.
//!
//! # Errors
//!
//! A request that cannot be served gets one line, `ERR <reason>\n`, where the
//! reason is the [`Display`](std::fmt::Display) of a [`RequestError`]:
//!
//! | request                                  | reply                                                    |
//! |------------------------------------------|----------------------------------------------------------|
//! | empty, or only whitespace                | `ERR empty request\n`                                    |
//! | longer than [`MAX_REQUEST`] bytes        | `ERR request too large (limit is 1048576 bytes)\n`       |
//! | not valid UTF-8                          | `ERR request is not UTF-8\n`                             |
//! | `FOO bar` (any unknown command)          | `ERR unknown command "FOO"\n`                            |
//! | `GET`, or `GET a b`                      | `ERR wrong number of arguments for GET (expected: GET key)\n` |
//! | `SET a`, or `SET a b c`                  | `ERR wrong number of arguments for SET (expected: SET key value)\n` |
//!
//! An unknown command is quoted as it was sent, escaped like a Rust string
//! literal (`"FO\"O"`, `"\0"`), so the reply stays one line whatever the
//! client sent. A command longer than 32 characters is cut to its first 32,
//! followed by `...` after the closing quote.
//!
//! An error changes nothing in the store.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

// ANCHOR: max_request
/// The largest request a server accepts, in bytes: 1 MiB.
///
/// A server reads at most `MAX_REQUEST + 1` bytes of a request; if it got
/// that many, the request is too large and the rest is never read.
pub const MAX_REQUEST: usize = 1024 * 1024;
// ANCHOR_END: max_request

// ANCHOR: store
/// The key-value store: a `HashMap` behind a mutex, behind an `Arc`.
///
/// Cloning a `Store` is cheap and gives another handle on the *same* map, so
/// a server can hand one clone to each thread that serves clients. The
/// serial server of this chapter only ever has one, but it will not need
/// to change when it stops being serial.
#[derive(Clone, Debug, Default)]
pub struct Store {
    entries: Arc<Mutex<HashMap<String, String>>>,
}
// ANCHOR_END: store

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// The value stored under `key`, if any.
    pub fn get(&self, key: &str) -> Option<String> {
        self.lock().get(key).cloned()
    }

    /// Stores `value` under `key`, replacing what was there.
    pub fn set(&self, key: &str, value: &str) {
        self.lock().insert(key.to_string(), value.to_string());
    }

    /// How many keys the store holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store holds no key at all.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    // ANCHOR: process
    /// Serves one request: parses it, runs it against the store, and says
    /// what to answer. Ruby: `CloudHash::Server#process`.
    pub fn process(&self, request: &[u8]) -> Reply {
        match parse(request) {
            Ok(command) => self.execute(command),
            Err(err) => Reply::Error(err),
        }
    }

    /// Runs an already parsed command.
    pub fn execute(&self, command: Command<'_>) -> Reply {
        match command {
            Command::Get { key } => match self.get(key) {
                Some(value) => Reply::Value(value),
                None => Reply::NotFound,
            },
            Command::Set { key, value } => {
                self.set(key, value);
                Reply::Value(value.to_string())
            }
        }
    }
    // ANCHOR_END: process

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // A mutex is "poisoned" when a thread panicked while holding it. Every
        // change we make is a single `insert`, so the map is never left half
        // updated: carry on with it rather than panic in turn.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A request, parsed. It borrows its words from the request bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// `GET key`
    Get { key: &'a str },
    /// `SET key value`
    Set { key: &'a str, value: &'a str },
}

/// Why a request was refused. Its `Display` is the text after `ERR ` in the
/// reply (see the [module documentation](crate) for each exact text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// No words at all: zero bytes, or only whitespace.
    Empty,
    /// More than [`MAX_REQUEST`] bytes.
    TooLarge,
    /// Bytes that are not valid UTF-8.
    NotUtf8,
    /// A first word that is neither `GET` nor `SET`, as it was sent.
    UnknownCommand(String),
    /// `GET` or `SET` with too few or too many words after it.
    WrongArguments {
        /// `"GET"` or `"SET"`
        command: &'static str,
        /// What a correct request looks like, e.g. `"GET key"`.
        usage: &'static str,
    },
}

/// How much of an unknown command an error reply repeats.
const SHOWN_CHARS: usize = 32;

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Empty => write!(f, "empty request"),
            RequestError::TooLarge => {
                write!(f, "request too large (limit is {MAX_REQUEST} bytes)")
            }
            RequestError::NotUtf8 => write!(f, "request is not UTF-8"),
            RequestError::UnknownCommand(word) => {
                // `{:?}` quotes the word and escapes quotes, backslashes and
                // control characters, so the reply stays one line. A long
                // word is cut: nobody needs a megabyte of it echoed back.
                let shown: String = word.chars().take(SHOWN_CHARS).collect();
                let cut = if shown.len() < word.len() { "..." } else { "" };
                write!(f, "unknown command {shown:?}{cut}")
            }
            RequestError::WrongArguments { command, usage } => {
                write!(
                    f,
                    "wrong number of arguments for {command} (expected: {usage})"
                )
            }
        }
    }
}

impl std::error::Error for RequestError {}

// ANCHOR: parse
/// Parses one request (see the [module documentation](crate) for the rules).
pub fn parse(request: &[u8]) -> Result<Command<'_>, RequestError> {
    if request.len() > MAX_REQUEST {
        return Err(RequestError::TooLarge);
    }
    let text = std::str::from_utf8(request).map_err(|_| RequestError::NotUtf8)?;
    // Ruby: `command, key, value = request.split`. Ruby quietly drops extra
    // words and fills missing ones with nil; we collect them all and insist
    // on the right number.
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    let Some((&command, arguments)) = words.split_first() else {
        return Err(RequestError::Empty);
    };
    // Ruby: `case command.upcase`.
    if command.eq_ignore_ascii_case("GET") {
        match arguments {
            [key] => Ok(Command::Get { key }),
            _ => Err(RequestError::WrongArguments {
                command: "GET",
                usage: "GET key",
            }),
        }
    } else if command.eq_ignore_ascii_case("SET") {
        match arguments {
            [key, value] => Ok(Command::Set { key, value }),
            _ => Err(RequestError::WrongArguments {
                command: "SET",
                usage: "SET key value",
            }),
        }
    } else {
        Err(RequestError::UnknownCommand(command.to_string()))
    }
}
// ANCHOR_END: parse

// ANCHOR: reply
/// What a server answers to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The value that `SET` stored or `GET` found.
    Value(String),
    /// `GET` of a key that holds no value.
    NotFound,
    /// The request was refused; nothing changed.
    Error(RequestError),
}

impl Reply {
    /// The reply as this chapter's server writes it before closing the
    /// connection: the value as is (no newline, as in the Ruby book), zero
    /// bytes for a missing key, or the one line `ERR <reason>\n`.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Reply::Value(value) => value.as_bytes().to_vec(),
            Reply::NotFound => Vec::new(),
            Reply::Error(err) => format!("ERR {err}\n").into_bytes(),
        }
    }
}
// ANCHOR_END: reply

/// The epoll event loop of `cloudhash_evented` and `cloudhash_hybrid`
/// (Linux only).
#[cfg(target_os = "linux")]
pub mod reactor;
