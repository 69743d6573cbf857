//! Exercise (SSL Sockets): a TLS echo server from a given certificate and key.
//!
//! Reference solution.

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let cert_file = std::env::var("CERT_FILE").unwrap_or_else(|_| "cert.pem".to_string());
    let key_file = std::env::var("KEY_FILE").unwrap_or_else(|_| "key.pem".to_string());

    let certs = CertificateDer::pem_file_iter(&cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading certificates from {cert_file}"))?;
    let key = PrivateKeyDer::from_pem_file(&key_file)
        .with_context(|| format!("reading the private key from {key_file}"))?;
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the certificate and key do not belong together")?;
    let config = Arc::new(config);

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
        // One client's failure (plaintext, a failed handshake, a cut
        // connection) must not end the server.
        if let Err(err) = serve(connection, peer, &config) {
            eprintln!("{peer}: {err:#}");
        }
    }
}

fn serve(connection: Socket, peer: SocketAddr, config: &Arc<ServerConfig>) -> anyhow::Result<()> {
    // A silent client must not hold this one-at-a-time server for ever.
    connection.set_read_timeout(Some(Duration::from_secs(10)))?;
    let session = ServerConnection::new(Arc::clone(config))?;
    let mut tls = StreamOwned::new(session, connection);
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .context("TLS handshake failed")?;
    }

    let mut buffer = [0u8; 16 * 1024];
    loop {
        match tls.read(&mut buffer) {
            // The client sent close_notify: a clean end.
            Ok(0) => break,
            Ok(n) => tls.write_all(&buffer[..n]).context("writing the echo")?,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            // Includes UnexpectedEof: the TCP connection ended without a
            // close_notify, so the data may have been cut short.
            Err(err) => return Err(err).with_context(|| format!("reading from {peer}")),
        }
    }

    tls.conn.send_close_notify();
    tls.flush().context("sending close_notify")?;
    Ok(())
}
