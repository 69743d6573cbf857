//! Exercise (Framing Messages): split a byte stream into lines by hand.
//!
//! `BufRead::read_until` did the framing for `newline_server`. Here you write
//! it yourself, the way a non-blocking server must (it cannot sit in a
//! blocking `read_until`): a `LineDecoder` that is fed whatever each
//! `read(2)` returned — half a line, three lines and a bit, one byte — and
//! hands back complete lines.
//!
//! The server around it is written: it reads each connection into a 4 KiB
//! buffer with plain `read`, pushes what it got into the decoder, and answers
//! every complete line with `<n>: <line>` (n counts the lines of that
//! connection from 1). Implement `push` and `next_line`; the contract the
//! tests check:
//! - a line ends with `\n`; a `\r` right before it belongs to the ending
//!   too. Lines come out without their ending, in order, each exactly once;
//! - a line split across reads comes out once its `\n` arrives; several lines
//!   in one read all come out;
//! - a line may be at most `MAX_LINE` (1024) bytes, its `\n` included. As
//!   soon as the decoder holds a longer line — complete or not — `next_line`
//!   returns `Err(LineTooLong)`; the server then answers `ERR line too long`
//!   and hangs up. So the decoder never holds much more than `MAX_LINE`
//!   bytes, whatever a client sends.
//!
//! Try it: `cargo run -p line_decoder` (in `exercises/`), then
//! `nc localhost 4481` and type a few lines.
//!
//! Run the tests with `just exercise line_decoder`
//! (or `cargo test -p line_decoder` inside `exercises/`).
//! Stuck? `just hint line_decoder`.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::thread;

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

/// The longest line accepted, its `\n` included.
// The allow keeps the unsolved file free of warnings until you use it.
#[allow(dead_code)]
const MAX_LINE: usize = 1024;

/// A line was longer than `MAX_LINE`.
#[derive(Debug, PartialEq, Eq)]
struct LineTooLong;

/// Collects bytes as they arrive and cuts complete lines out of them.
struct LineDecoder {
    // TODO: what does the decoder need to remember between reads?
}

impl LineDecoder {
    fn new() -> LineDecoder {
        LineDecoder {}
    }

    /// Appends bytes just read from the socket.
    fn push(&mut self, bytes: &[u8]) {
        // TODO
        let _ = bytes;
        todo!("keep the bytes until they make up a line")
    }

    /// The next complete line, without its `\n` or `\r\n`; `Ok(None)` when
    /// no complete line is buffered yet; `Err(LineTooLong)` when the line
    /// being assembled is (or is sure to become) longer than `MAX_LINE`.
    fn next_line(&mut self) -> Result<Option<Vec<u8>>, LineTooLong> {
        // TODO
        todo!("cut the first line out of what was pushed")
    }
}

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

    loop {
        let (connection, _) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        thread::spawn(move || {
            if let Err(err) = serve(connection) {
                eprintln!("connection ended with an error: {err}");
            }
        });
    }
}

/// Reads whatever arrives, and answers each complete line.
fn serve(mut connection: Socket) -> std::io::Result<()> {
    let mut decoder = LineDecoder::new();
    let mut buffer = [0u8; 4096];
    let mut count = 0;
    loop {
        let n = connection.read(&mut buffer)?;
        if n == 0 {
            return Ok(()); // EOF
        }
        decoder.push(&buffer[..n]);
        loop {
            match decoder.next_line() {
                Ok(Some(line)) => {
                    count += 1;
                    let reply = [format!("{count}: ").as_bytes(), &line, b"\n"].concat();
                    connection.write_all(&reply)?;
                }
                Ok(None) => break, // read more
                Err(LineTooLong) => {
                    connection.write_all(b"ERR line too long\n")?;
                    connection.shutdown(Shutdown::Write)?;
                    return Ok(());
                }
            }
        }
    }
}
