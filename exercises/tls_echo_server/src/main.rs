//! Exercise (SSL Sockets): a TLS echo server from a given certificate and key.
//!
//! Turn the plain TCP listener below into a TLS echo server. The certificate
//! and its private key are given: `cert.pem` and `key.pem` in this folder (a
//! self-signed certificate for `localhost` and `127.0.0.1`, made once with
//! rcgen as `ssl_server` makes its own).
//!
//! The contract the tests check:
//! - reads the certificate chain from `CERT_FILE` (default `cert.pem`) and
//!   the private key from `KEY_FILE` (default `key.pem`);
//! - binds `127.0.0.1` on `PORT` (default 4481; the tests set `PORT=0`) and
//!   prints `Listening on <ip>:<port>` (`conventions::announce`);
//! - for each connection, one after another: runs the TLS handshake,
//!   presenting that certificate; then writes back, through the TLS session,
//!   every byte of plaintext it reads, in order, until the client ends the
//!   session with close_notify; then sends its own close_notify and closes;
//! - a client that speaks plaintext, fails the handshake, or drops the TCP
//!   connection without close_notify is reported on stderr, and the server
//!   goes on to the next client.
//!
//! Run it from this folder (`cargo run -p tls_echo_server`), and talk to it
//! with `openssl s_client -connect 127.0.0.1:4481 -CAfile cert.pem`.
//! Run the tests with `just exercise tls_echo_server`
//! (or `cargo test -p tls_echo_server` inside `exercises/`).
//! Stuck? `just hint tls_echo_server`.

use std::net::SocketAddr;

// These are the imports the solution uses; the allow keeps the unsolved
// file free of warnings until you use them.
#[allow(unused_imports)]
use std::io::{ErrorKind, Read, Write};
#[allow(unused_imports)]
use std::sync::Arc;

use anyhow::Context;
#[allow(unused_imports)]
use rustls::pki_types::pem::PemObject;
#[allow(unused_imports)]
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
#[allow(unused_imports)]
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let cert_file = std::env::var("CERT_FILE").unwrap_or_else(|_| "cert.pem".to_string());
    let key_file = std::env::var("KEY_FILE").unwrap_or_else(|_| "key.pem".to_string());

    // TODO: read the certificates from `cert_file` and the key from
    // `key_file`, and build an Arc<ServerConfig> that presents them.
    let _ = (&cert_file, &key_file);

    let addr = conventions::listen_addr("127.0.0.1")?;
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    // SO_REUSEADDR, so that a restarted server can bind at once (Socket Options).
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
        let (connection, peer) = listener.accept().context("accept(2)")?;
        let peer = peer.as_socket().context("not an IP peer")?;
        // TODO: a client's failure must be reported on stderr, not end the
        // server.
        serve(connection, peer)?;
    }
}

/// Serves one client: the handshake, the echo, the close.
fn serve(connection: Socket, peer: SocketAddr) -> anyhow::Result<()> {
    // TODO: wrap `connection` in a rustls ServerConnection (StreamOwned
    // moves TLS records through the socket), complete the handshake, echo
    // plaintext until the client's close_notify (a read returns 0), then
    // send close_notify yourself.
    let _ = connection;
    todo!("serve {peer} over TLS")
}
