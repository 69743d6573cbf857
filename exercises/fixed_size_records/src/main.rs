//! Exercise (Exchanging Data): put the boundaries back into a stream.
//!
//! Clients of this server send records of exactly 8 bytes each, one after
//! another, on one connection. TCP does not keep the writes apart: one
//! read(2) may return half a record, or three records and the start of a
//! fourth. Cutting the stream into records is the server's job.
//!
//! The contract the tests check:
//! - binds `127.0.0.1` on `PORT` and prints `Listening on <ip>:<port>`
//!   (done for you below);
//! - for each connection, prints `record N: "<the 8 bytes>"` as soon as the
//!   N-th record is complete (N counts from 1 on each connection; the bytes
//!   are shown with `{:?}` of `String::from_utf8_lossy`), without waiting
//!   for the client to finish;
//! - when the client closes its side (a read returns 0) with 1 to 7 bytes
//!   of an unfinished record left over, prints
//!   `incomplete record: K bytes "<those bytes>"`;
//! - then prints `EOF, records received: N`, closes the connection and serves
//!   the next client;
//! - a connection that fails (a reset, say) is reported on stderr and does
//!   not stop the server.
//!
//! Try it: `cargo run -p fixed_size_records` inside `exercises/`, then in
//! another terminal `printf 'rec1....rec2....rec' | nc -N localhost 4481`.
//!
//! Run the tests with `just exercise fixed_size_records`
//! (or `cargo test -p fixed_size_records` inside `exercises/`).
//! Stuck? `just hint fixed_size_records`.

// These are the imports the solution uses; the allow keeps the unsolved
// file free of warnings until you use them.
#[allow(unused_imports)]
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
    // TODO: read in a loop. Each read(2) returns however many bytes happen
    //       to be there: keep the bytes of a record that is not complete
    //       yet, and carry them over to the next read.
    // TODO: print `record N: "…"` for each record as it completes.
    // TODO: on EOF (a read returns Ok(0)), print the incomplete rest if
    //       there is one, then `EOF, records received: N`, and return.
    let _ = connection;
    todo!("cut the stream into records of {RECORD_LEN} bytes")
}
