//! Exercise (Exchanging Data): put the boundaries back into a stream.
//!
//! Reference solution.

use std::io::{self, Read};
use std::net::SocketAddr;

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

/// Every record is exactly this many bytes.
const RECORD_LEN: usize = 8;

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
        if let Err(err) = print_records(&mut connection) {
            eprintln!("connection failed: {err}");
        }
        // `connection` is dropped here: close(2).
    }
}

/// Reads the connection until EOF, printing each 8-byte record as soon as
/// it is complete, then the incomplete rest (if any) and `EOF, records received: N`.
fn print_records(connection: &mut Socket) -> io::Result<()> {
    // Bytes received but not yet printed: always less than one record
    // between reads.
    let mut pending: Vec<u8> = Vec::new();
    let mut records = 0;
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let n = match connection.read(&mut buffer) {
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if n == 0 {
            if !pending.is_empty() {
                println!(
                    "incomplete record: {} bytes {:?}",
                    pending.len(),
                    String::from_utf8_lossy(&pending)
                );
            }
            println!("EOF, records received: {records}");
            return Ok(());
        }
        // This read may end a record, hold several, and start another:
        // append it, then print every complete record at the front.
        pending.extend_from_slice(&buffer[..n]);
        while pending.len() >= RECORD_LEN {
            let record: Vec<u8> = pending.drain(..RECORD_LEN).collect();
            records += 1;
            println!("record {records}: {:?}", String::from_utf8_lossy(&record));
        }
    }
}
