//! The client lifecycle, one system call per step: create, (bind), connect,
//! close.
//!
//! A client never has to call bind(2): when it connects, the kernel binds it
//! to a free port from the ephemeral range
//! (`/proc/sys/net/ipv4/ip_local_port_range`) and to the local address of
//! the interface that leads to the server. This client prints both ends of
//! the connection, closes it and exits.
//!
//! Try it: start a server in one terminal
//! (`cargo run -p primitives --bin server_lifecycle`), then in another
//! `cargo run -p primitives --bin client_lifecycle`. With no server running
//! you see the error a refused connection gives.

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{Context, bail};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let host = conventions::host("localhost");
    let port = conventions::port()?;

    // ANCHOR: resolve
    // Ruby: Socket.pack_sockaddr_in(4481, "localhost"). Given a name rather
    // than an address, it asks the resolver (getaddrinfo(3)), and so does
    // ToSocketAddrs. Ruby keeps only the first answer; we keep them all,
    // because a name can have several addresses (localhost is often both
    // ::1 and 127.0.0.1) and a server may listen on only one of them.
    let addrs: Vec<SocketAddr> = (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host:?} (set HOST to a name or an IP address)"))?
        .collect();
    // ANCHOR_END: resolve

    // So we try each address in turn, as TCPSocket.new does.
    for &addr in &addrs {
        // ANCHOR: lifecycle
        // 1. create — Ruby: Socket.new(:INET, :STREAM). The domain must match
        // the address we are about to connect to: IPv4 or IPv6.
        let socket =
            Socket::new(Domain::for_address(addr), Type::STREAM, None).context("socket(2)")?;

        // 2. bind — skipped, as almost every client does. Nobody needs to
        // find a client at a known port, so we let connect(2) pick one.
        let before = socket.local_addr().context("getsockname(2)")?;
        let before = before.as_socket().context("not an IP socket")?;
        println!("connecting to {addr}");
        println!("local address before connect: {before}");

        // 3. connect — Ruby: socket.connect(remote_addr). The kernel binds
        // the socket to an ephemeral port, sends SYN, and returns once the
        // server's SYN-ACK has arrived and our ACK is on its way: the
        // three-way handshake. A server that is not there answers with a
        // reset instead, and connect fails with ECONNREFUSED.
        if let Err(err) = socket.connect(&SockAddr::from(addr)) {
            // Not fatal yet: the next address may work.
            eprintln!("{:#}", conventions::connect_error(addr, err));
            continue;
        }

        // getsockname(2) and getpeername(2): both ends of the connection.
        let local = socket.local_addr().context("getsockname(2)")?;
        let remote = socket.peer_addr().context("getpeername(2)")?;
        let local = local.as_socket().context("not an IP socket")?;
        let remote = remote.as_socket().context("not an IP peer")?;
        println!("local address: {local} (an ephemeral port)");
        println!("remote address: {remote}");

        // 4. close — Ruby: socket.close. Dropping the socket calls close(2),
        // which sends FIN: the server reads end-of-file.
        drop(socket);
        println!("closed the connection");
        // ANCHOR_END: lifecycle
        return Ok(());
    }

    bail!("could not connect to {host}:{port} (tried {addrs:?})")
}
