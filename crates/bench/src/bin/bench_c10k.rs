//! C10K: ten thousand idle FTP control connections, logged in, held open
//! against `evented`, `hybrid` and `thread_per_connection`, while ten
//! active clients measure the `NOOP` round trip.
//!
//! For each server: start it; measure 10 active clients alone (the
//! baseline); open the idle connections, at most 100 logging in at a time,
//! noting how long that takes and how any failure looks; measure the same
//! 10 active clients again while all of them are held; check that every
//! idle connection still answers a `NOOP`; then close everything. The
//! memory, processes and threads of the server (all its processes), and the
//! kernel's memory for thread stacks (`KernelStack` in /proc/meminfo), are
//! read before the idle connections are opened and while they are held.
//!
//! The benchmark raises its own soft limit on open files to the hard limit
//! (it holds every client end), and the servers inherit it.
//!
//! Run it: `cargo build --release -p bench -p ftp-architectures`, then
//! `cargo run --release -p bench --bin bench_c10k` (`--quick`: 2,000 idle
//! connections, shorter runs).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use bench::chart::{BarChart, Chart};
use bench::ftp_load::{self, Load, LoadResult};
use bench::options::Options;
use bench::proc_tree::{TreeStats, tree_stats};
use bench::procs::{Ready, ServerProcess, sibling_binary};
use bench::report::{Section, Table};
use bench::stats::{sig3, thousands};
use nix::sys::resource::{Resource, getrlimit, setrlimit};

const SERVERS: [&str; 3] = ["evented", "hybrid", "thread_per_connection"];

/// The active clients, each doing NOOP round trips back to back.
const ACTIVE: usize = 10;

/// At most this many idle connections between connect(2) and 230 at once:
/// below every server's accept backlog (128 for thread_per_connection).
const IN_FLIGHT: usize = 100;

/// The target for the reactors, in µs.
const P99_TARGET_US: f64 = 10_000.0;

/// What one server did.
struct Outcome {
    server: &'static str,
    /// The active clients with nothing else connected.
    alone: LoadResult,
    /// The idle connections that were logged in and held.
    held: usize,
    /// Idle connections closed again to make room for the active clients
    /// (when the server was full).
    made_room: usize,
    opening: Duration,
    timed_out: bool,
    open_failures: BTreeMap<String, u64>,
    /// The server when nothing is connected, and while holding them all.
    idle_server: TreeStats,
    holding: TreeStats,
    kernel_stack_delta_kib: i64,
    /// The active clients while every idle connection is held.
    loaded: Option<LoadResult>,
    /// Idle connections that answered a NOOP at the end.
    answering: usize,
    /// Whether the server process was still running at the end.
    alive: bool,
}

fn main() -> anyhow::Result<()> {
    let options = Options::parse(&[], "")?;
    let mode = options.mode;
    let wanted = mode.pick(10_000, 2_000, 200);

    // Every idle connection is a descriptor here and one (or, during a
    // transfer, two) in the server, which inherits this limit.
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit(2)")?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).context("setrlimit(2)")?;
    }
    let room = hard.saturating_sub(100) as usize;
    let idle = wanted.min(room);
    if idle < wanted {
        eprintln!(
            "the hard limit on open files is {hard}: holding {idle} idle connections, not {wanted}"
        );
    }
    let load = Load {
        clients: ACTIVE,
        session: None,
        ramp: Duration::ZERO,
        warmup: mode.pick(
            Duration::from_millis(500),
            Duration::from_millis(200),
            Duration::from_millis(50),
        ),
        duration: mode.pick(
            Duration::from_secs(3),
            Duration::from_secs(1),
            Duration::from_millis(200),
        ),
    };
    let open_timeout = mode.pick(
        Duration::from_secs(60),
        Duration::from_secs(30),
        Duration::from_secs(10),
    );

    let root = std::env::temp_dir().join(format!("bench-c10k-{}", std::process::id()));
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let bar = bench::progress::bar("c10k", SERVERS.len() as u64);
    let mut outcomes = Vec::new();
    let mut error = None;
    for server in SERVERS {
        bar.set_message(server);
        match hold(server, idle, &load, open_timeout, &root) {
            Ok(outcome) => outcomes.push(outcome),
            Err(err) => {
                error = Some(err.context(server));
                break;
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let _ = std::fs::remove_dir_all(&root);
    if let Some(err) = error {
        return Err(err);
    }
    report(&options, idle, hard, &load, &outcomes)
}

fn hold(
    server: &'static str,
    idle: usize,
    load: &Load,
    open_timeout: Duration,
    root: &std::path::Path,
) -> anyhow::Result<Outcome> {
    let mut command = Command::new(sibling_binary(server)?);
    command
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("FTP_ROOT", root)
        // The idle clients and the active ones: the cap must not be what
        // stops thread_per_connection.
        .env("MAX_CONNECTIONS", (idle + ACTIVE).to_string())
        .env_remove("CONCURRENCY")
        .env_remove("IDLE_TIMEOUT")
        .env_remove("DATA_TIMEOUT");
    let process = ServerProcess::start(server, command, Ready::ListeningLine)?;
    let pid = process.pid();

    let alone = ftp_load::run(process.addr(), load).context("the active clients alone")?;
    let idle_server = tree_stats(pid);
    let stacks_before = kernel_stack_kib();

    let opened = ftp_load::open_idle(process.addr(), idle, IN_FLIGHT, open_timeout)?;
    let mut sockets = opened.sockets;
    let held = sockets.len();
    // A server that is full refuses with 421, and would refuse the active
    // clients too: close as many idle connections as there are active
    // clients, so that the latency is still measured, at the server's
    // capacity.
    let full = opened.failures.contains_key("421 refused");
    let made_room = if full && held >= ACTIVE {
        sockets.truncate(held - ACTIVE);
        ACTIVE
    } else {
        0
    };
    let holding = tree_stats(pid);
    let kernel_stack_delta_kib = kernel_stack_kib() - stacks_before;
    let alive = is_running(pid);
    let loaded = if alive && !sockets.is_empty() {
        Some(ftp_load::run(process.addr(), load).context("the active clients")?)
    } else {
        None
    };
    let answering = ftp_load::still_answering(&mut sockets, Duration::from_secs(60));
    let alive = alive && is_running(pid);
    drop(sockets);
    drop(process);
    Ok(Outcome {
        server,
        alone,
        held,
        made_room,
        opening: opened.elapsed,
        timed_out: opened.timed_out,
        open_failures: opened.failures,
        idle_server,
        holding,
        kernel_stack_delta_kib,
        loaded,
        answering,
        alive,
    })
}

/// `KernelStack` from /proc/meminfo, in KiB: every thread has a kernel
/// stack, which no process's RSS includes.
fn kernel_stack_kib() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|line| line.starts_with("KernelStack:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Whether `pid` is running (not gone, not a zombie waiting to be reaped).
fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .next()?
                .to_string();
            Some(state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

/// A figure in MiB that may be nothing at all (or, being the whole
/// machine's, a little below): `0` rather than `0.0000`.
fn mib_or_zero(mib: f64) -> String {
    if mib.abs() < 0.05 {
        "0".to_string()
    } else {
        sig3(mib)
    }
}

fn mib(kib: u64) -> String {
    sig3(kib as f64 / 1024.0)
}

fn report(
    options: &Options,
    idle: usize,
    hard_limit: u64,
    load: &Load,
    outcomes: &[Outcome],
) -> anyhow::Result<()> {
    let mut section = Section::new(options, "c10k", "C10K: ten thousand idle connections");
    section.paragraph(&format!(
        "`bench_c10k` opens {} control connections to one server, each of which logs in \
         (`USER anonymous`, `230`) and then stays silent, at most {IN_FLIGHT} logging in at a \
         time so that no accept queue overflows. While it holds them all, {ACTIVE} active clients \
         send `NOOP` after `NOOP`, each waiting for its reply ({} of warm-up, then {} measured). \
         The same {ACTIVE} clients are measured first with nothing else connected, for \
         comparison. At the end, every idle connection is asked for one more `NOOP`, to show \
         that it was really held. The generator is the same single epoll thread as in \
         `bench_architectures`; the benchmark raises its own soft limit on open files to the \
         hard limit, and the servers inherit it. `evented` is one thread; `hybrid` forks one \
         reactor per core ({} here); `thread_per_connection` runs with \
         `MAX_CONNECTIONS={}` (the idle clients plus the active ones), so that its cap is not \
         what stops it. Memory is the sum of `VmRSS` over all the server's processes; threads \
         have a kernel stack each as well, which no RSS includes: the *kernel stacks* column is \
         the growth of `KernelStack` in /proc/meminfo while the connections are held (the \
         whole machine's, so other programs add noise to it).",
        thousands(idle as f64),
        format_args!("{} s", load.warmup.as_secs_f64()),
        format_args!("{} s", load.duration.as_secs_f64()),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        idle + ACTIVE,
    ));

    let mut table = Table::new(&[
        "server",
        "idle held",
        "time to open",
        "memory MiB, none / holding",
        "KiB per connection",
        "kernel stacks MiB",
        "processes",
        "threads",
        "p50 / p99 µs, alone",
        "p50 / p99 / max µs, holding",
        "still answering",
    ]);
    for outcome in outcomes {
        let per_connection = (outcome.holding.rss_kib as f64 - outcome.idle_server.rss_kib as f64)
            / outcome.held.max(1) as f64;
        let latencies = |result: &LoadResult, with_max: bool| {
            result.latency_us.map_or("—".to_string(), |s| {
                if with_max {
                    format!("{} / {} / {}", sig3(s.median), sig3(s.p99), sig3(s.max))
                } else {
                    format!("{} / {}", sig3(s.median), sig3(s.p99))
                }
            })
        };
        table.row(vec![
            outcome.server.to_string(),
            thousands(outcome.held as f64),
            format!("{:.2} s", outcome.opening.as_secs_f64()),
            format!(
                "{} / {}",
                mib(outcome.idle_server.rss_kib),
                mib(outcome.holding.rss_kib)
            ),
            sig3(per_connection),
            mib_or_zero(outcome.kernel_stack_delta_kib as f64 / 1024.0),
            thousands(outcome.holding.processes as f64),
            thousands(outcome.holding.threads as f64),
            latencies(&outcome.alone, false),
            outcome
                .loaded
                .as_ref()
                .map_or("—".to_string(), |result| latencies(result, true)),
            thousands(outcome.answering as f64),
        ]);
    }
    section.table(&table);

    for outcome in outcomes {
        let mut notes = Vec::new();
        if !outcome.open_failures.is_empty() {
            let what: Vec<String> = outcome
                .open_failures
                .iter()
                .map(|(kind, count)| format!("{count} × {kind}"))
                .collect();
            notes.push(format!(
                "opening the idle connections failed: {}",
                what.join(", ")
            ));
        }
        if outcome.made_room > 0 {
            notes.push(format!(
                "it was full at {} connections, so {} idle connections were closed to make \
                 room for the active clients, which then ran with {} idle connections held",
                thousands(outcome.held as f64),
                outcome.made_room,
                thousands((outcome.held - outcome.made_room) as f64)
            ));
        }
        if outcome.timed_out {
            notes.push("it had not logged them all in when the time to open them ran out".into());
        }
        if !outcome.alive {
            notes.push("the server process was gone at the end".into());
        }
        if let Some(result) = &outcome.loaded {
            if !result.failures.is_empty() {
                notes.push(format!(
                    "the active clients saw failures: {:?}",
                    result.failures
                ));
            }
        }
        if !notes.is_empty() {
            eprintln!("{}: {}", outcome.server, notes.join("; "));
            section.paragraph(&format!("`{}`: {}.", outcome.server, notes.join("; ")));
        }
    }

    let p99 = |outcome: &Outcome| {
        outcome
            .loaded
            .as_ref()
            .and_then(|r| r.latency_us)
            .map(|s| s.p99)
    };
    section.chart(
        "c10k-p99.svg",
        "99th percentile NOOP latency of 10 active clients, alone and with the idle connections held",
        &Chart::Bars(BarChart {
            title: format!("NOOP p99, {ACTIVE} active clients"),
            y_label: "µs".into(),
            log_y: false,
            groups: outcomes.iter().map(|o| o.server.to_string()).collect(),
            series: vec![
                (
                    "alone".into(),
                    outcomes
                        .iter()
                        .map(|o| o.alone.latency_us.map_or(f64::NAN, |s| s.p99))
                        .collect(),
                ),
                (
                    "with the idle connections held".to_string(),
                    outcomes.iter().map(|o| p99(o).unwrap_or(f64::NAN)).collect(),
                ),
            ],
        }),
    )?;
    section.chart(
        "c10k-memory.svg",
        "Memory of each server holding the idle connections",
        &Chart::Bars(BarChart {
            title: format!("Memory holding {} idle connections", thousands(idle as f64)),
            y_label: "MiB".into(),
            log_y: false,
            groups: outcomes.iter().map(|o| o.server.to_string()).collect(),
            series: vec![
                (
                    "RSS, all processes".into(),
                    outcomes
                        .iter()
                        .map(|o| o.holding.rss_kib as f64 / 1024.0)
                        .collect(),
                ),
                (
                    "kernel stacks (growth)".into(),
                    outcomes
                        .iter()
                        .map(|o| (o.kernel_stack_delta_kib.max(0) as f64) / 1024.0)
                        .collect(),
                ),
            ],
        }),
    )?;

    section.paragraph(&reading(idle, outcomes));

    let mut compact = Table::new(&[
        "server",
        "idle connections held",
        "memory MiB (all processes)",
        "threads",
        "NOOP p99 µs, 10 active clients",
    ]);
    for outcome in outcomes {
        compact.row(vec![
            outcome.server.to_string(),
            thousands(outcome.held as f64),
            mib(outcome.holding.rss_kib),
            thousands(outcome.holding.threads as f64),
            p99(outcome).map_or("—".to_string(), sig3),
        ]);
    }
    section.chapter_table(
        &compact,
        &format!(
            "{} idle control connections, logged in, held while {ACTIVE} clients send NOOPs.",
            thousands(idle as f64)
        ),
    );

    for server in ["evented", "hybrid"] {
        let Some(outcome) = outcomes.iter().find(|o| o.server == server) else {
            continue;
        };
        let idle_during = outcome.held - outcome.made_room;
        let held_all = idle_during >= idle && outcome.answering >= idle;
        let full = if outcome.made_room > 0 {
            format!(
                " (full at {} connections; the rest got 421)",
                thousands(outcome.held as f64)
            )
        } else {
            String::new()
        };
        let measured = match p99(outcome) {
            Some(p99) => format!(
                "{} idle + {ACTIVE} active held{full}, p99 {} ms",
                thousands(idle_during as f64),
                sig3(p99 / 1000.0)
            ),
            None => format!(
                "{} of {} idle held{full}, no latency measured",
                thousands(idle_during as f64),
                thousands(idle as f64)
            ),
        };
        let met = held_all && p99(outcome).is_some_and(|p99| p99 < P99_TARGET_US);
        section.target(
            &format!(
                "`{server}` holds {} connections with p99 NOOP latency under 10 ms",
                thousands(idle as f64)
            ),
            &measured,
            met,
        );
        if !met && outcome.made_room > 0 {
            section.paragraph(&format!(
                "**`{server}` missed the target by {} connections.** The reactor admits \
                 (soft limit on open files − 32) / 2 clients, keeping two descriptors for each \
                 (its control connection, and a data connection should it start a transfer) \
                 and 32 for itself; with this machine's hard limit of {} that is {} clients, so \
                 connection number {} got `421`. The latency part holds (p99 above, with the \
                 server full). What would close it: a hard limit of at least {} \
                 (`ulimit -Hn`, `LimitNOFILE=` in a systemd unit; raising it needs root's \
                 CAP_SYS_RESOURCE, which this sandbox does not grant), or a reactor that counts \
                 one descriptor per client and refuses a transfer with `425` when the second \
                 one cannot be had.",
                thousands((idle + ACTIVE).saturating_sub(outcome.held) as f64),
                thousands(hard_limit as f64),
                thousands(outcome.held as f64),
                thousands(outcome.held as f64 + 1.0),
                thousands((2 * (idle + ACTIVE) + 32) as f64),
            ));
        }
    }
    section.write()?;
    Ok(())
}

/// What the figures say, from the figures of this run.
fn reading(idle: usize, outcomes: &[Outcome]) -> String {
    let mut text = String::from("**Reading the figures.** ");
    for outcome in outcomes {
        let per_connection = (outcome.holding.rss_kib as f64 - outcome.idle_server.rss_kib as f64)
            / outcome.held.max(1) as f64;
        let held = if outcome.held == idle && outcome.answering == idle {
            format!("held all {}", thousands(idle as f64))
        } else {
            format!(
                "held {} of {} ({} still answering at the end)",
                thousands(outcome.held as f64),
                thousands(idle as f64),
                thousands(outcome.answering as f64)
            )
        };
        text.push_str(&format!(
            "`{}` {held}, in {} MiB of RSS (about {} KiB per connection) with {} {}",
            outcome.server,
            mib(outcome.holding.rss_kib),
            sig3(per_connection),
            thousands(outcome.holding.threads as f64),
            if outcome.holding.threads == 1 {
                "thread"
            } else {
                "threads"
            },
        ));
        if outcome.kernel_stack_delta_kib > 1024 {
            text.push_str(&format!(
                ", plus {} MiB of kernel stacks",
                sig3(outcome.kernel_stack_delta_kib as f64 / 1024.0)
            ));
        }
        text.push_str(". ");
    }
    text.push_str(
        "An idle connection costs a reactor a socket and a small struct, and nothing wakes it: \
         epoll reports only the connections that have something to say, so the 10 active \
         clients see about the same latency with thousands of idle ones as alone. A thread per \
         connection pays for each idle client with a thread blocked in read(2): a stack (mostly \
         untouched, so little of it is resident), a kernel stack, and a task for the scheduler \
         to keep. (Each socket also costs a few KiB of kernel memory, the same whatever \
         serves it, which no RSS includes.)",
    );
    text
}
