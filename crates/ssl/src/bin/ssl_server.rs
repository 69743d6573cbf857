//! A TLS server: an ordinary TCP listener, with a TLS session layered on each
//! connection it accepts.
//!
//! At start it makes a self-signed certificate for `localhost` and
//! `127.0.0.1` and writes it, as PEM, to `CERT_FILE` (default `./cert.pem`)
//! so that clients can trust it. Then, for each client in turn: accept the
//! TCP connection, run the TLS handshake on it, send a greeting through the
//! encrypted session and close. A client that speaks plaintext, fails the
//! handshake or says nothing for 5 seconds is reported on stderr, and the
//! server goes on to the next one. (The Ruby example serves one client and
//! stops at the first error.)
//!
//! ```text
//! wrote the certificate to cert.pem
//! Listening on 127.0.0.1:4481
//! accepted 127.0.0.1:51230
//! 127.0.0.1:51230: handshake done (TLSv1_3, TLS13_AES_256_GCM_SHA384)
//! 127.0.0.1:51230: sent the greeting and closed
//! accepted 127.0.0.1:51244
//! 127.0.0.1:51244: TLS handshake failed: received corrupt message of type InvalidContentType
//! ```
//!
//! (The last line, like every report of a failed client, goes to stderr.)
//!
//! Try it: `cargo run -p ssl --bin ssl_server`, then in another terminal (in
//! the same directory, where `cert.pem` now is)
//! `cargo run -p ssl --bin ssl_client`, or
//! `openssl s_client -connect 127.0.0.1:4481 -CAfile cert.pem`.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use socket2::{Domain, SockAddr, Socket, Type};

/// What every client that completes the handshake receives.
const GREETING: &[u8] = b"ohai from ssl_server, over TLS\n";

/// How long a client may keep us waiting during the handshake. This server
/// serves one client at a time, so a client that connects and says nothing
/// would otherwise hold everybody else up for ever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> anyhow::Result<()> {
    let cert_file = ssl::cert_file();

    // ANCHOR: certificate
    // Ruby: create_self_signed_cert(1024, [["CN", "localhost"]], …)
    let (cert, key) = ssl::create_self_signed_cert("localhost", &["localhost", "127.0.0.1"])?;
    // Publish the certificate (never the key): a client that trusts exactly
    // this file knows it is talking to the holder of our key.
    std::fs::write(&cert_file, cert.pem())
        .with_context(|| format!("writing the certificate to {}", cert_file.display()))?;
    println!("wrote the certificate to {}", cert_file.display());
    // ANCHOR_END: certificate

    // ANCHOR: context
    // Ruby: ctx = OpenSSL::SSL::SSLContext.new; ctx.cert, ctx.key = …
    // A ServerConfig is the same idea: everything the sessions of this
    // server share. It is built once and handed to every connection.
    let config = ServerConfig::builder()
        // No VERIFY_PEER: we do not ask clients for a certificate (see
        // ssl_mutual_server for a server that does).
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .context("the certificate and key do not belong together")?;
    let config = Arc::new(config);
    // ANCHOR_END: context

    // ANCHOR: listen
    // Ruby: TCPServer.new(4481). TLS changes nothing here: this is the same
    // listening socket as in every other chapter.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    let addr = conventions::listen_addr("127.0.0.1")?;
    // This server closes each connection first, which leaves the port in
    // TIME_WAIT for a minute; SO_REUSEADDR lets a restarted server bind
    // anyway. Ruby's TCPServer.new sets it too (Socket Options).
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
    // ANCHOR_END: listen

    // ANCHOR: accept_loop
    loop {
        // Ruby: ssl_server.accept, which is two steps. First a plain
        // accept(2): the TCP connection knows nothing about TLS.
        let (connection, peer) = listener.accept().context("accept(2)")?;
        let peer = peer.as_socket().context("not an IP peer")?;
        println!("accepted {peer}");

        // Then the TLS handshake on that connection, and the greeting. A
        // client that fails either is that client's problem: report it and
        // serve the next one. (Ruby's SSLServer raises SSLError here, which
        // ends the example.)
        match serve(connection, peer, &config) {
            Ok(()) => println!("{peer}: sent the greeting and closed"),
            Err(err) => eprintln!("{peer}: {err:#}"),
        }
    }
    // ANCHOR_END: accept_loop
}

// ANCHOR: serve
/// Runs the TLS handshake on an accepted TCP connection, sends the greeting
/// and closes the session.
fn serve(connection: Socket, peer: SocketAddr, config: &Arc<ServerConfig>) -> anyhow::Result<()> {
    // SO_RCVTIMEO and SO_SNDTIMEO (see Timeouts): a read that waits longer
    // fails with EAGAIN, "Resource temporarily unavailable".
    connection
        .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
        .context("setsockopt(SO_RCVTIMEO)")?;
    connection
        .set_write_timeout(Some(HANDSHAKE_TIMEOUT))
        .context("setsockopt(SO_SNDTIMEO)")?;

    // A TLS session for this connection. rustls does no I/O of its own: it
    // turns our plaintext into TLS records and back, and StreamOwned moves
    // those records through the socket with ordinary read(2) and write(2).
    let session = ServerConnection::new(Arc::clone(config)).context("creating a TLS session")?;
    let mut tls = StreamOwned::new(session, connection);

    // The handshake (OpenSSL's SSL_accept): read the ClientHello, answer
    // with our certificate and key share, read the client's Finished. Each
    // complete_io call does the reads and writes that are due next.
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .context("TLS handshake failed")?;
    }
    let version = tls.conn.protocol_version().context("no TLS version")?;
    let suite = tls
        .conn
        .negotiated_cipher_suite()
        .context("no cipher suite")?;
    println!("{peer}: handshake done ({version:?}, {:?})", suite.suite());

    // Ruby: connection.write(…). We write plaintext; rustls encrypts it into
    // a TLS record, and StreamOwned writes the record to the socket.
    tls.write_all(GREETING).context("writing the greeting")?;

    // Ruby: connection.close. TLS has a close of its own, the close_notify
    // alert: it tells the client that the data ended here on purpose, which
    // a TCP FIN alone cannot prove (an attacker can forge a FIN).
    tls.conn.send_close_notify();
    tls.flush().context("sending close_notify")?;
    Ok(())
    // `tls` is dropped here, and with it the socket: close(2) sends FIN.
}
// ANCHOR_END: serve
