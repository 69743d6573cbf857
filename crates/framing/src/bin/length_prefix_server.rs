//! CloudHash over a persistent connection, each message framed by its length.
//!
//! A newline cannot end a message whose value may itself contain newlines.
//! So here every message, request or reply, is a *frame*:
//!
//! ```text
//! +--------+--------+--------+--------+------------------------+
//! |  length N, 32 bits, big-endian    |  N bytes of payload    |
//! +--------+--------+--------+--------+------------------------+
//! ```
//!
//! - the payload of a request is a command (`SET <key> <value>`, `GET <key>`,
//!   `exit`), and the value may hold any bytes, newlines included;
//! - the payload of a reply is `OK`, `VALUE <value>`, `NIL` or `ERR …`; every
//!   request frame gets exactly one reply frame, in order, except `exit`,
//!   after which the server closes the connection;
//! - N may be 0: an empty request, answered `ERR empty request`;
//! - N may be at most 1 MiB (`framing::MAX_FRAME`). A larger N is refused
//!   before anything is allocated for it: an `ERR` frame, then the server
//!   closes the connection. No reply is ever larger than 1 MiB either.
//!
//! Every connection has its own thread; all of them share one store.
//!
//! Try it: `cargo run -p framing --bin length_prefix_server`, then in another
//! terminal `cargo run -p framing --bin length_prefix_client`, or send a
//! frame by hand: `printf '\0\0\0\10GET prez' | nc localhost 4481 | od -c`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::thread;

use anyhow::Context;
use framing::{MAX_FRAME, Outcome, Store};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let addr = conventions::listen_addr("127.0.0.1")?;
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    // This server closes connections itself (on `exit`), which leaves them in
    // TIME_WAIT on its port for a minute; SO_REUSEADDR lets a restarted
    // server bind anyway. Ruby's TCPServer.new sets it too (Socket Options).
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

    let store = Store::new();
    loop {
        let (connection, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        let peer = peer.as_socket().map_or("?".into(), |peer| peer.to_string());
        // A thread per connection, as in newline_server.
        let store = store.clone();
        let spawned = thread::Builder::new().spawn(move || {
            if let Err(err) = serve(&connection, &store) {
                eprintln!("{peer}: {err}");
            }
        });
        if let Err(err) = spawned {
            eprintln!("cannot start a thread for a new connection: {err}");
        }
    }
}

// ANCHOR: serve
/// Answers one frame after another until `exit`, EOF or a length over the cap.
fn serve(connection: &Socket, store: &Store) -> std::io::Result<()> {
    // Buffered, so that the 4-byte header and a small payload cost one
    // read(2) between them, and several frames that arrive together are all
    // served from that one read.
    let mut reader = BufReader::new(connection);
    loop {
        // EOF exactly between two frames is the client saying goodbye.
        // fill_buf waits for at least one byte, or returns none at EOF.
        if reader.fill_buf()?.is_empty() {
            return Ok(());
        }

        // The header: exactly 4 bytes, however many reads they take.
        // (read_exact loops; a single read(2) may return fewer.)
        let mut header = [0u8; 4];
        reader.read_exact(&mut header)?;
        let length = u32::from_be_bytes(header);

        // Check the length *before* allocating: it came from the network,
        // and 0xFFFFFFFF would otherwise ask us for 4 GiB.
        if length > MAX_FRAME {
            let message = format!("ERR frame of {length} bytes refused (the limit is {MAX_FRAME})");
            send_frame(connection, message.as_bytes())?;
            // Half-close so the error frame and our FIN go out before the
            // close(2) with unread input turns into a RST (see newline_server).
            connection.shutdown(Shutdown::Write)?;
            return Ok(());
        }

        // The payload: exactly `length` bytes. EOF in the middle of a frame
        // is an error (UnexpectedEof), logged by the caller.
        let mut payload = vec![0u8; length as usize];
        reader.read_exact(&mut payload)?;

        match framing::process(store, &payload) {
            Outcome::Exit => return Ok(()),
            Outcome::Reply(reply) => send_frame(connection, &reply)?,
        }
    }
}
// ANCHOR_END: serve

// ANCHOR: send_frame
/// Writes `payload` as one frame: its length as 4 big-endian bytes, then the
/// bytes. Built in one buffer and sent with one write: header and payload
/// in two small writes is the pattern the Nagle chapter warns about.
fn send_frame(connection: &Socket, payload: &[u8]) -> std::io::Result<()> {
    // Every reply fits: replies are never longer than MAX_FRAME (see lib.rs).
    let length = u32::try_from(payload.len()).map_err(std::io::Error::other)?;
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(payload);
    let mut writer = connection;
    writer.write_all(&frame)
}
// ANCHOR_END: send_frame
