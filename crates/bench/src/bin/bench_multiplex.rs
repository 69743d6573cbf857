//! The cost of one select(2), poll(2) and epoll_wait(2) as idle descriptors
//! grow: 10, 100, 1,000 and 10,000 (select stops at FD_SETSIZE, 1024).
//!
//! For each size N it holds N idle loopback TCP connections and one more
//! connection with a byte waiting in it, asks each of the three calls
//! "which of these N + 1 sockets can I read?", and times the call, many
//! times over. The answer is always the same single socket (the byte is
//! never read, so it stays readable). What changes with N is how much work
//! the kernel does to find it: select and poll hand the kernel every
//! descriptor on every call and the kernel asks every socket in turn; epoll
//! keeps the interest list in the kernel and returns its ready list.
//!
//! Only the system call is timed. A server using select or poll also
//! rebuilds its sets and scans the answer every time, which costs more on
//! top (the Multiplexing Connections chapter measures whole round trips).
//!
//! 10,000 connections are 20,000 descriptors, both ends counted, and the
//! open file limit here is 20,000. So the client ends live in a second
//! process: this same binary, started with `--hold-connections ADDR`, which
//! opens as many connections as it is told on its stdin and holds them until
//! its stdin closes. Each process raises its soft limit to its hard limit.
//!
//! Run it: `cargo run --release -p bench --bin bench_multiplex` (add
//! `--quick` for a short run; it writes `book/src/measured/multiplex*`).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench::chart::{Chart, LineChart, Series};
use bench::options::Options;
use bench::report::{Section, Table};
use bench::stats::{Summary, sig3, thousands};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::select::{FD_SETSIZE, FdSet, select};
use nix::sys::time::TimeVal;
use socket2::{Domain, SockAddr, Socket, Type};

/// The three ways to wait.
#[derive(Clone, Copy, PartialEq)]
enum Wait {
    Select,
    Poll,
    Epoll,
}

const WAITS: [Wait; 3] = [Wait::Select, Wait::Poll, Wait::Epoll];

impl Wait {
    fn name(self) -> &'static str {
        match self {
            Wait::Select => "select",
            Wait::Poll => "poll",
            Wait::Epoll => "epoll",
        }
    }
}

/// Calls timed per point (after 100 untimed ones), and the time after which
/// a point stops early: poll over 10,000 sockets is slow.
struct Budget {
    calls: usize,
    time: Duration,
}

/// The child process never lives longer than this, whatever its parent does.
const CHILD_LIFETIME: Duration = Duration::from_secs(600);

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("--hold-connections") {
        let addr = args.next().context("--hold-connections needs ADDR")?;
        return hold_connections(addr.parse().context("--hold-connections ADDR")?);
    }
    let options = Options::parse(&[], "")?;
    let sizes: Vec<usize> = options.mode.pick(
        vec![10, 100, 1_000, 10_000],
        vec![10, 100, 1_000, 10_000],
        vec![10, 100],
    );
    let budget = options.mode.pick(
        Budget {
            calls: 20_000,
            time: Duration::from_secs(2),
        },
        Budget {
            calls: 2_000,
            time: Duration::from_millis(300),
        },
        Budget {
            calls: 50,
            time: Duration::from_millis(50),
        },
    );

    let limit = raise_open_file_limit()?;
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).context("socket(2)")?;
    listener.bind(&SockAddr::from(SocketAddr::from(([127, 0, 0, 1], 0))))?;
    listener.listen(4096).context("listen(2)")?;
    // accept(2) honours SO_RCVTIMEO: a child that stops connecting ends the
    // benchmark with an error instead of hanging it.
    listener.set_read_timeout(Some(Duration::from_secs(20)))?;
    let addr = listener
        .local_addr()?
        .as_socket()
        .context("not an IP socket")?;

    // The one connection that is always ready: a byte sits in the server
    // end, which nobody ever reads.
    let mut ready_client = TcpStream::connect(addr).context("connecting the ready socket")?;
    let (ready, _) = listener.accept().context("accepting the ready socket")?;
    ready_client.write_all(b"!")?;
    wait_readable(&ready)?;

    let mut holder = Holder::start(addr)?;
    let mut idle: Vec<Socket> = Vec::new();
    let bar = bench::progress::bar("multiplex", (sizes.len() * WAITS.len()) as u64);
    let mut results: Vec<(usize, [Option<Summary>; 3])> = Vec::new();
    let mut skipped = Vec::new();
    for &size in &sizes {
        // This process holds the server ends, the listener, the ready pair
        // and a few more (stdio, the epoll instance, pipes to the child).
        if size as u64 + 32 > limit {
            skipped.push(size);
            bar.inc(WAITS.len() as u64);
            continue;
        }
        bar.set_message(format!("{} idle connections", thousands(size as f64)));
        holder.hold(size)?;
        while idle.len() < size {
            let (socket, _) = listener.accept().context("accepting an idle connection")?;
            idle.push(socket);
        }
        holder.wait_holding(size)?;

        let mut row = [None, None, None];
        for (slot, wait) in row.iter_mut().zip(WAITS) {
            bar.set_message(format!(
                "{} over {} idle",
                wait.name(),
                thousands(size as f64)
            ));
            let highest = idle
                .iter()
                .chain([&ready])
                .map(|socket| socket.as_raw_fd())
                .max()
                .unwrap_or(0);
            if wait == Wait::Select && highest as usize >= FD_SETSIZE {
                bar.inc(1);
                continue; // an fd_set has no bit for this descriptor
            }
            let mut samples = match wait {
                Wait::Select => time_select(&ready, &idle, &budget)?,
                Wait::Poll => time_poll(&ready, &idle, &budget)?,
                Wait::Epoll => time_epoll(&ready, &idle, &budget)?,
            };
            *slot = Summary::of(&mut samples);
            bar.inc(1);
        }
        results.push((size, row));
    }
    bar.finish_and_clear();
    drop(holder);

    report(&options, &results, &skipped, limit, &budget)
}

/// Times `budget.calls` select(2) calls over the idle sockets plus the ready
/// one. Returns µs per call.
fn time_select(ready: &Socket, idle: &[Socket], budget: &Budget) -> anyhow::Result<Vec<f64>> {
    let mut interest = FdSet::new();
    for socket in idle.iter().chain([ready]) {
        interest.insert(socket.as_fd());
    }
    let nfds = interest.highest().map_or(0, |fd| fd.as_raw_fd() + 1);
    time_calls(budget, || {
        // select(2) overwrites its sets with the answer: every call starts
        // from a fresh copy (made here, before the clock starts).
        let mut readable = interest;
        let mut timeout = TimeVal::new(1, 0);
        let started = Instant::now();
        let count = select(nfds, &mut readable, None, None, &mut timeout)?;
        let took = started.elapsed();
        expect_one(count as usize)?;
        Ok(took)
    })
}

/// The same with poll(2): one `pollfd` per socket. `revents` is output
/// only, so the array is reused as it is.
fn time_poll(ready: &Socket, idle: &[Socket], budget: &Budget) -> anyhow::Result<Vec<f64>> {
    let mut pollfds: Vec<PollFd> = idle
        .iter()
        .chain([ready])
        .map(|socket| PollFd::new(socket.as_fd(), PollFlags::POLLIN))
        .collect();
    time_calls(budget, || {
        let started = Instant::now();
        let count = poll(&mut pollfds, PollTimeout::from(1000u16))?;
        let took = started.elapsed();
        expect_one(count as usize)?;
        Ok(took)
    })
}

/// The same with epoll: the interest list is built once, in the kernel, and
/// each epoll_wait(2) returns the ready list.
fn time_epoll(ready: &Socket, idle: &[Socket], budget: &Budget) -> anyhow::Result<Vec<f64>> {
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create1(2)")?;
    for socket in idle.iter().chain([ready]) {
        let event = EpollEvent::new(EpollFlags::EPOLLIN, socket.as_raw_fd() as u64);
        epoll
            .add(socket, event)
            .context("epoll_ctl(EPOLL_CTL_ADD)")?;
    }
    let mut events = [EpollEvent::empty(); 16];
    time_calls(budget, || {
        let started = Instant::now();
        let count = epoll.wait(&mut events, EpollTimeout::from(1000u16))?;
        let took = started.elapsed();
        expect_one(count)?;
        Ok(took)
    })
}

/// Runs `call` 100 times untimed (to warm caches), then up to
/// `budget.calls` times, or until `budget.time` has passed (with at least
/// 100 samples). Returns each call's time in µs.
fn time_calls(
    budget: &Budget,
    mut call: impl FnMut() -> anyhow::Result<Duration>,
) -> anyhow::Result<Vec<f64>> {
    for _ in 0..100 {
        call()?;
    }
    let started = Instant::now();
    let mut samples = Vec::with_capacity(budget.calls);
    while samples.len() < budget.calls {
        samples.push(call()?.as_secs_f64() * 1e6);
        if samples.len() >= 100.min(budget.calls) && started.elapsed() > budget.time {
            break;
        }
    }
    Ok(samples)
}

fn expect_one(count: usize) -> anyhow::Result<()> {
    if count != 1 {
        bail!("the wait reported {count} ready descriptors; expected exactly the ready one");
    }
    Ok(())
}

/// Waits (at most 10 s) until `socket` has something to read.
fn wait_readable(socket: &Socket) -> anyhow::Result<()> {
    let mut pollfd = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
    if poll(&mut pollfd, PollTimeout::from(10_000u16))? != 1 {
        bail!("the byte written to the ready socket did not arrive");
    }
    Ok(())
}

/// Raises the soft limit on open files to the hard limit; returns it.
fn raise_open_file_limit() -> anyhow::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit(RLIMIT_NOFILE)")?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).context("setrlimit(RLIMIT_NOFILE)")?;
    }
    Ok(hard)
}

/// The child process that holds the client ends of the idle connections.
struct Holder {
    child: Child,
    commands: Option<ChildStdin>,
    replies: BufReader<ChildStdout>,
}

impl Holder {
    fn start(addr: SocketAddr) -> anyhow::Result<Holder> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("--hold-connections")
            .arg(addr.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the process that holds the client ends")?;
        let commands = child.stdin.take();
        let replies = BufReader::new(child.stdout.take().context("piped stdout")?);
        Ok(Holder {
            child,
            commands,
            replies,
        })
    }

    /// Tells the child to hold `count` connections in all.
    fn hold(&mut self, count: usize) -> anyhow::Result<()> {
        let commands = self.commands.as_mut().context("stdin closed")?;
        writeln!(commands, "{count}")?;
        commands.flush()?;
        Ok(())
    }

    /// Waits for the child to say it holds `count` connections.
    fn wait_holding(&mut self, count: usize) -> anyhow::Result<()> {
        let mut line = String::new();
        self.replies.read_line(&mut line)?;
        if line.trim() != format!("holding {count}") {
            bail!("the connection holder said {line:?}");
        }
        Ok(())
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        // Closing its stdin tells the child to close everything and exit.
        drop(self.commands.take());
        let _ = self.child.wait();
    }
}

/// The child: connect until holding as many connections as each line of
/// stdin says; exit when stdin closes (or after CHILD_LIFETIME).
fn hold_connections(addr: SocketAddr) -> anyhow::Result<()> {
    thread::spawn(|| {
        thread::sleep(CHILD_LIFETIME);
        std::process::exit(2);
    });
    raise_open_file_limit()?;
    let mut held = Vec::new();
    let mut stdout = std::io::stdout();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let count: usize = line?.trim().parse().context("a count of connections")?;
        while held.len() < count {
            let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
                .with_context(|| format!("idle connection {} to {addr}", held.len() + 1))?;
            held.push(stream);
        }
        writeln!(stdout, "holding {}", held.len())?;
        stdout.flush()?;
    }
    // stdin is at EOF: the parent is done. Returning closes every connection.
    Ok(())
}

fn report(
    options: &Options,
    results: &[(usize, [Option<Summary>; 3])],
    skipped: &[usize],
    limit: u64,
    budget: &Budget,
) -> anyhow::Result<()> {
    let mut section = Section::new(
        options,
        "multiplex",
        "Multiplexing: what one wait costs as idle connections grow",
    );
    section.paragraph(&format!(
        "`bench_multiplex` holds N idle loopback TCP connections plus one with a byte waiting \
         in it, and times one `select(2)`, `poll(2)` or `epoll_wait(2)` call asking which of \
         the N + 1 sockets is readable; the answer is always the one ready socket. Each point \
         is up to {} calls (fewer where {} ms ran out first), after 100 untimed ones; the \
         table gives the median and, in parentheses, the 99th percentile, in µs per call. \
         Only the system call is timed: a select or poll server also rebuilds its sets and \
         scans the answer on every call. `select` stops at 1,024 descriptors (`FD_SETSIZE`). \
         The client ends of the connections are held by a second process, so that 10,000 \
         connections fit in the open file limit of {} per process.",
        thousands(budget.calls as f64),
        budget.time.as_millis(),
        thousands(limit as f64),
    ));
    let mut table = Table::new(&["idle connections", "select", "poll", "epoll"]);
    for (size, row) in results {
        let mut cells = vec![thousands(*size as f64)];
        for summary in row {
            cells.push(match summary {
                Some(s) => format!("{} ({})", sig3(s.median), sig3(s.p99)),
                None => "— (past FD_SETSIZE)".to_string(),
            });
        }
        table.row(cells);
    }
    section.table(&table);
    section.paragraph(&reading(results));
    if !skipped.is_empty() {
        section.paragraph(&format!(
            "Skipped: {:?} idle connections do not fit in this process's open file limit ({limit}).",
            skipped
        ));
    }
    let series = WAITS
        .iter()
        .enumerate()
        .map(|(i, wait)| Series {
            name: wait.name().to_string(),
            points: results
                .iter()
                .filter_map(|(size, row)| Some((*size as f64, row[i]?.median)))
                .collect(),
        })
        .collect();
    section.chart(
        "multiplex.svg",
        "Median µs per wait call against idle connections, log-log: select and poll grow with the connections, epoll stays flat",
        &Chart::Lines(LineChart {
            title: "One wait call, one ready socket among N idle ones".into(),
            x_label: "idle connections".into(),
            y_label: "µs per call (median)".into(),
            log_x: true,
            log_y: true,
            series,
        }),
    )?;
    section.chapter_table(
        &table,
        "Median (99th percentile) µs for one wait call that finds the one ready socket among N idle \
         loopback connections; release build, the system call alone.",
    );

    let epoll: Vec<(usize, f64)> = results
        .iter()
        .filter_map(|(size, row)| Some((*size, row[2]?.median)))
        .collect();
    if let (Some(low), Some(high)) = (
        epoll.iter().map(|p| p.1).reduce(f64::min),
        epoll.iter().map(|p| p.1).reduce(f64::max),
    ) {
        let (first, last) = (epoll[0], epoll[epoll.len() - 1]);
        let spread = high / low;
        let full_range = first.0 <= 10 && last.0 >= 10_000;
        section.target(
            "epoll's wait cost stays flat (within 2×) from 10 to 10,000 idle descriptors",
            &format!(
                "medians from {} µs to {} µs over {} to {} idle, a spread of {:.2}×",
                sig3(low),
                sig3(high),
                thousands(first.0 as f64),
                thousands(last.0 as f64),
                spread
            ),
            spread <= 2.0 && full_range,
        );
    }
    section.write()?;
    Ok(())
}

/// What the table says: what each idle descriptor adds to a select or poll,
/// and what epoll's wait costs throughout.
fn reading(results: &[(usize, [Option<Summary>; 3])]) -> String {
    let mut text = String::from("**Reading the figures.** ");
    for (i, wait) in WAITS.iter().enumerate() {
        let points: Vec<(usize, f64)> = results
            .iter()
            .filter_map(|(size, row)| Some((*size, row[i]?.median)))
            .collect();
        let (Some(first), Some(last)) = (points.first(), points.last()) else {
            continue;
        };
        if last.0 == first.0 {
            continue;
        }
        if *wait == Wait::Epoll {
            text.push_str(&format!(
                "`epoll_wait` costs {} µs with {} idle connections and {} µs with {}: the idle \
                 ones are on the interest list, never on the ready list, and the wait never \
                 looks at them.",
                sig3(first.1),
                thousands(first.0 as f64),
                sig3(last.1),
                thousands(last.0 as f64),
            ));
        } else {
            let per_descriptor_ns = (last.1 - first.1) * 1000.0 / (last.0 - first.0) as f64;
            text.push_str(&format!(
                "`{}` goes from {} µs with {} idle connections to {} µs with {}, {}× as much: \
                 about {:.0} ns for every idle descriptor, which the kernel asks about on every \
                 call. ",
                wait.name(),
                sig3(first.1),
                thousands(first.0 as f64),
                sig3(last.1),
                thousands(last.0 as f64),
                thousands(last.1 / first.1),
                per_descriptor_ns,
            ));
        }
    }
    text
}
