//! CloudHash on the evented architecture: one thread, one epoll instance,
//! every connection non-blocking. Linux only.
//!
//! It speaks the newline-framed protocol of the Framing Messages chapter
//! (`SET k v` → `OK`, `GET k` → `VALUE v` or `NIL`, `exit`, errors → `ERR …`;
//! one request per line, `\n` or `\r\n`), with the store and the request
//! handling of the `framing` crate, so that it answers exactly as
//! `newline_server` does. (That is why this crate depends on `framing`.)
//! What differs is how it serves many clients: `newline_server` gives each
//! connection a thread that blocks in read(2); this server has a single
//! thread that never blocks, and an event loop (`src/reactor.rs`) that reads
//! everything a ready connection sent, runs every complete line, and writes
//! all the replies in one write(2).
//!
//! It is the CloudHash server that `bench_cloudhash` measures against Redis,
//! which is built the same way: one thread, an event loop, batching.
//!
//! Try it: `cargo run -p cloudhash --bin cloudhash_evented`, then in another
//! terminal `nc localhost 4481` and type `SET prez obama`, `GET prez`,
//! `exit`. Or pipeline: `printf 'SET a 1\nGET a\nGET b\n' | nc -N localhost 4481`.

#[cfg(target_os = "linux")]
fn main() -> anyhow::Result<()> {
    use anyhow::Context;
    use framing::Store;
    use socket2::{Domain, SockAddr, Socket, Type};

    let addr = conventions::listen_addr("127.0.0.1")?;
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    // Connections this server closes (after `exit`) linger in TIME_WAIT on
    // its port; SO_REUSEADDR lets a restarted server bind anyway.
    listener
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    listener.listen(1024).context("listen(2)")?;
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);

    // ANCHOR: run
    // One thread serves every connection: the event loop never returns
    // unless epoll itself fails.
    cloudhash::reactor::run(listener, Store::new())
    // ANCHOR_END: run
}

#[cfg(not(target_os = "linux"))]
fn main() -> anyhow::Result<()> {
    anyhow::bail!("cloudhash_evented uses epoll, which is Linux only")
}
