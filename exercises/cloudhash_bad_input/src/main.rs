//! Exercise (Our First Client/Server): a CloudHash server that bad clients
//! cannot stop.
//!
//! This server speaks the chapter's protocol (one request per connection,
//! read to EOF, answer, close) and works fine for polite clients. It is the
//! Ruby book's server translated word for word, and so it trusts every
//! client: a single bad request panics it or makes `main` return, and the
//! data of every other client is gone with it. Make it survive.
//!
//! The contract the tests check, besides `SET key value` (answers the value)
//! and `GET key` (answers the value, or nothing):
//!
//! - Each bad request gets exactly this one-line reply, and the server goes
//!   on serving with its data intact:
//!   - no words at all (zero bytes, or only whitespace):
//!     `ERR empty request\n`
//!   - a first word other than GET/SET (any case), e.g. `FOO bar`:
//!     `ERR unknown command "FOO"\n` (the word as sent, formatted with `{:?}`)
//!   - `GET` without exactly one key:
//!     `ERR wrong number of arguments for GET (expected: GET key)\n`
//!   - `SET` without exactly a key and a value (too few *or* too many words):
//!     `ERR wrong number of arguments for SET (expected: SET key value)\n`
//!   - bytes that are not UTF-8: `ERR request is not UTF-8\n`
//!   - more than `MAX_REQUEST` (1 MiB) bytes:
//!     `ERR request too large (limit is 1048576 bytes)\n` — and the server
//!     must answer as soon as it has read `MAX_REQUEST + 1` bytes, without
//!     waiting for EOF or keeping more than that in memory.
//! - A client that connects and closes without sending anything, or resets
//!   the connection mid-request, costs only its own connection.
//!
//! Run the tests with `just exercise cloudhash_bad_input`
//! (or `cargo test -p cloudhash_bad_input` inside `exercises/`).
//! Stuck? `just hint cloudhash_bad_input`.

use std::collections::HashMap;
use std::io::{Read, Write};

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

/// The largest request the server should read: 1 MiB.
// The allow keeps the unsolved file free of warnings until you use it.
#[allow(dead_code)]
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
        // TODO: every `?` in this loop ends `main`, and so the server, when
        // one client misbehaves (try a client that resets). Report the error
        // on stderr and go on with the next connection instead.
        let (mut connection, _peer) = listener.accept().context("accept(2)")?;

        // TODO: this reads until EOF however much the client sends. Read at
        // most MAX_REQUEST + 1 bytes (`Read::take` helps).
        let mut request = Vec::new();
        connection.read_to_end(&mut request)?;

        let reply = process(&mut storage, &request);
        connection.write_all(reply.as_bytes())?;
    }
}

/// Answers one request.
fn process(storage: &mut HashMap<String, String>, request: &[u8]) -> String {
    // TODO: refuse a request over MAX_REQUEST bytes.
    // TODO: `unwrap` panics on bytes that are not UTF-8.
    let text = std::str::from_utf8(request).unwrap();
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    // TODO: `words[0]` panics on an empty request, `words[1]` and `words[2]`
    // when arguments are missing, and extra words are silently ignored.
    let command = words[0].to_ascii_uppercase();
    match command.as_str() {
        "GET" => storage.get(words[1]).cloned().unwrap_or_default(),
        "SET" => {
            storage.insert(words[1].to_string(), words[2].to_string());
            words[2].to_string()
        }
        // TODO: an unknown command is the client's mistake, not a reason to
        // stop the server.
        _ => panic!("unknown command {command}"),
    }
}
