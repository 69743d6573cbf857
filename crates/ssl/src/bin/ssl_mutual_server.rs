//! Mutual TLS: a server that asks each client for a certificate too, and
//! serves only clients that present one it trusts.
//!
//! Like `ssl_server`, it writes its own certificate to `CERT_FILE` (default
//! `./cert.pem`). It also plays the part of the administrator who hands out
//! client identities: it makes one client certificate, with its key, and
//! writes both to `CLIENT_CERT` (default `./client.pem`, readable by its
//! owner only). It trusts exactly that certificate. A client that presents
//! it gets the greeting; a client that presents none, or another, fails the
//! handshake, which is reported on stderr, and the server goes on.
//!
//! ```text
//! wrote the certificate to cert.pem
//! wrote a client certificate and its key to client.pem
//! Listening on 127.0.0.1:4481
//! accepted 127.0.0.1:40112
//! 127.0.0.1:40112: handshake done; the client presented the certificate from client.pem
//! 127.0.0.1:40112: sent the greeting and closed
//! accepted 127.0.0.1:40120
//! 127.0.0.1:40120: TLS handshake failed: peer sent no certificates
//! ```
//!
//! Try it: `cargo run -p ssl --bin ssl_mutual_server`, then in another
//! terminal `CLIENT_CERT=client.pem cargo run -p ssl --bin ssl_client`
//! (and once without `CLIENT_CERT`).

use std::fs::OpenOptions;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};
use socket2::{Domain, SockAddr, Socket, Type};

const GREETING: &[u8] = b"ohai, holder of client.pem, over mutual TLS\n";

/// As in ssl_server: a silent client must not hold the server up for ever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> anyhow::Result<()> {
    let cert_file = ssl::cert_file();
    let client_cert_file = ssl::path_from_env("CLIENT_CERT", "client.pem");

    // The server's own certificate, exactly as in ssl_server.
    let (cert, key) = ssl::create_self_signed_cert("localhost", &["localhost", "127.0.0.1"])?;
    std::fs::write(&cert_file, cert.pem())
        .with_context(|| format!("writing the certificate to {}", cert_file.display()))?;
    println!("wrote the certificate to {}", cert_file.display());

    // ANCHOR: client_identity
    // A client identity. In real life the client makes its key itself and a
    // certificate authority signs its certificate; here the server makes
    // both and hands them over in one file. The file holds a private key,
    // so only its owner may read it (mode 0600).
    let (client_cert, client_key) = ssl::create_self_signed_cert("ssl_client", &[])?;
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&client_cert_file)
        .with_context(|| format!("creating {}", client_cert_file.display()))?;
    file.write_all(client_cert.pem().as_bytes())
        .and_then(|()| file.write_all(client_key.serialize_pem().as_bytes()))
        .with_context(|| format!("writing {}", client_cert_file.display()))?;
    println!(
        "wrote a client certificate and its key to {}",
        client_cert_file.display()
    );
    // ANCHOR_END: client_identity

    // ANCHOR: verifier
    // Ruby: ctx.verify_mode = VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT, with
    // ctx.cert_store holding the one client certificate we accept. The
    // server sends a CertificateRequest in its handshake, and checks what
    // comes back exactly as a client checks a server: signed by something in
    // `client_roots`, not expired, and signed over the handshake with the
    // certificate's key, which proves the client holds it. (Adding
    // `.allow_unauthenticated()` would accept clients that send none: that
    // is what VERIFY_PEER alone means to OpenSSL on a server.)
    let mut client_roots = RootCertStore::empty();
    client_roots
        .add(client_cert.der().clone())
        .context("the client certificate is not usable as a trust anchor")?;
    let verifier = WebPkiClientVerifier::builder(Arc::new(client_roots))
        .build()
        .context("building the client certificate verifier")?;
    let config = ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .context("the certificate and key do not belong together")?;
    let config = Arc::new(config);
    // ANCHOR_END: verifier

    // The same TCP listener as ever.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    let addr = conventions::listen_addr("127.0.0.1")?;
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
        println!("accepted {peer}");
        match serve(
            connection,
            peer,
            &config,
            client_cert.der(),
            &client_cert_file,
        ) {
            Ok(()) => println!("{peer}: sent the greeting and closed"),
            Err(err) => eprintln!("{peer}: {err:#}"),
        }
    }
}

/// The handshake, the greeting, the close: as in ssl_server, plus a look at
/// the certificate the client presented.
fn serve(
    connection: Socket,
    peer: SocketAddr,
    config: &Arc<ServerConfig>,
    issued: &CertificateDer<'_>,
    issued_file: &Path,
) -> anyhow::Result<()> {
    connection
        .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
        .context("setsockopt(SO_RCVTIMEO)")?;
    connection
        .set_write_timeout(Some(HANDSHAKE_TIMEOUT))
        .context("setsockopt(SO_SNDTIMEO)")?;
    let session = ServerConnection::new(Arc::clone(config)).context("creating a TLS session")?;
    let mut tls = StreamOwned::new(session, connection);
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .context("TLS handshake failed")?;
    }

    // ANCHOR: peer_certificate
    // The verified chain the client presented, its own certificate first.
    // Our verifier trusts one certificate only, so a client that got this far
    // presented that one; we check anyway rather than assume.
    let presented = tls.conn.peer_certificates().and_then(|chain| chain.first());
    if presented == Some(issued) {
        println!(
            "{peer}: handshake done; the client presented the certificate from {}",
            issued_file.display()
        );
    } else {
        println!("{peer}: handshake done; the client presented some other certificate");
    }
    // ANCHOR_END: peer_certificate

    tls.write_all(GREETING).context("writing the greeting")?;
    tls.conn.send_close_notify();
    tls.flush().context("sending close_notify")?;
    Ok(())
}
