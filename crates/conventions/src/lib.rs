//! The few conventions every example in the workspace shares, so that each
//! binary can spend its lines on the system calls it teaches.
//!
//! - Servers listen on `HOST:PORT`. `PORT` defaults to 4481, the port the
//!   book uses throughout; `PORT=0` asks the kernel for any free port, which
//!   is how the tests run many servers side by side.
//! - A server prints exactly one line, `Listening on <ip>:<port>`, once it is
//!   ready to accept, with the port the kernel really chose. Tests (and
//!   scripts) wait for that line instead of sleeping.
//! - Clients read the same `HOST`/`PORT` variables, defaulting to
//!   `localhost:4481`, so they pair with their chapter's server.
//!
//! Nothing here touches a socket: reading the environment is not what the
//! book is about.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};

use anyhow::{Context, bail};

/// The port every example uses unless `PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 4481;

/// `PORT` from the environment, or 4481.
pub fn port() -> anyhow::Result<u16> {
    match std::env::var("PORT") {
        Ok(text) => text
            .trim()
            .parse()
            .with_context(|| format!("PORT={text:?} is not a port number (0-65535)")),
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_PORT),
        Err(err) => bail!("PORT is not valid text: {err}"),
    }
}

/// `HOST` from the environment, or `default`.
///
/// Servers pass an address (`"0.0.0.0"`, `"127.0.0.1"`); clients pass
/// `"localhost"`, a name they resolve themselves.
pub fn host(default: &str) -> String {
    std::env::var("HOST").unwrap_or_else(|_| default.to_string())
}

/// The address a server binds: `HOST` (an IP address, default `default_ip`)
/// and `PORT`.
pub fn listen_addr(default_ip: &str) -> anyhow::Result<SocketAddr> {
    let host = host(default_ip);
    let ip: IpAddr = host
        .parse()
        .with_context(|| format!("HOST={host:?} is not an IP address a server can bind"))?;
    Ok(SocketAddr::new(ip, port()?))
}

/// Prints the one line that says a server is ready: `Listening on <ip>:<port>`.
///
/// It is flushed at once because stdout is block-buffered when it is a pipe
/// (as it is under a test or `| tee`), and whoever waits for the line would
/// otherwise wait forever.
pub fn announce(local_addr: SocketAddr) {
    let mut stdout = std::io::stdout().lock();
    // A closed stdout is no reason for a server to stop serving.
    let _ = writeln!(stdout, "Listening on {local_addr}");
    let _ = stdout.flush();
}

/// The error for a failed `bind(2)`, naming the address and the errno so
/// that a reader knows what happened and what to do about it.
///
/// Use it as `listener.bind(&addr.into()).map_err(|err| conventions::bind_error(addr, err))?`.
pub fn bind_error(addr: SocketAddr, err: std::io::Error) -> anyhow::Error {
    let advice = match err.raw_os_error() {
        Some(98) => {
            "EADDRINUSE: another server (perhaps another example still running) holds this port; stop it or set PORT=…"
        }
        Some(99) => "EADDRNOTAVAIL: no interface of this machine has that address; check HOST",
        Some(13) => "EACCES: ports below 1024 need privileges; pick a PORT above 1024",
        _ => "see the error below",
    };
    anyhow::Error::new(err).context(format!("binding {addr} failed with {advice}"))
}

/// The error for a failed `connect(2)`, naming where the client tried to
/// connect and the errno, so that a reader knows what happened and what to
/// do about it. `target` is an address (`127.0.0.1:4481`) or, for a
/// shorthand that resolves a name itself, `host:port`.
///
/// Use it as `socket.connect(&addr.into()).map_err(|err| conventions::connect_error(addr, err))?`.
pub fn connect_error(target: impl std::fmt::Display, err: std::io::Error) -> anyhow::Error {
    let advice = match err.raw_os_error() {
        Some(111) => {
            "ECONNREFUSED: nothing is listening there; start the chapter's server first, or set HOST/PORT"
        }
        Some(110) => "ETIMEDOUT: no answer at all; is the address right?",
        Some(113) => "EHOSTUNREACH: no route to that host; check HOST",
        Some(101) => "ENETUNREACH: no route to that network; check HOST",
        Some(99) => "EADDRNOTAVAIL: no local address or ephemeral port left to connect from",
        _ => "see the error below",
    };
    anyhow::Error::new(err).context(format!("connecting to {target} failed with {advice}"))
}
