//! The serial architecture: accept one client, serve it until it leaves,
//! then accept the next. No concurrency at all — while one client is
//! connected, every other one waits in the kernel's accept queue.
//!
//! The FTP itself (commands, replies, data connections, timeouts) is the
//! shared handler in `src/lib.rs`; this file is only the architecture.
//!
//! Try it: `FTP_ROOT=. cargo run -p ftp-architectures --bin serial`, then in
//! another terminal `curl ftp://127.0.0.1:4481/` (a listing) or
//! `lftp -p 4481 127.0.0.1`.
//!
//! Ctrl-C or SIGTERM end it: their default action terminates the process,
//! and with a single process and no child there is nothing else to stop.

use std::thread;
use std::time::Duration;

use anyhow::Context;
use ftp_architectures::Config;
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;

    // ANCHOR: listen
    // Ruby: TCPServer.new(port) — socket(2), bind(2), listen(2).
    let listener =
        Socket::new(Domain::for_address(config.listen), Type::STREAM, None).context("socket(2)")?;
    listener
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;
    listener
        .bind(&SockAddr::from(config.listen))
        .map_err(|err| conventions::bind_error(config.listen, err))?;
    listener.listen(128).context("listen(2)")?;
    // ANCHOR_END: listen
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);
    eprintln!("serving {}", config.root.display());

    // ANCHOR: serial_loop
    loop {
        // 1. A client connects. Until this returns, every other client waits
        //    in the accept queue (up to the backlog of 128).
        let (connection, client) = match listener.accept() {
            Ok(accepted) => accepted,
            // Out of descriptors (EMFILE), out of memory, a client that gave
            // up while queued: nothing to do with the next client, so keep
            // accepting. The pause keeps a lasting error (EMFILE leaves the
            // connection queued) from becoming a busy loop.
            Err(err) => {
                eprintln!("accept(2) failed: {err}");
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        // 2. Requests and replies, until the client quits, closes or idles.
        //    Nothing else happens meanwhile: that is the serial architecture.
        if let Err(err) = ftp_architectures::serve_connection(connection, &config) {
            let client = client.as_socket().map(|addr| addr.to_string());
            eprintln!(
                "connection from {} ended: {err}",
                client.unwrap_or_default()
            );
        }
        // 3. The connection is closed; back to step 1.
    }
    // ANCHOR_END: serial_loop
}
