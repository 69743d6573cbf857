//! The seven FTP architectures of Part 3 (`ftp-architectures`) under 1, 10,
//! 100 and 1,000 concurrent clients doing control-channel round trips.
//!
//! Every client logs in, then alternates `NOOP` and `PWD`, one command at a
//! time, for a session of 100 round trips; then it sends `QUIT` and connects
//! again at once. The generator is `bench::ftp_load`: one thread, one epoll
//! instance, driving every client, the same for all seven servers. Each
//! server is started afresh for each client count, with `MAX_CONNECTIONS`
//! high enough for every client and the default `CONCURRENCY`, and a thread
//! samples the memory, processes and threads of the server and all its
//! children ten times a second.
//!
//! Run it: `cargo build --release -p bench -p ftp-architectures`, then
//! `cargo run --release -p bench --bin bench_architectures` (`--quick`:
//! shorter runs).

use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use bench::chart::{Chart, LineChart, Series};
use bench::ftp_load::{self, Load, LoadResult};
use bench::options::Options;
use bench::proc_tree::{Sampler, TreeStats, tree_cpu, tree_pss_kib};
use bench::procs::{Ready, ServerProcess, sibling_binary};
use bench::report::{Section, Table};
use bench::stats::{sig3, thousands};

/// The servers, in the order of the book's chapters.
const SERVERS: [&str; 7] = [
    "serial",
    "process_per_connection",
    "thread_per_connection",
    "preforking",
    "thread_pool",
    "evented",
    "hybrid",
];

/// The cap of the architectures that make a process or thread per client:
/// above the largest client count, so that the cap is never what is
/// measured.
const MAX_CONNECTIONS: usize = 2_000;

/// Round trips per session, before `QUIT` and a new connection.
const SESSION: usize = 100;

/// One measured cell: a server under a client count.
struct Cell {
    server: &'static str,
    clients: usize,
    load: LoadResult,
    /// Peaks over the cell, server and children together.
    peak: TreeStats,
    /// The proportional set size of the server and its children, read 70%
    /// into the measured window.
    pss_kib: u64,
    /// The server's CPU time during the load, as a fraction of one core.
    server_cpu: f64,
}

fn main() -> anyhow::Result<()> {
    let options = Options::parse(&[], "")?;
    let mode = options.mode;
    let client_counts: Vec<usize> =
        mode.pick(vec![1, 10, 100, 1_000], vec![1, 10, 100, 1_000], vec![1, 8]);
    let base = Load {
        clients: 1,
        session: Some(mode.pick(SESSION, SESSION, 10)),
        ramp: mode.pick(
            Duration::from_millis(300),
            Duration::from_millis(100),
            Duration::from_millis(20),
        ),
        warmup: mode.pick(
            Duration::from_millis(500),
            Duration::from_millis(250),
            Duration::from_millis(50),
        ),
        duration: mode.pick(
            Duration::from_millis(800),
            Duration::from_millis(500),
            Duration::from_millis(150),
        ),
    };
    let sample_every = Duration::from_millis(mode.pick(100, 50, 20));

    // The servers need a directory to serve; PWD and NOOP never touch it.
    let root = std::env::temp_dir().join(format!("bench-architectures-{}", std::process::id()));
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let rounds = mode.pick(3, 1, 1);
    let result = measure(&client_counts, &base, rounds, sample_every, &root);
    let _ = std::fs::remove_dir_all(&root);
    let cells = result?;
    report(
        &options,
        &client_counts,
        &base,
        rounds,
        sample_every,
        &cells,
    )
}

fn measure(
    client_counts: &[usize],
    base: &Load,
    rounds: usize,
    sample_every: Duration,
    root: &PathBuf,
) -> anyhow::Result<Vec<Cell>> {
    let bar = bench::progress::bar(
        "architectures",
        (rounds * client_counts.len() * SERVERS.len()) as u64,
    );
    let mut all = Vec::new();
    for _round in 0..rounds {
        for &clients in client_counts {
            for server in SERVERS {
                bar.set_message(format!("{server}, {clients} clients"));
                all.push(measure_cell(server, clients, base, sample_every, root)?);
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();
    // Each server's median round (by requests/s) for each client count.
    let mut cells = Vec::new();
    for &clients in client_counts {
        for server in SERVERS {
            let mut rounds: Vec<Cell> = Vec::new();
            let mut rest = Vec::new();
            for cell in all {
                if cell.server == server && cell.clients == clients {
                    rounds.push(cell);
                } else {
                    rest.push(cell);
                }
            }
            all = rest;
            rounds.sort_by(|a, b| a.load.per_second.total_cmp(&b.load.per_second));
            let middle = rounds.len() / 2;
            cells.extend(rounds.into_iter().nth(middle));
        }
    }
    Ok(cells)
}

/// One server, freshly started, under `clients` clients.
fn measure_cell(
    server: &'static str,
    clients: usize,
    base: &Load,
    sample_every: Duration,
    root: &PathBuf,
) -> anyhow::Result<Cell> {
    let mut command = Command::new(sibling_binary(server)?);
    command
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("FTP_ROOT", root)
        .env("MAX_CONNECTIONS", MAX_CONNECTIONS.to_string())
        .env_remove("CONCURRENCY")
        .env_remove("IDLE_TIMEOUT")
        .env_remove("DATA_TIMEOUT");
    let process = ServerProcess::start(server, command, Ready::ListeningLine)?;
    let pid = process.pid();
    let sampler = Sampler::start(pid, sample_every);
    // PSS is slow to read, so it is read once, late in the measured window
    // (after it, the clients leave and the forked servers' children exit).
    let pss_at = base.warmup + base.duration.mul_f64(0.7);
    let pss = thread::spawn(move || {
        thread::sleep(pss_at);
        tree_pss_kib(pid)
    });
    let cpu_before = tree_cpu(pid);
    let started = Instant::now();
    let load = ftp_load::run(
        process.addr(),
        &Load {
            clients,
            ..base.clone()
        },
    )
    .with_context(|| format!("{server} with {clients} clients"))?;
    let wall = started.elapsed();
    let server_cpu = tree_cpu(pid).saturating_sub(cpu_before).as_secs_f64() / wall.as_secs_f64();
    let peak = sampler.stop();
    let pss_kib = pss.join().unwrap_or(0);
    drop(process);
    Ok(Cell {
        server,
        clients,
        load,
        peak,
        pss_kib,
        server_cpu,
    })
}

fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

fn mib(kib: u64) -> String {
    sig3(kib as f64 / 1024.0)
}

/// A latency in µs, or a dash when there was none.
fn micros(summary: Option<f64>) -> String {
    summary.map_or("—".to_string(), sig3)
}

fn report(
    options: &Options,
    client_counts: &[usize],
    base: &Load,
    rounds: usize,
    sample_every: Duration,
    cells: &[Cell],
) -> anyhow::Result<()> {
    let mut section = Section::new(
        options,
        "architectures",
        "Seven FTP architectures under load",
    );
    section.paragraph(&format!(
        "`bench_architectures` runs each of the seven servers of Part 3 under 1 to {} concurrent \
         clients. Every client connects, logs in (`USER anonymous`, which our servers answer with \
         `230`), then alternates `NOOP` and `PWD`, one command at a time, waiting for each reply; \
         after {} round trips it sends `QUIT`, waits for `221`, closes, and connects again at \
         once. Bounded sessions are what give every client a turn on a server that serves a \
         fixed number of clients at a time (serial: one; `preforking` and `thread_pool`: \
         `CONCURRENCY`, by default 4): the other clients wait in the listener's accept queue \
         (backlog 128; 1,024 for `evented` and `hybrid`), or, once it is full, in SYN \
         retransmission, until a session ends.",
        client_counts.last().copied().unwrap_or(0),
        base.session.unwrap_or(0),
    ));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    section.paragraph(&format!(
        "The load generator is one thread with one epoll instance driving every client \
         (`bench::ftp_load`), the same for all servers: on this {cores}-core machine it takes one \
         core at most and leaves the rest to the server. Each server is started afresh for each \
         client count, with `MAX_CONNECTIONS={MAX_CONNECTIONS}` (above every client count, so \
         that the cap of `process_per_connection` and `thread_per_connection` is never what is \
         measured) and the default `CONCURRENCY` (4 workers for `preforking` and `thread_pool`, \
         one per core, {cores}, for `hybrid`). The clients make their first connections over {}; after \
         {} of warm-up (ramp included) come {} measured.{} *Requests/s* counts the `NOOP`/`PWD` \
         replies in that window; *p50* and *p99* are their round-trip latencies; *wait for 220* \
         is the 99th percentile of the time from `connect(2)` to the server's greeting, which is \
         where a client that the server is not serving spends its time; *served* is how many \
         clients completed at least one round trip in the window. Memory is the peak of the sum \
         of `VmRSS` over the server and every process descended from it (sampled every {} ms; \
         pages that forked processes share are counted once per process, as `ps` would add them \
         up); *PSS* is the proportional set size of the same processes, read once, 70% into the \
         window (a page shared by N processes counts 1/N in each), which is what they really occupy \
         together; processes and threads are peaks too, threads counted over all processes. CPU is \
         CPU time during the run over its length (1.0 = one core busy all the time).",
        seconds(base.ramp),
        seconds(base.warmup),
        seconds(base.duration),
        match rounds {
            1 => String::new(),
            n => format!(
                " Every cell is measured {n} times, the rounds going through all servers and \
                 client counts in turn, and the table shows each cell's median round (by \
                 requests/s)."
            ),
        },
        sample_every.as_millis(),
    ));

    let mut table = Table::new(&[
        "server",
        "clients",
        "requests/s",
        "p50 µs",
        "p99 µs",
        "wait for 220, p99 ms",
        "served",
        "memory MiB",
        "PSS MiB",
        "processes",
        "threads",
        "server CPU",
        "generator CPU",
    ]);
    for &clients in client_counts {
        for cell in cells.iter().filter(|cell| cell.clients == clients) {
            let load = &cell.load;
            table.row(vec![
                cell.server.to_string(),
                thousands(clients as f64),
                thousands(load.per_second),
                micros(load.latency_us.map(|s| s.median)),
                micros(load.latency_us.map(|s| s.p99)),
                micros(load.greeting_us.map(|s| s.p99 / 1000.0)),
                thousands(load.clients_served as f64),
                mib(cell.peak.rss_kib),
                mib(cell.pss_kib),
                thousands(cell.peak.processes as f64),
                thousands(cell.peak.threads as f64),
                format!("{:.2}", cell.server_cpu),
                format!("{:.2}", load.generator_cpu),
            ]);
        }
    }
    section.table(&table);

    let failures: Vec<String> = cells
        .iter()
        .filter(|cell| !cell.load.failures.is_empty())
        .map(|cell| {
            let what: Vec<String> = cell
                .load
                .failures
                .iter()
                .map(|(kind, count)| format!("{count} × {kind}"))
                .collect();
            format!(
                "{} with {} clients: {}",
                cell.server,
                cell.clients,
                what.join(", ")
            )
        })
        .collect();
    if failures.is_empty() {
        section.paragraph("No client saw a refusal, a reset or an unexpected reply.");
    } else {
        eprintln!("failures: {}", failures.join("; "));
        section.paragraph(&format!(
            "Failures seen by the clients (each client connects again 50 ms later): {}.",
            failures.join("; ")
        ));
    }

    let series = |value: &dyn Fn(&Cell) -> Option<f64>| -> Vec<Series> {
        SERVERS
            .iter()
            .map(|&server| Series {
                name: server.to_string(),
                points: cells
                    .iter()
                    .filter(|cell| cell.server == server)
                    .filter_map(|cell| Some((cell.clients as f64, value(cell)?)))
                    .collect(),
            })
            .collect()
    };
    let line = |title: &str, y_label: &str, log_y: bool, value: &dyn Fn(&Cell) -> Option<f64>| {
        Chart::Lines(LineChart {
            title: title.to_string(),
            x_label: "concurrent clients".into(),
            y_label: y_label.to_string(),
            log_x: true,
            log_y,
            series: series(value),
        })
    };
    section.chart(
        "architectures-throughput.svg",
        "Requests per second of each architecture against the number of clients",
        &line(
            "Requests per second (NOOP/PWD)",
            "requests/s",
            false,
            &|cell| Some(cell.load.per_second),
        ),
    )?;
    section.chart(
        "architectures-p50.svg",
        "Median round-trip latency of each architecture against the number of clients",
        &line("Median round trip", "µs", true, &|cell| {
            cell.load.latency_us.map(|s| s.median)
        }),
    )?;
    section.chart(
        "architectures-p99.svg",
        "99th percentile round-trip latency of each architecture against the number of clients",
        &line("99th percentile round trip", "µs", true, &|cell| {
            cell.load.latency_us.map(|s| s.p99)
        }),
    )?;
    section.chart(
        "architectures-wait.svg",
        "99th percentile wait from connect to greeting against the number of clients",
        &line(
            "Wait from connect(2) to 220, 99th percentile",
            "ms",
            true,
            &|cell| cell.load.greeting_us.map(|s| s.p99 / 1000.0),
        ),
    )?;
    section.chart(
        "architectures-memory.svg",
        "Peak memory of each server, all its processes, against the number of clients",
        &line(
            "Peak memory, all processes (sum of RSS)",
            "MiB",
            true,
            &|cell| Some(cell.peak.rss_kib as f64 / 1024.0),
        ),
    )?;
    section.chart(
        "architectures-processes.svg",
        "Peak number of processes of each server against the number of clients",
        &line("Peak processes", "processes", true, &|cell| {
            Some(cell.peak.processes as f64)
        }),
    )?;
    section.chart(
        "architectures-threads.svg",
        "Peak number of threads of each server against the number of clients",
        &line("Peak threads, all processes", "threads", true, &|cell| {
            Some(cell.peak.threads as f64)
        }),
    )?;

    section.paragraph(&reading(cells, client_counts));

    // The compact table the Part 3 chapters include: the largest client count.
    let most = client_counts.last().copied().unwrap_or(1);
    let mut compact = Table::new(&[
        "server",
        "requests/s",
        "served",
        "p99 µs",
        "wait for 220, p99 ms",
        "memory MiB",
        "PSS MiB",
        "processes",
        "threads",
    ]);
    for cell in cells.iter().filter(|cell| cell.clients == most) {
        compact.row(vec![
            cell.server.to_string(),
            thousands(cell.load.per_second),
            thousands(cell.load.clients_served as f64),
            micros(cell.load.latency_us.map(|s| s.p99)),
            micros(cell.load.greeting_us.map(|s| s.p99 / 1000.0)),
            mib(cell.peak.rss_kib),
            mib(cell.pss_kib),
            thousands(cell.peak.processes as f64),
            thousands(cell.peak.threads as f64),
        ]);
    }
    section.chapter_table(
        &compact,
        &format!(
            "{} concurrent clients doing NOOP/PWD round trips, sessions of {} round trips; \
             *served*: the clients that got at least one reply in the measured window; *wait \
             for 220*: from connect(2) to the greeting; memory is the peak sum of RSS over all \
             the server's processes, PSS their proportional set size. The full table and the \
             charts are in the Measured chapter.",
            thousands(most as f64),
            base.session.unwrap_or(0)
        ),
    );
    section.write()?;
    Ok(())
}

/// What the figures say, written from the figures of this run.
fn reading(cells: &[Cell], client_counts: &[usize]) -> String {
    let most = client_counts.last().copied().unwrap_or(1);
    let at = |server: &str| {
        cells
            .iter()
            .find(|c| c.server == server && c.clients == most)
    };
    let p99_ms = |cell: &Cell| micros(cell.load.latency_us.map(|s| s.p99 / 1000.0));
    let wait_ms = |cell: &Cell| micros(cell.load.greeting_us.map(|s| s.p99 / 1000.0));
    let mut text = String::from("**Reading the figures.** ");
    text.push_str(&format!(
        "Each client waits for one reply before it sends the next command, so with {} clients \
         a server that serves them all at once answers each after about (clients ÷ \
         requests/s): latency grows with the client count even when throughput holds. ",
        thousands(most as f64)
    ));
    if let (Some(serial), Some(pool)) = (at("serial"), at("thread_pool")) {
        text.push_str(&format!(
            "`serial` serves one session at a time, and `preforking` and `thread_pool` four: \
             their commands are answered fast once a client is in (`serial`'s p99 {} µs), but \
             with {} clients only {} and {} of them got a turn in the measured window; the \
             others waited in the accept queue or, once it was full, retried their SYN, and the \
             99th percentile wait for a greeting was {} ms and {} ms. ",
            micros(serial.load.latency_us.map(|s| s.p99)),
            thousands(most as f64),
            thousands(serial.load.clients_served as f64),
            thousands(pool.load.clients_served as f64),
            wait_ms(serial),
            wait_ms(pool),
        ));
    }
    if let (Some(process), Some(thread)) =
        (at("process_per_connection"), at("thread_per_connection"))
    {
        text.push_str(&format!(
            "A process per connection served everyone with {} processes: {} MiB of RSS added up, \
             {} MiB of PSS, since the forked children share almost every page and RSS counts a \
             shared page in each of them. A thread per connection did it with {} threads in {} \
             MiB. Their p99 latencies were {} ms and {} ms, with the scheduler choosing among \
             that many runnable tasks. ",
            thousands(process.peak.processes as f64),
            mib(process.peak.rss_kib),
            mib(process.pss_kib),
            thousands(thread.peak.threads as f64),
            mib(thread.peak.rss_kib),
            p99_ms(process),
            p99_ms(thread),
        ));
    }
    if let (Some(evented), Some(hybrid)) = (at("evented"), at("hybrid")) {
        text.push_str(&format!(
            "`evented` served all {} clients from one thread in {} MiB, at {} requests/s (p99 \
             {} ms); `hybrid`, a reactor per core in {} processes, at {} requests/s. With the \
             generator on one of this machine's {} cores, `hybrid`'s reactors do not each have a \
             core of their own; a reactor per core pays off where the cores are not shared with \
             the load. ",
            thousands(most as f64),
            mib(evented.peak.rss_kib),
            thousands(evented.load.per_second),
            p99_ms(evented),
            thousands(hybrid.peak.processes as f64),
            thousands(hybrid.load.per_second),
            std::thread::available_parallelism().map_or(1, |n| n.get()),
        ));
    }
    let busiest = cells
        .iter()
        .map(|cell| cell.load.generator_cpu)
        .fold(0.0, f64::max);
    text.push_str(&format!(
        "The generator's CPU stayed at or below {busiest:.2} of a core (1.00 would mean it was \
         the limit). With one client, a round trip is two wake-ups, and what they cost depends \
         on where the scheduler runs the two threads: a few µs when the generator and the \
         server share a core, some 50 µs when the server must wake a halted virtual CPU on the \
         other one. Either can last a whole run, so differences between servers at one client \
         (and `serial`'s figures at every count) say more about that than about the \
         architecture."
    ));
    text
}
