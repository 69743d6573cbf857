//! Exercise (Our First Client/Server): teach CloudHash two new commands.
//!
//! This is a complete, working CloudHash server, the chapter's protocol in
//! one file: one request per connection, read to EOF, answer, close. It
//! knows `GET key` and `SET key value`. Add two commands to `process`:
//!
//! - `DEL key` removes `key` and answers the value it held, or nothing (an
//!   empty reply) if it held none. A `GET` of that key afterwards answers
//!   nothing.
//! - `KEYS` answers every key in the store, sorted (plain string order),
//!   separated by single spaces, with no newline at the end: `a b c`. An
//!   empty store answers nothing.
//!
//! Like `GET` and `SET`, both are case-insensitive (`del`, `Keys`), and the
//! wrong number of words is an error, one line each, exactly:
//!
//! - `ERR wrong number of arguments for DEL (expected: DEL key)\n`
//! - `ERR wrong number of arguments for KEYS (expected: KEYS)\n`
//!
//! Everything else stays as it is: GET, SET and their errors, and
//! `ERR unknown command "FLUSH"\n` for a command nobody taught the server.
//!
//! Try it: `cargo run -p cloudhash_del_keys` inside `exercises/`, then
//! `echo "SET prez obama" | nc -N localhost 4481`,
//! `echo "KEYS" | nc -N localhost 4481`, `echo "DEL prez" | nc -N localhost 4481`.
//!
//! Run the tests with `just exercise cloudhash_del_keys`
//! (or `cargo test -p cloudhash_del_keys` inside `exercises/`).
//! Stuck? `just hint cloudhash_del_keys`.

use std::collections::HashMap;
use std::io::{Read, Write};

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

/// The largest request the server reads: 1 MiB.
const MAX_REQUEST: usize = 1024 * 1024;

fn main() -> anyhow::Result<()> {
    let addr = conventions::listen_addr("127.0.0.1")?;
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    listener
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    listener.listen(128).context("listen(2)")?;
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);

    let mut storage: HashMap<String, String> = HashMap::new();
    loop {
        let (mut connection, _peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        if let Err(err) = handle(&mut connection, &mut storage) {
            eprintln!("connection ended with an error: {err}");
        }
    }
}

/// One connection: read the request to EOF (at most MAX_REQUEST + 1
/// bytes), write the reply, close.
fn handle(connection: &mut Socket, storage: &mut HashMap<String, String>) -> std::io::Result<()> {
    let mut request = Vec::new();
    connection
        .take(MAX_REQUEST as u64 + 1)
        .read_to_end(&mut request)?;
    let reply = process(storage, &request);
    connection.write_all(reply.as_bytes())
}

/// Answers one request.
fn process(storage: &mut HashMap<String, String>, request: &[u8]) -> String {
    if request.len() > MAX_REQUEST {
        return error(&format!("request too large (limit is {MAX_REQUEST} bytes)"));
    }
    let Ok(text) = std::str::from_utf8(request) else {
        return error("request is not UTF-8");
    };
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    let Some((command, arguments)) = words.split_first() else {
        return error("empty request");
    };
    match (command.to_ascii_uppercase().as_str(), arguments) {
        ("GET", [key]) => storage.get(*key).cloned().unwrap_or_default(),
        ("GET", _) => wrong_arguments("GET", "GET key"),
        ("SET", [key, value]) => {
            storage.insert(key.to_string(), value.to_string());
            value.to_string()
        }
        ("SET", _) => wrong_arguments("SET", "SET key value"),
        // TODO: `DEL key`: remove the key, answer the value it held (or
        // nothing). And `DEL` with the wrong number of words.
        // TODO: `KEYS`: every key, sorted, separated by single spaces. And
        // `KEYS` followed by anything.
        _ => error(&format!("unknown command {command:?}")),
    }
}

/// An error reply: one line.
fn error(reason: &str) -> String {
    format!("ERR {reason}\n")
}

fn wrong_arguments(command: &str, usage: &str) -> String {
    error(&format!(
        "wrong number of arguments for {command} (expected: {usage})"
    ))
}
