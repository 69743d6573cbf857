//! The second shorthand, `Socket.tcp_server_loop(4481)`, spelled out: one
//! listening socket per IP family, both on the same port.
//!
//! An IPv4 socket bound to 0.0.0.0 only ever sees IPv4 clients. Ruby's
//! shorthand therefore opens two listeners, one on 0.0.0.0 and one on `::`
//! (the IPv6 wildcard), and accepts on both. We do the same with socket2:
//! each listener is the usual socket, setsockopt, bind, listen, and each gets
//! a thread running an accept loop (Ruby waits on both with `IO.select`, which
//! comes in Multiplexing Connections).
//!
//! It prints `Listening on 0.0.0.0:<port>`, then
//! `Also listening on [::]:<port>`, then one line per connection,
//! `accepted a connection from <client> on <listener>`, and closes it.
//!
//! `HOST` is ignored here: the point is the two wildcard addresses.
//!
//! Try it: `cargo run -p primitives --bin tcp_server_loop`, then in another
//! terminal `nc 127.0.0.1 4481 < /dev/null` and `nc ::1 4481 < /dev/null`.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::thread;

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    let port = conventions::port()?;

    // With PORT=0 the kernel picks a port that is free for IPv4; once in a
    // while it is taken for IPv6. Ruby then starts again with a new port, and
    // so do we.
    let mut attempts = 1;
    let ((ipv4, ipv4_addr), (ipv6, ipv6_addr)) = loop {
        match open_both(port) {
            Err(err) if port == 0 && attempts < 10 && is_addr_in_use(&err) => attempts += 1,
            result => break result?,
        }
    };
    conventions::announce(ipv4_addr);
    println!("Also listening on {ipv6_addr}");

    // ANCHOR: serve
    // One thread per listener, each blocked in its own accept(2).
    thread::scope(|scope| {
        scope.spawn(|| serve(&ipv4, ipv4_addr));
        serve(&ipv6, ipv6_addr);
    });
    // ANCHOR_END: serve
    Ok(())
}

/// Opens the IPv4 listener on `port`, then the IPv6 one on the port the IPv4
/// one really got (they differ only when `port` is 0).
fn open_both(port: u16) -> anyhow::Result<((Socket, SocketAddr), (Socket, SocketAddr))> {
    // ANCHOR: both
    let ipv4 = open_listener(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)))?;
    let ipv4_addr = bound_addr(&ipv4)?;
    let ipv6 = open_listener(SocketAddr::from((Ipv6Addr::UNSPECIFIED, ipv4_addr.port())))?;
    let ipv6_addr = bound_addr(&ipv6)?;
    // ANCHOR_END: both
    Ok(((ipv4, ipv4_addr), (ipv6, ipv6_addr)))
}

fn open_listener(addr: SocketAddr) -> anyhow::Result<Socket> {
    // ANCHOR: listener
    // socket(2): AF_INET for 0.0.0.0, AF_INET6 for ::
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).context("socket(2)")?;
    if addr.is_ipv6() {
        // By default (net.ipv6.bindv6only = 0) an IPv6 socket on :: also
        // takes IPv4 connections, as IPv4-mapped addresses (::ffff:127.0.0.1),
        // so it would claim the IPv4 port too and bind(2) would fail with
        // EADDRINUSE: the 0.0.0.0 listener holds it. IPV6_V6ONLY limits this
        // socket to IPv6 and leaves IPv4 to the other listener. Ruby does the
        // same (Socket#ipv6only!).
        socket
            .set_only_v6(true)
            .context("setsockopt(IPV6_V6ONLY)")?;
    }
    // Ruby's shorthand sets SO_REUSEADDR, as TCPServer.new does (Socket Options).
    socket
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;
    socket
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    socket.listen(128).context("listen(2)")?;
    // ANCHOR_END: listener
    Ok(socket)
}

/// The address the kernel really bound: getsockname(2).
fn bound_addr(socket: &Socket) -> anyhow::Result<SocketAddr> {
    socket
        .local_addr()
        .context("getsockname(2)")?
        .as_socket()
        .context("not an IP socket")
}

fn is_addr_in_use(err: &anyhow::Error) -> bool {
    err.root_cause()
        .downcast_ref::<io::Error>()
        .is_some_and(|err| err.kind() == io::ErrorKind::AddrInUse)
}

// ANCHOR: accept_loop
/// Ruby: Socket.accept_loop — accept and close, forever.
fn serve(listener: &Socket, listening_on: SocketAddr) {
    loop {
        let (connection, client_addr) = match listener.accept() {
            Ok(pair) => pair,
            Err(err) => {
                eprintln!("accept(2) on {listening_on} failed: {err}");
                continue;
            }
        };
        match client_addr.as_socket() {
            Some(client_addr) => {
                println!("accepted a connection from {client_addr} on {listening_on}")
            }
            None => println!("accepted a connection from a non-IP address on {listening_on}"),
        }
        drop(connection); // close(2)
    }
}
// ANCHOR_END: accept_loop
