//! The FTP client of `bench_transfer`: just enough FTP to log in and
//! download one file, passively (`PASV`) or actively (`PORT`), into a buffer
//! that throws the bytes away. The same client downloads from every server,
//! and its reader ([`discard`]) also measures the loopback limit, so the
//! only thing that differs between two figures is the sender.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// How long any one read, write or connect may take before the client
/// gives up: the benchmark must end by itself.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// How many bytes one read(2) of a download asks for.
pub const READ_SIZE: usize = 256 * 1024;

/// Who opens the data connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataMode {
    /// `PASV`: the server listens, we connect.
    Passive,
    /// `PORT`: we listen, the server connects.
    Active,
}

impl DataMode {
    pub fn name(self) -> &'static str {
        match self {
            DataMode::Passive => "passive",
            DataMode::Active => "active",
        }
    }
}

/// One finished download.
#[derive(Debug, Clone, Copy)]
pub struct Download {
    pub bytes: u64,
    /// From writing `RETR` to reading `226`.
    pub elapsed: Duration,
}

impl Download {
    /// Megabytes (10^6 bytes) per second.
    pub fn mb_per_second(&self) -> f64 {
        self.bytes as f64 / self.elapsed.as_secs_f64() / 1e6
    }
}

/// A logged-in control connection.
pub struct FtpClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl FtpClient {
    /// Connects to `addr`, reads the greeting and logs in anonymously with
    /// `TYPE I`.
    pub fn login(addr: SocketAddr) -> anyhow::Result<FtpClient> {
        let control = TcpStream::connect_timeout(&addr, TIMEOUT)
            .with_context(|| format!("connecting to {addr}"))?;
        control.set_read_timeout(Some(TIMEOUT))?;
        control.set_write_timeout(Some(TIMEOUT))?;
        control.set_nodelay(true)?;
        let mut client = FtpClient {
            writer: control.try_clone()?,
            reader: BufReader::new(control),
        };
        client.expect(220)?;
        match client.command("USER anonymous")? {
            (230, _) => {}
            (331, _) => {
                client.command_expect("PASS bench@", 230)?;
            }
            (code, text) => bail!("USER: {code} {text}"),
        }
        client.command_expect("TYPE I", 200)?;
        Ok(client)
    }

    /// Downloads `name` over a data connection opened as `mode` says,
    /// counting the bytes and throwing them away.
    pub fn retrieve(&mut self, name: &str, mode: DataMode) -> anyhow::Result<Download> {
        let (download, elapsed) = match mode {
            DataMode::Passive => {
                let (_, text) = self.command_expect("PASV", 227)?;
                let addr = parse_pasv(&text)?;
                let mut data = TcpStream::connect_timeout(&SocketAddr::V4(addr), TIMEOUT)
                    .with_context(|| format!("connecting to the data port {addr}"))?;
                let started = Instant::now();
                self.send(&format!("RETR {name}"))?;
                self.expect_preliminary()?;
                let bytes = discard(&mut data)?;
                drop(data);
                self.expect(226)?;
                (bytes, started.elapsed())
            }
            DataMode::Active => {
                let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
                let port = listener.local_addr()?.port();
                self.command_expect(
                    &format!("PORT 127,0,0,1,{},{}", port / 256, port % 256),
                    200,
                )?;
                let started = Instant::now();
                self.send(&format!("RETR {name}"))?;
                self.expect_preliminary()?;
                let mut data = accept_within(&listener, TIMEOUT)?;
                let bytes = discard(&mut data)?;
                drop(data);
                self.expect(226)?;
                (bytes, started.elapsed())
            }
        };
        Ok(Download {
            bytes: download,
            elapsed,
        })
    }

    /// Says goodbye.
    pub fn quit(mut self) -> anyhow::Result<()> {
        self.command_expect("QUIT", 221)?;
        Ok(())
    }

    fn send(&mut self, line: &str) -> anyhow::Result<()> {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .with_context(|| format!("sending {line}"))
    }

    fn command(&mut self, line: &str) -> anyhow::Result<(u16, String)> {
        self.send(line)?;
        self.reply()
    }

    fn command_expect(&mut self, line: &str, code: u16) -> anyhow::Result<(u16, String)> {
        let (got, text) = self.command(line)?;
        if got != code {
            let verb = line.split(' ').next().unwrap_or(line);
            bail!("{verb}: expected {code}, got {got} {text}");
        }
        Ok((got, text))
    }

    fn expect(&mut self, code: u16) -> anyhow::Result<String> {
        let (got, text) = self.reply()?;
        if got != code {
            bail!("expected {code}, got {got} {text}");
        }
        Ok(text)
    }

    /// `150` or `125`: the transfer starts.
    fn expect_preliminary(&mut self) -> anyhow::Result<()> {
        match self.reply()? {
            (150 | 125, _) => Ok(()),
            (code, text) => bail!("RETR: {code} {text}"),
        }
    }

    /// Reads one reply: its code and the text of its last line. A
    /// multi-line reply (`211-…` up to `211 …`) is read whole.
    fn reply(&mut self) -> anyhow::Result<(u16, String)> {
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("the server closed the control connection");
            }
            let bytes = line.as_bytes();
            if bytes.len() >= 4 && bytes[..3].iter().all(u8::is_ascii_digit) && bytes[3] == b' ' {
                let code = line[..3].parse().context("reply code")?;
                return Ok((code, line[4..].trim_end().to_string()));
            }
        }
    }
}

/// `227 Entering Passive Mode (127,0,0,1,195,80).` → 127.0.0.1:50000.
pub fn parse_pasv(text: &str) -> anyhow::Result<SocketAddrV4> {
    let inside = text
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(numbers, _)| numbers)
        .with_context(|| format!("no address in {text:?}"))?;
    let numbers: Vec<u8> = inside
        .split(',')
        .map(|n| n.trim().parse())
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad address in {text:?}"))?;
    let [h1, h2, h3, h4, p1, p2] = numbers[..] else {
        bail!("bad address in {text:?}");
    };
    Ok(SocketAddrV4::new(
        Ipv4Addr::new(h1, h2, h3, h4),
        u16::from(p1) * 256 + u16::from(p2),
    ))
}

/// Reads `stream` to its end into one buffer, over and over, and returns
/// how many bytes came: a receiver that costs as little as a receiver can.
pub fn discard(stream: &mut TcpStream) -> io::Result<u64> {
    stream.set_read_timeout(Some(TIMEOUT))?;
    let mut buf = vec![0u8; READ_SIZE];
    let mut total = 0u64;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

/// Accepts one connection on `listener`, giving up after `timeout`.
fn accept_within(listener: &TcpListener, timeout: Duration) -> anyhow::Result<TcpStream> {
    let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
    let ready = poll(
        &mut fds,
        PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX),
    )
    .context("poll(2) on our data port")?;
    if ready == 0 {
        bail!("the server did not connect to our data port within {timeout:?}");
    }
    let (stream, _) = listener.accept().context("accept(2) on our data port")?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pasv_addresses() {
        let addr = parse_pasv("Entering Passive Mode (127,0,0,1,195,80).").unwrap();
        assert_eq!(addr, SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50_000));
        assert!(parse_pasv("Entering Passive Mode").is_err());
        assert!(parse_pasv("(1,2,3)").is_err());
    }
}
