//! Exercise (Our First Client/Server): a CloudHash server that bad clients
//! cannot stop.
//!
//! Reference solution.

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
        // An accept that fails is one client's problem: report it, go on.
        let (mut connection, _peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        // So is a read or write that fails (a reset, a client gone away).
        if let Err(err) = handle(&mut connection, &mut storage) {
            eprintln!("connection ended with an error: {err}");
        }
    }
}

/// One connection: read the request to EOF, write the reply, close.
fn handle(connection: &mut Socket, storage: &mut HashMap<String, String>) -> std::io::Result<()> {
    let mut request = Vec::new();
    // At most MAX_REQUEST + 1 bytes: enough to know a request is too large
    // without keeping any more of it.
    connection
        .take(MAX_REQUEST as u64 + 1)
        .read_to_end(&mut request)?;
    let reply = process(storage, &request);
    connection.write_all(reply.as_bytes())
}

/// Answers one request. Never panics, whatever the bytes.
fn process(storage: &mut HashMap<String, String>, request: &[u8]) -> String {
    if request.len() > MAX_REQUEST {
        return error(&format!("request too large (limit is {MAX_REQUEST} bytes)"));
    }
    let Ok(text) = std::str::from_utf8(request) else {
        return error("request is not UTF-8");
    };
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    // `split_first` instead of `words[0]`: no first word, no panic.
    let Some((command, arguments)) = words.split_first() else {
        return error("empty request");
    };
    // Matching the arguments as a slice checks their number and names them
    // in one go: no indexing, so nothing can be out of bounds.
    match (command.to_ascii_uppercase().as_str(), arguments) {
        ("GET", [key]) => storage.get(*key).cloned().unwrap_or_default(),
        ("GET", _) => wrong_arguments("GET", "GET key"),
        ("SET", [key, value]) => {
            storage.insert(key.to_string(), value.to_string());
            value.to_string()
        }
        ("SET", _) => wrong_arguments("SET", "SET key value"),
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
