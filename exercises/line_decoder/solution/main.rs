//! Exercise (Framing Messages): split a byte stream into lines by hand.
//!
//! Reference solution.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::thread;

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

/// The longest line accepted, its `\n` included.
const MAX_LINE: usize = 1024;

/// A line was longer than `MAX_LINE`.
#[derive(Debug, PartialEq, Eq)]
struct LineTooLong;

/// Collects bytes as they arrive and cuts complete lines out of them.
struct LineDecoder {
    /// Bytes received and not yet handed out: after `next_line` returns
    /// `Ok(None)`, at most one partial line.
    pending: Vec<u8>,
}

impl LineDecoder {
    fn new() -> LineDecoder {
        LineDecoder {
            pending: Vec::new(),
        }
    }

    /// Appends bytes just read from the socket.
    fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    /// The next complete line, without its `\n` or `\r\n`; `Ok(None)` when
    /// no complete line is buffered yet; `Err(LineTooLong)` when the line
    /// being assembled is (or is sure to become) longer than `MAX_LINE`.
    fn next_line(&mut self) -> Result<Option<Vec<u8>>, LineTooLong> {
        match self.pending.iter().position(|&byte| byte == b'\n') {
            // A complete line, but too long (counting its \n).
            Some(end) if end + 1 > MAX_LINE => Err(LineTooLong),
            Some(end) => {
                // Take the line and its \n off the front; keep the rest.
                let mut line: Vec<u8> = self.pending.drain(..=end).collect();
                line.pop(); // the \n
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                Ok(Some(line))
            }
            // No \n yet, and already MAX_LINE bytes: with its \n this line
            // will be longer than MAX_LINE. Refuse now rather than keep
            // collecting.
            None if self.pending.len() >= MAX_LINE => Err(LineTooLong),
            None => Ok(None),
        }
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
