//! Exercise (Multiplexing Connections): a chat server on poll(2).
//!
//! Reference solution.

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsFd;

use anyhow::Context;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::{Domain, SockAddr, Socket, Type};

/// One chat client.
struct Client {
    socket: Socket,
    peer: SocketAddr,
    /// Bytes received after the last `\n`: the start of a line.
    partial: Vec<u8>,
    /// Lines from the others, waiting until the socket takes them.
    outbox: Vec<u8>,
}

fn main() -> anyhow::Result<()> {
    let addr = conventions::listen_addr("127.0.0.1")?;
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    listener
        .bind(&SockAddr::from(addr))
        .map_err(|err| conventions::bind_error(addr, err))?;
    listener.listen(128).context("listen(2)")?;
    listener
        .set_nonblocking(true)
        .context("fcntl(O_NONBLOCK)")?;
    let local = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;
    conventions::announce(local);

    let mut clients: Vec<Client> = Vec::new();
    loop {
        // Entry 0 is the listener, entry i + 1 is clients[i].
        let mut pollfds = vec![PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        for client in &clients {
            let mut events = PollFlags::POLLIN;
            if !client.outbox.is_empty() {
                events |= PollFlags::POLLOUT;
            }
            pollfds.push(PollFd::new(client.socket.as_fd(), events));
        }
        match poll(&mut pollfds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err).context("poll(2)"),
        }
        let revents: Vec<PollFlags> = pollfds
            .iter()
            .map(|pollfd| pollfd.revents().unwrap_or(PollFlags::empty()))
            .collect();

        // 1. Read from every readable client; collect its complete lines.
        let mut lines: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut gone = vec![false; clients.len()];
        let readable = PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR;
        for (index, client) in clients.iter_mut().enumerate() {
            if !revents[index + 1].intersects(readable) {
                continue;
            }
            match read_lines(client) {
                Ok(Some(new_lines)) => {
                    lines.extend(new_lines.into_iter().map(|line| (index, line)))
                }
                Ok(None) => gone[index] = true,
                Err(err) => {
                    eprintln!("reading from {}: {err}", client.peer);
                    gone[index] = true;
                }
            }
        }

        // 2. Each line goes to everybody except its sender.
        for (sender, line) in &lines {
            for (index, client) in clients.iter_mut().enumerate() {
                if index != *sender && !gone[index] {
                    client.outbox.extend_from_slice(line);
                }
            }
        }

        // 3. Write what each socket takes now; the rest waits for POLLOUT.
        for (index, client) in clients.iter_mut().enumerate() {
            if gone[index] {
                continue;
            }
            if let Err(err) = flush(client) {
                eprintln!("writing to {}: {err}", client.peer);
                gone[index] = true;
            }
        }

        // 4. Forget the clients that left (dropping a socket closes it).
        let mut index = 0;
        clients.retain(|client| {
            let keep = !gone[index];
            index += 1;
            if !keep {
                println!("closed {}", client.peer);
            }
            keep
        });

        // 5. Welcome newcomers.
        if revents[0].contains(PollFlags::POLLIN) {
            loop {
                match listener.accept() {
                    Ok((socket, peer)) => {
                        let Some(peer) = peer.as_socket() else {
                            continue;
                        };
                        if let Err(err) = socket.set_nonblocking(true) {
                            eprintln!("fcntl(O_NONBLOCK) for {peer}: {err}");
                            continue;
                        }
                        println!("accepted {peer}");
                        clients.push(Client {
                            socket,
                            peer,
                            partial: Vec::new(),
                            outbox: Vec::new(),
                        });
                    }
                    Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                    Err(err) => {
                        eprintln!("accept(2): {err}");
                        break;
                    }
                }
            }
        }
    }
}

/// Reads once and returns the lines completed by what arrived, each with its
/// `\n`. `None` when the client has closed its side.
fn read_lines(client: &mut Client) -> std::io::Result<Option<Vec<Vec<u8>>>> {
    let mut chunk = [0u8; 4096];
    let n = match client.socket.read(&mut chunk) {
        Ok(0) => return Ok(None),
        Ok(n) => n,
        Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
            return Ok(Some(Vec::new()));
        }
        Err(err) => return Err(err),
    };
    client.partial.extend_from_slice(&chunk[..n]);
    let mut lines = Vec::new();
    while let Some(end) = client.partial.iter().position(|&byte| byte == b'\n') {
        lines.push(client.partial.drain(..=end).collect());
    }
    Ok(Some(lines))
}

/// Writes as much of the outbox as the kernel takes without blocking.
fn flush(client: &mut Client) -> std::io::Result<()> {
    while !client.outbox.is_empty() {
        match client.socket.write(&client.outbox) {
            Ok(n) => {
                client.outbox.drain(..n);
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => break,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
    Ok(())
}
