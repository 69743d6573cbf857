//! SO_REUSEADDR and TIME_WAIT: why a server that has just stopped cannot
//! always bind its port again at once, and the option that lets it.
//!
//! Everything happens in this one process, on 127.0.0.1:
//! 1. a listener binds the port, a client connects, the listener accepts;
//! 2. the *server* closes the connection first (the active close), so its
//!    end of the connection goes into TIME_WAIT and keeps holding the port
//!    for 60 seconds after both sides have closed;
//! 3. the listener closes too, so nothing listens on the port any more;
//! 4. a new socket tries to bind the port without SO_REUSEADDR (EADDRINUSE),
//!    then another with SO_REUSEADDR (it works).
//!
//! Try it: `cargo run -p primitives --bin reuse_address`, then within a
//! minute `ss -tan state time-wait` to see the connection it left behind.

use std::io::Read;
use std::net::SocketAddr;

use anyhow::{Context, bail};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() -> anyhow::Result<()> {
    // ANCHOR: first_run
    // The "previous run" of a server, with SO_REUSEADDR set as servers do
    // (Ruby's TCPServer.new and Rust's TcpListener::bind both set it).
    // Linux looks at the flag on *both* sockets: the old connection, which
    // inherits it from this listener, and the new socket that wants the
    // port. Without it here, even step 4's second bind would fail.
    let addr: SocketAddr = SocketAddr::new([127, 0, 0, 1].into(), conventions::port()?);
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    listener
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    listener.listen(128).context("listen(2)")?;
    // With PORT=0 the kernel chose the port: use that one from now on.
    let addr = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(addr);

    // Our own client, so that the example needs nobody else.
    let mut client = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    client
        .connect(&SockAddr::from(addr))
        .context("connect(2)")?;
    let (connection, peer) = listener.accept().context("accept(2)")?;
    let peer = peer.as_socket().context("not an IP peer")?;
    println!("accepted a connection from {peer}");
    // ANCHOR_END: first_run

    // ANCHOR: active_close
    // The server closes first: close(2) sends FIN. Whoever sends the first
    // FIN is the one that waits in TIME_WAIT at the end.
    drop(connection);
    println!("server closed its end first");

    // The client reads end-of-file (the FIN has arrived), and closes too.
    // When its FIN reaches the server's end, that end enters TIME_WAIT.
    let mut byte = [0u8; 1];
    let n = client.read(&mut byte).context("reading from the client")?;
    if n != 0 {
        bail!("expected end-of-file, read {n} byte(s)");
    }
    drop(client);
    println!("client read end-of-file and closed its end");

    // Stop listening as well: from here on no socket *listens* on the port.
    drop(listener);
    println!("closed the listener");
    // ANCHOR_END: active_close

    // ANCHOR: time_wait
    // The kernel shows every TCP socket in /proc/net/tcp (`ss -tan` reads
    // the same table). State 06 is TIME_WAIT.
    wait_for_time_wait(addr, peer)?;
    println!("TIME_WAIT: {addr} -> {peer} (state 06 in /proc/net/tcp)");
    // ANCHOR_END: time_wait

    // ANCHOR: rebind
    // The restarted server. Without SO_REUSEADDR, bind(2) refuses a port
    // that a TIME_WAIT connection still holds...
    let plain = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    match plain.bind(&SockAddr::from(addr)) {
        Ok(()) => println!("bind {addr} without SO_REUSEADDR: ok (no TIME_WAIT in the way?)"),
        Err(err) if err.raw_os_error() == Some(98) => {
            println!("bind {addr} without SO_REUSEADDR: EADDRINUSE ({err})");
        }
        Err(err) => return Err(err).context(format!("binding {addr}")),
    }
    drop(plain);

    // ...with SO_REUSEADDR set before bind(2), it may take the port.
    let reusing = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    reusing
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;
    reusing
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    println!("bind {addr} with SO_REUSEADDR: ok");
    reusing.listen(128).context("listen(2)")?;
    println!("listening again on {addr}");
    // ANCHOR_END: rebind

    Ok(())
}

/// Waits (up to 10 seconds) until /proc/net/tcp lists the connection from
/// `local` to `remote` in state 06, TIME_WAIT.
///
/// On loopback the last FIN is usually processed before close(2) returns,
/// but nothing promises it, so we look rather than assume.
fn wait_for_time_wait(local: SocketAddr, remote: SocketAddr) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let table = std::fs::read_to_string("/proc/net/tcp").context("reading /proc/net/tcp")?;
        // Each line: "sl local_address rem_address st ...", addresses as
        // hex IP:hex port, the IP in the machine's byte order.
        let time_wait = table.lines().skip(1).any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() > 3
                && fields[1] == proc_net_tcp_addr(local)
                && fields[2] == proc_net_tcp_addr(remote)
                && fields[3] == "06"
        });
        if time_wait {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            bail!("{local} -> {remote} did not show up in TIME_WAIT in /proc/net/tcp");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// An IPv4 address as /proc/net/tcp writes it: the four bytes of the
/// address as one native-endian hex number, a colon, the port in hex.
fn proc_net_tcp_addr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_ne_bytes(v4.ip().octets()),
            v4.port()
        ),
        SocketAddr::V6(_) => String::from("(IPv6 is in /proc/net/tcp6)"),
    }
}
