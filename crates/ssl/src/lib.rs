//! What the SSL Sockets examples share: where the certificate file lives, and
//! how a server makes the self-signed certificate it presents.
//!
//! Everything about sockets and TLS sessions is in the binaries themselves;
//! this is only the bookkeeping around them.

use std::path::PathBuf;

use anyhow::Context;
use rcgen::{Certificate, CertificateParams, DnType, KeyPair};

/// Where a server writes its certificate and a client reads the one it
/// trusts: `CERT_FILE`, default `cert.pem` in the current directory.
pub fn cert_file() -> PathBuf {
    path_from_env("CERT_FILE", "cert.pem")
}

/// A path from the environment variable `name`, or `default`.
pub fn path_from_env(name: &str, default: &str) -> PathBuf {
    std::env::var_os(name)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

// ANCHOR: create_self_signed_cert
/// A new key pair, and a certificate for it signed with that same key: the
/// Ruby book's `create_self_signed_cert`.
///
/// The certificate names `common_name` as its subject and lists `names` (DNS
/// names or IP addresses) as its subject alternative names. The names are
/// what a client checks: a TLS client compares the name it connected to with
/// this list, and ignores the common name.
///
/// The key never leaves memory: only the certificate, which is public, is
/// written anywhere.
pub fn create_self_signed_cert(
    common_name: &str,
    names: &[&str],
) -> anyhow::Result<(Certificate, KeyPair)> {
    // An ECDSA P-256 key pair (the book asks for 1024-bit RSA, which no
    // current TLS library accepts any more).
    let key = KeyPair::generate().context("generating a key pair")?;

    // Strings that parse as IP addresses become IP address entries; the rest
    // become DNS names.
    let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    let mut params = CertificateParams::new(names).context("certificate names")?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);

    // Self-signed: the issuer is the subject itself, and the signature is
    // made with the certificate's own key. Nobody vouches for it, so a
    // client must be told to trust this exact certificate.
    let cert = params
        .self_signed(&key)
        .context("signing the certificate")?;
    Ok((cert, key))
}
// ANCHOR_END: create_self_signed_cert
