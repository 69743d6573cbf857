//! Exercise (Establishing Connections): one program, both roles.
//!
//! Reference solution.

use std::io::{Read, Write};
use std::net::SocketAddr;

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    // The listening end: the server's role.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    listener
        .bind(&SockAddr::from(any_port))
        .context("bind(2)")?;
    listener.listen(1).context("listen(2)")?;
    let listening_on = ip_addr(listener.local_addr().context("getsockname(2)")?)?;
    println!("listener: {listening_on}");

    // The connecting end: the client's role. connect(2) returns once the
    // listener's kernel has completed the handshake; nobody has accepted yet.
    let mut client = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    client
        .connect(&SockAddr::from(listening_on))
        .context("connect(2)")?;

    // accept(2) takes the queued connection: the server's end of it.
    let (mut server, _) = listener.accept().context("accept(2)")?;

    for (name, socket) in [("client", &client), ("server", &server)] {
        let local = ip_addr(socket.local_addr().context("getsockname(2)")?)?;
        let peer = ip_addr(socket.peer_addr().context("getpeername(2)")?)?;
        println!("{name}: {local} -> {peer}");
    }

    // Once connected, the two ends are equals: each can write and read.
    client.write_all(b"ping\n").context("client write")?;
    let mut received = [0u8; 5];
    server.read_exact(&mut received).context("server read")?;
    println!("server read {:?}", String::from_utf8_lossy(&received));

    server.write_all(b"pong\n").context("server write")?;
    client.read_exact(&mut received).context("client read")?;
    println!("client read {:?}", String::from_utf8_lossy(&received));
    Ok(())
}

fn ip_addr(addr: SockAddr) -> anyhow::Result<SocketAddr> {
    addr.as_socket().context("not an IP address")
}
