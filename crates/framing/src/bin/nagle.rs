//! Nagle's algorithm meets delayed ACK: why two small writes followed by a
//! read can cost 40 ms per request, and the two ways out.
//!
//! The binary starts its own echo peer on 127.0.0.1 (a thread that reads one
//! request — a 4-byte length, then that many bytes — and sends the body
//! back), then times `ROUNDS` round trips (default 20) three ways:
//!
//! 1. the request in two writes (header, then body), Nagle on (the default);
//! 2. the same two writes with `TCP_NODELAY` set;
//! 3. the request in one write, Nagle on.
//!
//! It prints the median and 90th percentile of each. On Linux the first is
//! about 40 ms, the others a small fraction of a millisecond. No network
//! traffic leaves the machine.
//!
//! Try it: `cargo run -p framing --bin nagle`, or `ROUNDS=100 cargo run -p
//! framing --bin nagle` for steadier figures.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use socket2::{Domain, SockAddr, Socket, Type};

/// The body of every request (and so of every reply): small, like a typical
/// RPC or key-value request.
const BODY: &[u8] = b"GET some-key-1234";

fn main() -> anyhow::Result<()> {
    let rounds = rounds()?;

    // The peer listens on a port the kernel picks: this binary talks only to
    // itself, so it needs no PORT and never clashes with a running server.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    listener
        .bind(&SockAddr::from(any_port))
        .context("bind(2)")?;
    listener.listen(16).context("listen(2)")?;
    let peer_addr = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    thread::spawn(move || echo_peer(listener));

    println!("echo peer on {peer_addr}");
    println!(
        "each round trip: send a 4-byte length and a {}-byte body, read the {}-byte reply",
        BODY.len(),
        BODY.len()
    );
    for (writes, nodelay) in [
        (Writes::Two, false),
        (Writes::Two, true),
        (Writes::One, false),
    ] {
        let (nodelay_read_back, samples) = measure(peer_addr, rounds, writes, nodelay)?;
        let label = format!(
            "{}, TCP_NODELAY {}:",
            writes.label(),
            if nodelay_read_back { "on" } else { "off" }
        );
        println!(
            "{label:<28} median {:>7.3} ms, p90 {:>7.3} ms over {rounds} round trips",
            millis(percentile(&samples, 50)),
            millis(percentile(&samples, 90)),
        );
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Writes {
    /// `write(header)`, `write(body)`: two system calls, two small segments.
    Two,
    /// `write(header + body)`: one system call, one segment.
    One,
}

impl Writes {
    fn label(self) -> &'static str {
        match self {
            Writes::Two => "two writes",
            Writes::One => "one write",
        }
    }
}

/// Connects to the peer and times `rounds` request/reply round trips.
/// Returns the TCP_NODELAY value read back from the kernel, and the samples.
fn measure(
    peer: SocketAddr,
    rounds: usize,
    writes: Writes,
    nodelay: bool,
) -> anyhow::Result<(bool, Vec<Duration>)> {
    let mut socket = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    // ANCHOR: nodelay
    // Ruby: socket.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
    // C:    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &1, sizeof(int))
    socket
        .set_tcp_nodelay(nodelay)
        .context("setsockopt(TCP_NODELAY)")?;
    // getsockopt(2): ask the kernel what it really has now.
    let nodelay_read_back = socket.tcp_nodelay().context("getsockopt(TCP_NODELAY)")?;
    // ANCHOR_END: nodelay
    // A broken peer must end the measurement, not hang it.
    socket.set_read_timeout(Some(Duration::from_secs(5)))?;
    socket
        .connect(&SockAddr::from(peer))
        .with_context(|| format!("connecting to the echo peer at {peer}"))?;

    let header = (BODY.len() as u32).to_be_bytes();
    let mut reply = vec![0u8; BODY.len()];
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        // ANCHOR: round_trip
        match writes {
            Writes::Two => {
                // Two small writes: the header goes out at once; the body is
                // small too, and with Nagle on it waits until the header has
                // been acknowledged.
                socket.write_all(&header)?;
                socket.write_all(BODY)?;
            }
            Writes::One => {
                // The whole request in one buffer, one write(2), one segment.
                let request = [header.as_slice(), BODY].concat();
                socket.write_all(&request)?;
            }
        }
        // Then wait for the reply. The peer answers only once it has the
        // whole request.
        socket
            .read_exact(&mut reply)
            .context("reading the echo peer's reply")?;
        // ANCHOR_END: round_trip
        samples.push(start.elapsed());
        if reply != BODY {
            bail!("the echo peer sent back {reply:?}");
        }
    }
    Ok((nodelay_read_back, samples))
}

// ANCHOR: peer
/// Serves one connection after another: read a 4-byte big-endian length and
/// that many bytes, send the bytes back in one write, repeat until EOF.
///
/// It leaves its own socket options alone: the stall comes from how the
/// *client* writes, and from the peer's kernel delaying its ACK while it
/// waits for something to send back. (It trusts the length because it only
/// ever talks to this program; a real server checks it against a cap first,
/// as the servers of the Framing Messages chapter do.)
fn echo_peer(listener: Socket) {
    while let Ok((mut connection, _)) = listener.accept() {
        let mut header = [0u8; 4];
        // read_exact fails at EOF: the client is done with this connection.
        while connection.read_exact(&mut header).is_ok() {
            let mut body = vec![0u8; u32::from_be_bytes(header) as usize];
            if connection.read_exact(&mut body).is_err() || connection.write_all(&body).is_err() {
                break;
            }
        }
    }
}
// ANCHOR_END: peer

/// `ROUNDS` from the environment, default 20.
fn rounds() -> anyhow::Result<usize> {
    let Ok(text) = std::env::var("ROUNDS") else {
        return Ok(20);
    };
    let rounds: usize = text
        .trim()
        .parse()
        .with_context(|| format!("ROUNDS={text:?} is not a whole number"))?;
    if rounds == 0 {
        bail!("ROUNDS must be at least 1");
    }
    Ok(rounds)
}

/// The `p`th percentile (nearest rank) of `samples`.
fn percentile(samples: &[Duration], p: usize) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
