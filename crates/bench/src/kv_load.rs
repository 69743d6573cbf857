//! The load generator of `bench_cloudhash`: many connections sending GET or
//! SET requests, in batches of a pipeline depth, to a CloudHash server or to
//! Redis, timing every reply.
//!
//! It is one thread with one epoll instance, whichever server it drives, so
//! that the servers are compared under exactly the same client. Each
//! connection is a closed loop: it writes `depth` requests in one write(2),
//! waits until all `depth` replies are in, and only then sends the next
//! batch. A reply's latency is the time from its batch's write to the read
//! that completed it.
//!
//! The requests are the same bytes for CloudHash and for Redis's inline
//! protocol (`SET key:000042 <value>\r\n`, `GET key:000042\r\n`; CloudHash
//! drops the `\r`). Only the replies differ: CloudHash answers `OK\n`,
//! `VALUE <value>\n` or `NIL\n`; Redis answers in RESP, `+OK\r\n`,
//! `$<length>\r\n<value>\r\n` or `$-1\r\n`. [`Protocol::RedisArrays`] sends
//! Redis its native encoding instead (`*3\r\n$3\r\nSET\r\n…`), which it
//! parses faster than inline commands.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::resource::{UsageWho, getrusage};

use crate::stats::Summary;

/// What the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// CloudHash's newline-framed protocol (`framing` crate).
    Line,
    /// Redis, sent the same lines as CloudHash (inline commands).
    RedisInline,
    /// Redis, sent RESP arrays of bulk strings, as redis-cli does.
    RedisArrays,
}

/// The operation every request of a run performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Get,
    Set,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "GET",
            Op::Set => "SET",
        }
    }
}

/// One run of the load generator.
#[derive(Debug, Clone)]
pub struct Workload {
    pub op: Op,
    /// Requests per batch (1: one request, wait for its reply, repeat).
    pub depth: usize,
    pub connections: usize,
    /// Keys are `key:000000` … `key:<keys - 1>`, picked at random.
    pub keys: usize,
    pub value_len: usize,
    /// Load before the measurement starts (not counted).
    pub warmup: Duration,
    /// How long the measurement lasts.
    pub duration: Duration,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// Replies to requests sent during the measured window.
    pub requests: u64,
    pub per_second: f64,
    /// Latency of each of those replies, in µs.
    pub latency_us: Summary,
    /// CPU time of the generator thread / wall time, over the whole run:
    /// near 1.0 means the generator may have been the bottleneck.
    pub generator_cpu: f64,
}

/// How long the generator waits for a missing reply before it gives up.
const STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The value every SET stores: `value_len` bytes of letters.
pub fn value(value_len: usize) -> Vec<u8> {
    (0..value_len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Appends one request to `out`.
pub fn request(protocol: Protocol, op: Op, key: usize, value: &[u8], out: &mut Vec<u8>) {
    let key = format!("key:{key:06}");
    match protocol {
        Protocol::Line | Protocol::RedisInline => {
            out.extend_from_slice(op.name().as_bytes());
            out.push(b' ');
            out.extend_from_slice(key.as_bytes());
            if op == Op::Set {
                out.push(b' ');
                out.extend_from_slice(value);
            }
            out.extend_from_slice(b"\r\n");
        }
        Protocol::RedisArrays => {
            let bulk = |out: &mut Vec<u8>, bytes: &[u8]| {
                out.extend_from_slice(format!("${}\r\n", bytes.len()).as_bytes());
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            };
            let parts = if op == Op::Set { 3 } else { 2 };
            out.extend_from_slice(format!("*{parts}\r\n").as_bytes());
            bulk(out, op.name().as_bytes());
            bulk(out, key.as_bytes());
            if op == Op::Set {
                bulk(out, value);
            }
        }
    }
}

/// What [`parse_replies`] found in a buffer.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Bytes taken by complete replies (a partial one stays for later).
    pub consumed: usize,
    pub replies: usize,
    /// `ERR …` or `-ERR …` replies.
    pub errors: usize,
    /// `NIL` or `$-1`: a GET of a missing key.
    pub misses: usize,
}

/// Counts the complete replies at the start of `buf`.
pub fn parse_replies(protocol: Protocol, buf: &[u8]) -> anyhow::Result<Parsed> {
    let mut parsed = Parsed::default();
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        let Some(newline) = rest.iter().position(|&byte| byte == b'\n') else {
            break;
        };
        let line = &rest[..newline];
        let mut end = newline + 1;
        if protocol == Protocol::Line {
            if line.starts_with(b"ERR") {
                parsed.errors += 1;
            } else if line == b"NIL" {
                parsed.misses += 1;
            } else if line != b"OK" && !line.starts_with(b"VALUE ") {
                bail!("unexpected reply {:?}", String::from_utf8_lossy(line));
            }
        } else {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            match line.first() {
                Some(b'+') | Some(b':') => {}
                Some(b'-') => parsed.errors += 1,
                Some(b'$') if line == b"$-1" => parsed.misses += 1,
                Some(b'$') => {
                    let length: usize = std::str::from_utf8(&line[1..])
                        .ok()
                        .and_then(|text| text.parse().ok())
                        .with_context(|| {
                            format!("bad bulk length {:?}", String::from_utf8_lossy(line))
                        })?;
                    end += length + 2;
                    if end > rest.len() {
                        break; // the value is not all here yet
                    }
                }
                _ => bail!("unexpected reply {:?}", String::from_utf8_lossy(line)),
            }
        }
        at += end;
        parsed.replies += 1;
    }
    parsed.consumed = at;
    Ok(parsed)
}

/// Stores every key once (so that GETs find them), over one connection in
/// batches of 1,000.
pub fn prefill(
    addr: SocketAddr,
    protocol: Protocol,
    keys: usize,
    value_len: usize,
) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, STALL_TIMEOUT)
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(STALL_TIMEOUT))?;
    let value = value(value_len);
    let mut batch = Vec::new();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    for first in (0..keys).step_by(1000) {
        let last = (first + 1000).min(keys);
        batch.clear();
        for key in first..last {
            request(protocol, Op::Set, key, &value, &mut batch);
        }
        stream.write_all(&batch)?;
        let mut replies = 0;
        while replies < last - first {
            let n = stream
                .read(&mut chunk)
                .context("reading replies to the prefill")?;
            if n == 0 {
                bail!("{addr} closed the connection during the prefill");
            }
            buf.extend_from_slice(&chunk[..n]);
            let parsed = parse_replies(protocol, &buf)?;
            if parsed.errors > 0 {
                bail!("{addr} refused a SET of the prefill");
            }
            replies += parsed.replies;
            buf.drain(..parsed.consumed);
        }
    }
    Ok(())
}

/// One connection of the generator.
struct Client {
    stream: TcpStream,
    /// xorshift state: which keys this connection asks for.
    rng: u64,
    batch: Vec<u8>,
    /// Bytes of `batch` not yet written (the kernel took only part of it).
    unsent_from: usize,
    /// Whether epoll watches this connection for EPOLLOUT too.
    watching_out: bool,
    replies: Vec<u8>,
    outstanding: usize,
    sent_at: Instant,
}

impl Client {
    fn next_key(&mut self, keys: usize) -> usize {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % keys as u64) as usize
    }
}

/// Runs `workload` against the server at `addr` and measures it. Bounded:
/// it stops sending at the end of the measured window, and fails if a reply
/// is missing for [`STALL_TIMEOUT`].
pub fn run(
    addr: SocketAddr,
    protocol: Protocol,
    workload: &Workload,
) -> anyhow::Result<LoadResult> {
    let value = value(workload.value_len);
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create1(2)")?;
    let mut clients: Vec<Client> = Vec::with_capacity(workload.connections);
    for i in 0..workload.connections {
        let stream = TcpStream::connect_timeout(&addr, STALL_TIMEOUT)
            .with_context(|| format!("connecting to {addr}"))?;
        // Every batch is one write: Nagle could only delay it.
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        epoll.add(
            stream.as_fd(),
            EpollEvent::new(EpollFlags::EPOLLIN, i as u64),
        )?;
        clients.push(Client {
            stream,
            rng: 0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D),
            batch: Vec::new(),
            unsent_from: 0,
            watching_out: false,
            replies: Vec::with_capacity(64 * 1024),
            outstanding: 0,
            sent_at: Instant::now(),
        });
    }

    let cpu_before = thread_cpu_time();
    let start = Instant::now();
    let measure_from = start + workload.warmup;
    let end = measure_from + workload.duration;
    let mut latencies_ns: Vec<u32> = Vec::new();
    let mut errors = 0;
    let mut misses = 0;
    let mut last_progress = start;
    let mut chunk = vec![0u8; 64 * 1024];

    for (i, client) in clients.iter_mut().enumerate() {
        send_batch(&epoll, i, client, protocol, workload, &value)?;
    }
    let mut events = vec![EpollEvent::empty(); 64];
    let mut running = clients.len();
    while running > 0 {
        let ready = match epoll.wait(&mut events, EpollTimeout::from(100u16)) {
            Ok(ready) => ready,
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err).context("epoll_wait(2)"),
        };
        if ready == 0 && last_progress.elapsed() > STALL_TIMEOUT {
            bail!("{addr} sent no reply for {STALL_TIMEOUT:?}");
        }
        for event in &events[..ready] {
            let i = event.data() as usize;
            let client = &mut clients[i];
            if event.events().contains(EpollFlags::EPOLLOUT) {
                flush(&epoll, i, client)?;
            }
            if !event
                .events()
                .intersects(EpollFlags::EPOLLIN | EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP)
            {
                continue;
            }
            let n = match client.stream.read(&mut chunk) {
                Ok(0) => bail!("{addr} closed a connection in the middle of the run"),
                Ok(n) => n,
                Err(err) if err.kind() == ErrorKind::WouldBlock => continue,
                Err(err) => return Err(err).with_context(|| format!("reading from {addr}")),
            };
            let now = Instant::now();
            last_progress = now;
            client.replies.extend_from_slice(&chunk[..n]);
            let parsed = parse_replies(protocol, &client.replies)?;
            client.replies.drain(..parsed.consumed);
            errors += parsed.errors;
            misses += parsed.misses;
            if parsed.replies > client.outstanding {
                bail!("{addr} sent more replies than requests");
            }
            if client.sent_at >= measure_from && client.sent_at < end {
                let latency = (now - client.sent_at).as_nanos().min(u32::MAX as u128) as u32;
                latencies_ns.extend(std::iter::repeat_n(latency, parsed.replies));
            }
            client.outstanding -= parsed.replies;
            if client.outstanding == 0 {
                if now < end {
                    send_batch(&epoll, i, client, protocol, workload, &value)?;
                } else {
                    running -= 1; // this connection is done
                }
            }
        }
    }
    let wall = start.elapsed();
    let cpu = thread_cpu_time().saturating_sub(cpu_before);
    if errors > 0 {
        bail!("{addr} answered {errors} requests with an error");
    }
    if misses > 0 && workload.op == Op::Get {
        bail!("{addr} did not find {misses} keys that the prefill stored");
    }
    let requests = latencies_ns.len() as u64;
    let mut latencies: Vec<f64> = latencies_ns
        .iter()
        .map(|&ns| f64::from(ns) / 1000.0)
        .collect();
    let latency_us =
        Summary::of(&mut latencies).context("no request completed in the measured window")?;
    Ok(LoadResult {
        requests,
        per_second: requests as f64 / workload.duration.as_secs_f64(),
        latency_us,
        generator_cpu: cpu.as_secs_f64() / wall.as_secs_f64(),
    })
}

/// Writes the next batch of `depth` requests, in one write(2).
fn send_batch(
    epoll: &Epoll,
    i: usize,
    client: &mut Client,
    protocol: Protocol,
    workload: &Workload,
    value: &[u8],
) -> anyhow::Result<()> {
    client.batch.clear();
    for _ in 0..workload.depth {
        let key = client.next_key(workload.keys);
        request(protocol, workload.op, key, value, &mut client.batch);
    }
    client.unsent_from = 0;
    client.outstanding = workload.depth;
    client.sent_at = Instant::now();
    flush(epoll, i, client)
}

/// Writes what is left of the batch; if the kernel takes only part of it,
/// waits for EPOLLOUT to write the rest.
fn flush(epoll: &Epoll, i: usize, client: &mut Client) -> anyhow::Result<()> {
    while client.unsent_from < client.batch.len() {
        match client.stream.write(&client.batch[client.unsent_from..]) {
            Ok(n) => client.unsent_from += n,
            Err(err) if err.kind() == ErrorKind::WouldBlock => break,
            Err(err) => return Err(err).context("writing a batch"),
        }
    }
    // Ask epoll about writability only while part of a batch waits, and
    // tell it only when that changes: an epoll_ctl(2) per batch would cost
    // as much as the write.
    let wants_out = client.unsent_from < client.batch.len();
    if wants_out != client.watching_out {
        let flags = if wants_out {
            EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT
        } else {
            EpollFlags::EPOLLIN
        };
        let mut event = EpollEvent::new(flags, i as u64);
        epoll.modify(client.stream.as_fd(), &mut event)?;
        client.watching_out = wants_out;
    }
    Ok(())
}

/// CPU time (user + system) of the calling thread.
fn thread_cpu_time() -> Duration {
    getrusage(UsageWho::RUSAGE_THREAD)
        .map(|usage| {
            let user = usage.user_time();
            let system = usage.system_time();
            Duration::from_micros(
                (user.tv_sec() * 1_000_000
                    + user.tv_usec()
                    + system.tv_sec() * 1_000_000
                    + system.tv_usec()) as u64,
            )
        })
        .unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_the_same_lines_for_cloudhash_and_inline_redis() {
        let mut line = Vec::new();
        request(Protocol::Line, Op::Set, 42, b"abc", &mut line);
        request(Protocol::Line, Op::Get, 7, b"abc", &mut line);
        assert_eq!(line, b"SET key:000042 abc\r\nGET key:000007\r\n");
        let mut inline = Vec::new();
        request(Protocol::RedisInline, Op::Set, 42, b"abc", &mut inline);
        request(Protocol::RedisInline, Op::Get, 7, b"abc", &mut inline);
        assert_eq!(inline, line);
        let mut arrays = Vec::new();
        request(Protocol::RedisArrays, Op::Set, 42, b"abc", &mut arrays);
        request(Protocol::RedisArrays, Op::Get, 7, b"abc", &mut arrays);
        assert_eq!(
            arrays,
            b"*3\r\n$3\r\nSET\r\n$10\r\nkey:000042\r\n$3\r\nabc\r\n*2\r\n$3\r\nGET\r\n$10\r\nkey:000007\r\n"
        );
    }

    #[test]
    fn counts_complete_line_replies() {
        let parsed = parse_replies(Protocol::Line, b"OK\nVALUE abc\nNIL\nERR no\nVAL").unwrap();
        assert_eq!(
            parsed,
            Parsed {
                consumed: 24,
                replies: 4,
                errors: 1,
                misses: 1
            }
        );
        assert!(parse_replies(Protocol::Line, b"what\n").is_err());
    }

    #[test]
    fn counts_complete_resp_replies() {
        let buf = b"+OK\r\n$3\r\nabc\r\n$-1\r\n-ERR no\r\n$5\r\nab";
        let parsed = parse_replies(Protocol::RedisInline, buf).unwrap();
        assert_eq!(
            parsed,
            Parsed {
                consumed: 28,
                replies: 4,
                errors: 1,
                misses: 1
            }
        );
        // A bulk value may contain "\r\n": its length, not a newline, ends it.
        let parsed = parse_replies(Protocol::RedisArrays, b"$4\r\na\r\nb\r\n").unwrap();
        assert_eq!((parsed.replies, parsed.consumed), (1, 10));
        assert!(parse_replies(Protocol::RedisArrays, b"*1\r\n").is_err());
    }
}
