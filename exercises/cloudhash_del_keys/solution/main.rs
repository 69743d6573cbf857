//! Exercise (Our First Client/Server): teach CloudHash two new commands.
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
        // `remove` hands back what was stored, which is just what DEL answers.
        ("DEL", [key]) => storage.remove(*key).unwrap_or_default(),
        ("DEL", _) => wrong_arguments("DEL", "DEL key"),
        ("KEYS", []) => {
            // A HashMap has no order of its own: sort, so the reply is the
            // same every time.
            let mut keys: Vec<&str> = storage.keys().map(String::as_str).collect();
            keys.sort_unstable();
            keys.join(" ")
        }
        ("KEYS", _) => wrong_arguments("KEYS", "KEYS"),
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
