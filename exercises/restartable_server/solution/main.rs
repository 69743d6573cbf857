//! Exercise (Socket Options): a server you can restart at once.
//!
//! Reference solution.

use std::io::Write;

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let addr = conventions::listen_addr("127.0.0.1")?;

    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    // Before bind(2): bind is where the kernel checks it. Every connection
    // this listener accepts inherits the flag, and Linux needs it on both
    // the TIME_WAIT connection of the last run and the new listener.
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
        let (mut connection, _peer) = listener.accept().context("accept(2)")?;
        let reply = match connection.reuse_address() {
            Ok(reuse_address) => format!("SO_REUSEADDR={reuse_address}\n"),
            Err(err) => format!("SO_REUSEADDR=unknown ({err})\n"),
        };
        // A client that has already gone is no reason to stop serving.
        if let Err(err) = connection.write_all(reply.as_bytes()) {
            eprintln!("writing the greeting failed: {err}");
        }
        // close(2) before the client does: the active close.
        drop(connection);
    }
}
