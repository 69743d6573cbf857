//! Exercise (Sockets Can Read): read what is there, and notice the end.
//!
//! Reference solution.

use std::io::{self, Read};
use std::net::SocketAddr;

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

/// The most one read may return: Ruby's `readpartial(1024)`.
const MAX_READ: usize = 1024;

fn main() -> anyhow::Result<()> {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    listener
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;
    let addr: SocketAddr = conventions::listen_addr("127.0.0.1")?;
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
        let (mut connection, _peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                continue;
            }
        };
        if let Err(err) = print_reads(&mut connection) {
            eprintln!("connection failed: {err}");
        }
        // `connection` is dropped here: close(2).
    }
}

/// Prints every read on `connection` until EOF.
fn print_reads(connection: &mut Socket) -> io::Result<()> {
    let mut buffer = [0u8; MAX_READ];
    loop {
        match connection.read(&mut buffer) {
            // Where Ruby raises EOFError, Rust returns Ok(0).
            Ok(0) => {
                println!("EOF");
                return Ok(());
            }
            Ok(n) => println!(
                "read {n} bytes: {:?}",
                String::from_utf8_lossy(&buffer[..n])
            ),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
}
