//! A TLS client: an ordinary TCP connection, then a TLS handshake on it that
//! checks who is on the other end, then reading through the encrypted
//! session.
//!
//! It connects to `HOST`:`PORT` (default localhost:4481), trusts exactly the
//! certificate in `CERT_FILE` (default `./cert.pem`, written by
//! `ssl_server`), checks that the certificate is valid for `HOST`, and
//! prints the server's greeting:
//!
//! ```text
//! connected to 127.0.0.1:4481
//! handshake done (TLSv1_3, TLS13_AES_256_GCM_SHA384): the server proved it is localhost
//! ohai from ssl_server, over TLS
//! ```
//!
//! A server whose certificate is not the one in `CERT_FILE`, or not valid for
//! `HOST`, is refused: the client prints why and exits with status 1.
//!
//! With `CLIENT_CERT` set to a PEM file holding a certificate and its key
//! (as `ssl_mutual_server` writes one), the client presents that certificate
//! when the server asks for one: mutual TLS.
//!
//! Try it: `cargo run -p ssl --bin ssl_server` in one terminal, then
//! `cargo run -p ssl --bin ssl_client` in another, in the same directory.

use std::io::{self, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{CertificateError, ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use socket2::{Domain, SockAddr, Socket, Type};

/// How long we wait for the server at any one step, so that a server that
/// never answers (a plain TCP server, say, waiting for us to speak first)
/// cannot hang the client.
const TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> anyhow::Result<()> {
    let host = conventions::host("localhost");
    let port = conventions::port()?;
    let cert_file = ssl::cert_file();

    // ANCHOR: trust
    // Trust anchors: the certificates we believe. A browser trusts over a
    // hundred certificate authorities; we trust exactly one certificate, the
    // one our server wrote.
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(&cert_file).with_context(|| {
        format!(
            "reading {} (start ssl_server first: it writes this file; or set CERT_FILE)",
            cert_file.display()
        )
    })?;
    for cert in certs {
        let cert = cert.with_context(|| format!("parsing {}", cert_file.display()))?;
        roots
            .add(cert)
            .with_context(|| format!("{} holds an unusable certificate", cert_file.display()))?;
    }
    if roots.is_empty() {
        bail!("{} holds no certificate", cert_file.display());
    }
    // ANCHOR_END: trust

    // ANCHOR: config
    // Ruby: OpenSSL::SSL::SSLContext.new, on the client side. rustls always
    // verifies the server (OpenSSL's VERIFY_PEER); there is no switch to
    // turn that off short of writing your own verifier.
    let builder = ClientConfig::builder().with_root_certificates(roots);
    let config = match std::env::var_os("CLIENT_CERT") {
        // The usual case: the server asks nothing of us.
        None => builder.with_no_client_auth(),
        // Mutual TLS: present a certificate, and prove we hold its key.
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(&path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .with_context(|| format!("reading certificates from CLIENT_CERT={path:?}"))?;
            let key = PrivateKeyDer::from_pem_file(&path)
                .with_context(|| format!("reading the private key from CLIENT_CERT={path:?}"))?;
            builder
                .with_client_auth_cert(certs, key)
                .context("the client certificate and key do not belong together")?
        }
    };
    // ANCHOR_END: config

    // ANCHOR: server_name
    // The name the certificate must be valid for: the name we asked for.
    // Without this check, any server holding *some* trusted certificate
    // could pose as this one. An IP address works too, if the certificate
    // lists it (ssl_server's lists 127.0.0.1).
    let server_name = ServerName::try_from(host.clone())
        .with_context(|| format!("HOST={host:?} is neither a DNS name nor an IP address"))?;
    // ANCHOR_END: server_name

    // ANCHOR: connect
    // Ruby: TCPSocket.new(host, 4481). A plain TCP connection, made exactly
    // as in Client Lifecycle: TLS needs a connected socket to run on.
    let addrs: Vec<SocketAddr> = (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host:?}"))?
        .collect();
    let mut connected = None;
    for addr in addrs {
        let socket =
            Socket::new(Domain::for_address(addr), Type::STREAM, None).context("socket(2)")?;
        match socket.connect(&SockAddr::from(addr)) {
            Ok(()) => {
                connected = Some((socket, addr));
                break;
            }
            // Not fatal yet: the next address may work.
            Err(err) => eprintln!("{:#}", conventions::connect_error(addr, err)),
        }
    }
    let Some((socket, addr)) = connected else {
        bail!("could not connect to {host}:{port}");
    };
    println!("connected to {addr}");
    socket
        .set_read_timeout(Some(TIMEOUT))
        .context("setsockopt(SO_RCVTIMEO)")?;
    // ANCHOR_END: connect

    // ANCHOR: handshake
    // Ruby: ssl_socket = OpenSSL::SSL::SSLSocket.new(socket); ssl_socket.connect
    let session =
        ClientConnection::new(Arc::new(config), server_name).context("creating a TLS session")?;
    let mut tls = StreamOwned::new(session, socket);
    // The handshake (OpenSSL's SSL_connect). This is where the server's
    // certificate is checked: signed by something we trust, valid for
    // `host`, not expired. If any check fails, rustls sends the server an
    // alert and complete_io returns the reason.
    while tls.conn.is_handshaking() {
        if let Err(err) = tls.conn.complete_io(&mut tls.sock) {
            let message = match explain(&err, &host, &cert_file) {
                Some(why) => {
                    format!(
                        "TLS handshake with {addr} failed: {why}; refusing to talk to this server"
                    )
                }
                None => format!("TLS handshake with {addr} failed"),
            };
            return Err(err).context(message);
        }
    }
    let version = tls.conn.protocol_version().context("no TLS version")?;
    let suite = tls
        .conn
        .negotiated_cipher_suite()
        .context("no cipher suite")?;
    println!(
        "handshake done ({version:?}, {:?}): the server proved it is {host}",
        suite.suite()
    );
    // ANCHOR_END: handshake

    // ANCHOR: read
    // Ruby: ssl_socket.read. Reading to the end means reading to the
    // server's close_notify; a connection that ends without one is an error
    // (UnexpectedEof), because we could not tell it from a cut connection.
    let mut greeting = Vec::new();
    tls.read_to_end(&mut greeting)
        .context("reading the greeting")?;
    print!("{}", String::from_utf8_lossy(&greeting));
    // ANCHOR_END: read
    Ok(())
}

// ANCHOR: explain
/// Says in a reader's words why the server's certificate was refused, if
/// that is what went wrong. complete_io wraps rustls's own error in an
/// io::Error.
fn explain(err: &io::Error, host: &str, cert_file: &Path) -> Option<String> {
    let Some(rustls::Error::InvalidCertificate(cert_error)) = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return None;
    };
    let why = match cert_error {
        // Nothing we trust signed it. (Two self-signed certificates with the
        // same subject, CN=localhost, give BadSignature: the issuer's name
        // matches our certificate, but the signature was made with another
        // key.)
        CertificateError::UnknownIssuer | CertificateError::BadSignature => format!(
            "nothing in {} vouches for its certificate (was that file written by this server?)",
            cert_file.display()
        ),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("its certificate is not valid for the name {host}")
        }
        _ => "its certificate is not acceptable".to_string(),
    };
    Some(why)
}
// ANCHOR_END: explain
