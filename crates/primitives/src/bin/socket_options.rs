//! Socket options: asking the kernel how a socket is set up
//! (getsockopt(2)) and changing it (setsockopt(2)).
//!
//! The example needs a connected TCP socket, so it makes its own: a listener
//! on 127.0.0.1 at a port the kernel picks, and a client connected to it.
//! Then it reads SO_TYPE, the option Ruby's
//! `socket.getsockopt(Socket::SOL_SOCKET, Socket::SO_TYPE)` reads, and a few
//! more that later chapters use: the buffer sizes, TCP_NODELAY,
//! SO_KEEPALIVE and SO_REUSEADDR.
//!
//! Try it: `cargo run -p primitives --bin socket_options`

use std::net::{SocketAddr, TcpListener};

use anyhow::Context;
use socket2::{Domain, SockAddr, SockRef, Socket, Type};

/// The buffer size we ask for: well under any kernel limit.
const REQUESTED: usize = 32 * 1024;

fn main() -> anyhow::Result<()> {
    // A listener and a connected client, all on loopback. The connection
    // completes in the kernel's accept queue; nobody needs to accept it.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    let any_port: SocketAddr = "127.0.0.1:0".parse()?;
    listener
        .bind(&SockAddr::from(any_port))
        .context("bind(2)")?;
    listener.listen(128).context("listen(2)")?;
    let server_addr = listener.local_addr().context("getsockname(2)")?;
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    socket.connect(&server_addr).context("connect(2)")?;

    // ANCHOR: so_type
    // Ruby: socket.getsockopt(Socket::SOL_SOCKET, Socket::SO_TYPE)
    // C:    getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &len)
    let kind = socket.r#type().context("getsockopt(SO_TYPE)")?;
    println!("SO_TYPE: {} ({kind:?})", i32::from(kind));
    // Ruby: opt.int == Socket::SOCK_STREAM / Socket::SOCK_DGRAM
    println!("SO_TYPE == SOCK_STREAM: {}", kind == Type::STREAM);
    println!("SO_TYPE == SOCK_DGRAM: {}", kind == Type::DGRAM);
    // ANCHOR_END: so_type

    // ANCHOR: buffers
    // SO_RCVBUF: how many bytes the kernel may hold for us before the peer
    // must stop sending. Linux doubles what you ask for and reports the
    // doubled value: the extra half pays for its own bookkeeping (the
    // sk_buff headers around the data).
    let default = socket.recv_buffer_size().context("getsockopt(SO_RCVBUF)")?;
    println!("SO_RCVBUF: {default} bytes by default");
    socket
        .set_recv_buffer_size(REQUESTED)
        .context("setsockopt(SO_RCVBUF)")?;
    let granted = socket.recv_buffer_size().context("getsockopt(SO_RCVBUF)")?;
    println!("SO_RCVBUF: set {REQUESTED}, get {granted}");

    // A request above net.core.rmem_max is quietly capped there (and then
    // doubled); only a privileged process may exceed it, with SO_RCVBUFFORCE.
    let rmem_max = read_proc_number("/proc/sys/net/core/rmem_max")?;
    let too_much = 4 * rmem_max;
    socket
        .set_recv_buffer_size(too_much)
        .context("setsockopt(SO_RCVBUF)")?;
    let granted = socket.recv_buffer_size().context("getsockopt(SO_RCVBUF)")?;
    println!("SO_RCVBUF: set {too_much}, get {granted} (net.core.rmem_max is {rmem_max})");

    // SO_SNDBUF: the same for data we have written that the peer has not
    // acknowledged yet.
    let default = socket.send_buffer_size().context("getsockopt(SO_SNDBUF)")?;
    println!("SO_SNDBUF: {default} bytes by default");
    socket
        .set_send_buffer_size(REQUESTED)
        .context("setsockopt(SO_SNDBUF)")?;
    let granted = socket.send_buffer_size().context("getsockopt(SO_SNDBUF)")?;
    println!("SO_SNDBUF: set {REQUESTED}, get {granted}");
    // ANCHOR_END: buffers

    // ANCHOR: flags
    // TCP_NODELAY (level IPPROTO_TCP): off means Nagle's algorithm may hold
    // back small writes to send them together. The Nagle chapter shows it.
    let before = socket.tcp_nodelay().context("getsockopt(TCP_NODELAY)")?;
    socket
        .set_tcp_nodelay(true)
        .context("setsockopt(TCP_NODELAY)")?;
    let after = socket.tcp_nodelay().context("getsockopt(TCP_NODELAY)")?;
    println!("TCP_NODELAY: {before} by default, set true, get {after}");

    // SO_KEEPALIVE: probe an idle connection now and then, to notice a peer
    // that vanished without a word. Off unless you ask.
    let before = socket.keepalive().context("getsockopt(SO_KEEPALIVE)")?;
    socket
        .set_keepalive(true)
        .context("setsockopt(SO_KEEPALIVE)")?;
    let after = socket.keepalive().context("getsockopt(SO_KEEPALIVE)")?;
    println!("SO_KEEPALIVE: {before} by default, set true, get {after}");
    // ANCHOR_END: flags

    // ANCHOR: reuseaddr
    // SO_REUSEADDR: may bind(2) take a port that a connection in TIME_WAIT
    // still holds? The kernel says no unless asked (see `reuse_address`).
    let raw = listener
        .reuse_address()
        .context("getsockopt(SO_REUSEADDR)")?;
    println!("SO_REUSEADDR: {raw} on a socket2 listener (the kernel's default)");
    // std's TcpListener::bind (Ruby's TCPServer.new does the same) sets it
    // before binding, on every Unix. SockRef lets socket2 read an option of
    // a socket it does not own.
    let std_listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    let shorthand = SockRef::from(&std_listener)
        .reuse_address()
        .context("getsockopt(SO_REUSEADDR)")?;
    println!("SO_REUSEADDR: {shorthand} on a std::net::TcpListener (std sets it before bind)");
    // ANCHOR_END: reuseaddr

    Ok(())
}

/// A number from a file under /proc/sys, such as net.core.rmem_max.
fn read_proc_number(path: &str) -> anyhow::Result<usize> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    text.trim()
        .parse()
        .with_context(|| format!("{path} holds {text:?}, not a number"))
}
