//! CloudHash against Redis: `cloudhash_evented` (one event loop) and
//! `cloudhash_hybrid` (one event loop per core) against `redis-server`, all
//! on loopback, driven by the same load generator (`bench::kv_load`).
//!
//! For each workload (SET or GET; pipeline depth 1 or 16) every server gets
//! the same run in turn: 50 connections, a warm-up, then a fixed measured
//! window. The report gives requests per second, the median and 99th
//! percentile latency, and how much CPU the server and the generator used.
//!
//! Redis is started by the benchmark, on a free loopback port, with
//! persistence off (`--save '' --appendonly no`), and stopped at the end.
//! When `redis-server` is not installed (or `--no-redis` is given), only our
//! servers are measured and the report says how to install it. It is driven
//! twice: with the same lines our servers get (Redis's inline commands),
//! and with RESP arrays, its native encoding.
//!
//! Run it: `cargo build --release -p cloudhash`, then
//! `cargo run --release -p bench --bin bench_cloudhash` (`--quick`: 1 s per
//! run instead of 5).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use bench::chart::{BarChart, Chart};
use bench::kv_load::{self, LoadResult, Op, Protocol, Workload};
use bench::options::{Mode, Options};
use bench::procs::{ProcStats, Ready, ServerProcess, free_port, sibling_binary};
use bench::report::{Section, Table};
use bench::stats::{sig3, thousands};

/// One server as the generator sees it: a process, and how to talk to it.
struct Target {
    label: &'static str,
    server: usize,
    protocol: Protocol,
}

/// One measured run.
#[derive(Clone)]
struct Run {
    op: Op,
    depth: usize,
    target: usize,
    result: LoadResult,
    /// The server's CPU time during the run, as a fraction of one core.
    server_cpu: f64,
}

const DEPTHS: [usize; 2] = [1, 16];

/// How many times each server runs each workload; the report shows the
/// median round. Three in a full run, so that one unlucky run (another
/// process taking a core for a moment) does not decide a comparison.
fn rounds(mode: Mode) -> usize {
    mode.pick(3, 1, 1)
}
const OPS: [Op; 2] = [Op::Set, Op::Get];

fn main() -> anyhow::Result<()> {
    let options = Options::parse(&["--no-redis"], "[--no-redis]")?;
    let mode = options.mode;
    let base = Workload {
        op: Op::Set,
        depth: 1,
        connections: mode.pick(50, 50, 4),
        keys: mode.pick(10_000, 10_000, 100),
        value_len: 32,
        warmup: mode.pick(
            Duration::from_millis(500),
            Duration::from_millis(300),
            Duration::from_millis(50),
        ),
        duration: mode.pick(
            Duration::from_secs(3),
            Duration::from_secs(1),
            Duration::from_millis(200),
        ),
    };

    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut servers = vec![
        ServerProcess::start(
            "cloudhash_evented",
            {
                let mut command = Command::new(sibling_binary("cloudhash_evented")?);
                command.env("PORT", "0");
                command
            },
            Ready::ListeningLine,
        )?,
        ServerProcess::start(
            "cloudhash_hybrid",
            {
                let mut command = Command::new(sibling_binary("cloudhash_hybrid")?);
                command.env("PORT", "0").env("WORKERS", workers.to_string());
                command
            },
            Ready::ListeningLine,
        )?,
    ];
    let mut targets = vec![
        Target {
            label: "cloudhash_evented",
            server: 0,
            protocol: Protocol::Line,
        },
        Target {
            label: "cloudhash_hybrid",
            server: 1,
            protocol: Protocol::Line,
        },
    ];
    let redis = if options.has("--no-redis") {
        Err("not run (--no-redis)".to_string())
    } else {
        match find_redis() {
            Some(path) => {
                let (server, version) = start_redis(&path)?;
                servers.push(server);
                targets.push(Target {
                    label: "redis-server (inline)",
                    server: 2,
                    protocol: Protocol::RedisInline,
                });
                targets.push(Target {
                    label: "redis-server (RESP)",
                    server: 2,
                    protocol: Protocol::RedisArrays,
                });
                Ok(version)
            }
            None => Err(
                "`redis-server` is not installed (Debian/Ubuntu: `apt-get install redis-server`); \
                 only our servers were measured"
                    .to_string(),
            ),
        }
    };
    if let Err(why) = &redis {
        eprintln!("Redis: {why}");
    }

    // GETs must find their keys: store every key in every server first.
    for target in &targets {
        if target.protocol != Protocol::RedisArrays {
            let addr = servers[target.server].addr();
            kv_load::prefill(addr, target.protocol, base.keys, base.value_len)
                .with_context(|| format!("prefilling {}", target.label))?;
        }
    }

    let total = rounds(mode) * OPS.len() * DEPTHS.len() * targets.len();
    let bar = bench::progress::bar("cloudhash", total as u64);
    let mut runs = Vec::new();
    for _round in 0..rounds(mode) {
        for depth in DEPTHS {
            for op in OPS {
                // The servers take turns on each workload, so that whatever else
                // the machine does meanwhile falls on all of them alike.
                for (t, target) in targets.iter().enumerate() {
                    bar.set_message(format!("{} {op:?}, depth {depth}", target.label));
                    let workload = Workload {
                        op,
                        depth,
                        ..base.clone()
                    };
                    let server = &servers[target.server];
                    let before = server.stats()?;
                    let started = Instant::now();
                    let result = kv_load::run(server.addr(), target.protocol, &workload)
                        .with_context(|| format!("{} {op:?} depth {depth}", target.label))?;
                    let wall = started.elapsed();
                    let after = server.stats()?;
                    runs.push(Run {
                        op,
                        depth,
                        target: t,
                        server_cpu: cpu_share(&before, &after, wall),
                        result,
                    });
                    bar.inc(1);
                }
            }
        }
    }
    bar.finish_and_clear();
    // Stops every server (SIGTERM); then Redis's empty working directory
    // can go.
    drop(servers);
    let _ = std::fs::remove_dir(redis_dir());

    report(&options, &base, workers, &targets, &runs, &redis)
}

/// `REDIS_SERVER`, or `redis-server` on the PATH.
fn find_redis() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("REDIS_SERVER") {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("redis-server"))
        .find(|path| path.is_file())
}

/// Starts redis-server on a free loopback port, persistence off, its
/// working directory a fresh temporary one. Returns it and its version.
fn start_redis(path: &PathBuf) -> anyhow::Result<(ServerProcess, String)> {
    let version = Command::new(path)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| {
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            let v = text
                .split_whitespace()
                .find_map(|word| word.strip_prefix("v="))?;
            Some(v.to_string())
        })
        .unwrap_or_else(|| "unknown version".to_string());
    let dir = redis_dir();
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let mut command = Command::new(path);
    command
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1"])
        .args(["--protected-mode", "yes"])
        // No snapshots, no append-only file: nothing touches the disk.
        .args(["--save", ""])
        .args(["--appendonly", "no"])
        .args(["--daemonize", "no"])
        .arg("--dir")
        .arg(&dir)
        .args(["--loglevel", "warning"]);
    let server = ServerProcess::start(
        "redis-server",
        command,
        Ready::Accepting(std::net::SocketAddr::from(([127, 0, 0, 1], port))),
    )?;
    Ok((server, version))
}

/// `0.5 s`, `3 s`.
fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

/// Redis's working directory: with persistence off it stays empty.
fn redis_dir() -> PathBuf {
    std::env::temp_dir().join(format!("bench-redis-{}", std::process::id()))
}

/// CPU used between two readings, as a fraction of one core.
fn cpu_share(before: &ProcStats, after: &ProcStats, wall: Duration) -> f64 {
    after.cpu.saturating_sub(before.cpu).as_secs_f64() / wall.as_secs_f64()
}

/// What the report shows for `target` on a workload: each figure is the
/// median of that figure over the rounds (with one round, that round).
fn find(runs: &[Run], op: Op, depth: usize, target: usize) -> Option<Run> {
    let rounds: Vec<&Run> = runs
        .iter()
        .filter(|run| run.op == op && run.depth == depth && run.target == target)
        .collect();
    let median = |figure: &dyn Fn(&Run) -> f64| {
        let mut values: Vec<f64> = rounds.iter().map(|run| figure(run)).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let mut shown = (*rounds.first()?).clone();
    shown.result.per_second = median(&|run| run.result.per_second);
    shown.result.latency_us.median = median(&|run| run.result.latency_us.median);
    shown.result.latency_us.p99 = median(&|run| run.result.latency_us.p99);
    shown.result.generator_cpu = median(&|run| run.result.generator_cpu);
    shown.server_cpu = median(&|run| run.server_cpu);
    Some(shown)
}

fn report(
    options: &Options,
    base: &Workload,
    workers: usize,
    targets: &[Target],
    runs: &[Run],
    redis: &Result<String, String>,
) -> anyhow::Result<()> {
    let mut section = Section::new(options, "cloudhash", "CloudHash against Redis");
    section.paragraph(&format!(
        "`bench_cloudhash` drives each server with the same load generator: one thread, one epoll \
         instance, {} connections, each sending a batch of *depth* requests in one write and \
         waiting for all the replies before sending the next (a closed loop). Keys are \
         `key:000000` to `key:{:06}`, picked at random, every one stored before the runs; values \
         are {} bytes. Each run is {} of warm-up, then {} measured. The servers take turns \
         on each workload{}. Latency is from the write of a request's batch to the read that \
         completed its reply. CPU is the server's and the generator's CPU time during the run \
         divided by its length (1.0 = one core busy all the time).",
        base.connections,
        base.keys - 1,
        base.value_len,
        seconds(base.warmup),
        seconds(base.duration),
        match rounds(options.mode) {
            1 => String::new(),
            n => format!(
                ", {n} rounds over, and the table shows each server's median round (by throughput)"
            ),
        },
    ));
    section.paragraph(&format!(
        "`cloudhash_evented` is one thread; `cloudhash_hybrid` runs {workers} worker threads (one \
         per core), each with its own event loop and `SO_REUSEPORT` listener, sharing one store \
         behind a mutex. {}",
        match redis {
            Ok(version) => format!(
                "`redis-server` {version} runs with persistence off (`--save '' --appendonly no`) \
                 and its default single I/O thread; it is driven twice: with the very lines our \
                 servers get (*inline*, e.g. `GET key:000042\\r\\n`) and with RESP arrays \
                 (`*2\\r\\n$3\\r\\nGET\\r\\n…`), the encoding its own clients use."
            ),
            Err(why) => format!("Redis: {why}."),
        }
    ));

    let mut table = Table::new(&[
        "workload",
        "server",
        "requests/s",
        "p50 µs",
        "p99 µs",
        "server CPU",
        "generator CPU",
    ])
    .text_columns(2);
    for depth in DEPTHS {
        for op in OPS {
            for (t, target) in targets.iter().enumerate() {
                let Some(run) = find(runs, op, depth, t) else {
                    continue;
                };
                table.row(vec![
                    format!("{}, depth {depth}", op.name()),
                    target.label.to_string(),
                    thousands(run.result.per_second),
                    sig3(run.result.latency_us.median),
                    sig3(run.result.latency_us.p99),
                    format!("{:.2}", run.server_cpu),
                    format!("{:.2}", run.result.generator_cpu),
                ]);
            }
        }
    }
    section.table(&table);
    section.paragraph(&reading(targets, runs, workers));

    let groups: Vec<(Op, usize)> = DEPTHS
        .iter()
        .flat_map(|&depth| OPS.iter().map(move |&op| (op, depth)))
        .collect();
    let group_names: Vec<String> = groups
        .iter()
        .map(|(op, depth)| format!("{}, depth {depth}", op.name()))
        .collect();
    let series = |value: &dyn Fn(&Run) -> f64| -> Vec<(String, Vec<f64>)> {
        targets
            .iter()
            .enumerate()
            .map(|(t, target)| {
                let values = groups
                    .iter()
                    .map(|&(op, depth)| {
                        find(runs, op, depth, t).map_or(f64::NAN, |run| value(&run))
                    })
                    .collect();
                (target.label.to_string(), values)
            })
            .collect()
    };
    section.chart(
        "cloudhash-throughput.svg",
        "Requests per second for each server and workload",
        &Chart::Bars(BarChart {
            title: format!("Requests per second, {} connections", base.connections),
            y_label: "requests/s".into(),
            log_y: false,
            groups: group_names.clone(),
            series: series(&|run| run.result.per_second),
        }),
    )?;
    section.chart(
        "cloudhash-p99.svg",
        "99th percentile latency for each server and workload",
        &Chart::Bars(BarChart {
            title: "99th percentile latency".into(),
            y_label: "µs".into(),
            log_y: false,
            groups: group_names,
            series: series(&|run| run.result.latency_us.p99),
        }),
    )?;

    let mut compact = Table::new(
        &[
            &["workload"],
            &targets.iter().map(|t| t.label).collect::<Vec<_>>()[..],
        ]
        .concat(),
    );
    for depth in DEPTHS {
        for op in OPS {
            let mut cells = vec![format!("{}, depth {depth}", op.name())];
            for t in 0..targets.len() {
                cells.push(find(runs, op, depth, t).map_or("—".to_string(), |run| {
                    format!(
                        "{} ({} µs)",
                        thousands(run.result.per_second),
                        sig3(run.result.latency_us.p99)
                    )
                }));
            }
            compact.row(cells);
        }
    }
    section.chapter_table(
        &compact,
        &format!(
            "Requests per second (99th percentile latency), {} connections on loopback, one \
             load generator thread; release builds.",
            base.connections
        ),
    );

    if redis.is_ok() {
        let redis_inline = targets
            .iter()
            .position(|t| t.protocol == Protocol::RedisInline);
        let redis_arrays = targets
            .iter()
            .position(|t| t.protocol == Protocol::RedisArrays);
        let mut misses = Vec::new();
        if let (Some(inline), Some(arrays)) = (redis_inline, redis_arrays) {
            for depth in DEPTHS {
                let mut throughput = Vec::new();
                let mut latency = Vec::new();
                let mut against_arrays = Vec::new();
                for op in OPS {
                    let (Some(ours), Some(theirs), Some(native)) = (
                        find(runs, op, depth, 0),
                        find(runs, op, depth, inline),
                        find(runs, op, depth, arrays),
                    ) else {
                        continue;
                    };
                    throughput.push((op, ours.result.per_second / theirs.result.per_second));
                    latency.push((
                        op,
                        ours.result.latency_us.p99 / theirs.result.latency_us.p99,
                    ));
                    against_arrays.push((op, ours.result.per_second / native.result.per_second));
                }
                let describe = |ratios: &[(Op, f64)]| {
                    ratios
                        .iter()
                        .map(|(op, ratio)| format!("{ratio:.2} ({})", op.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                for op in OPS {
                    let (Some(ours), Some(theirs)) =
                        (find(runs, op, depth, 0), find(runs, op, depth, inline))
                    else {
                        continue;
                    };
                    if let Some(why) = explain_miss(&ours, &theirs, section.load_average()) {
                        misses.push(why);
                    }
                }
                section.target(
                    &format!(
                        "`cloudhash_evented` at least matches Redis's throughput at depth {depth} (ratio ≥ 1.0)"
                    ),
                    &format!(
                        "ratio to Redis inline {}; to Redis RESP {}",
                        describe(&throughput),
                        describe(&against_arrays)
                    ),
                    !throughput.is_empty() && throughput.iter().all(|(_, ratio)| *ratio >= 1.0),
                );
                section.target(
                    &format!(
                        "`cloudhash_evented`'s p99 at depth {depth} is no worse than 2× Redis's"
                    ),
                    &format!("p99 ratio to Redis inline {}", describe(&latency)),
                    !latency.is_empty() && latency.iter().all(|(_, ratio)| *ratio <= 2.0),
                );
            }
        }
        if !misses.is_empty() {
            section.paragraph(&format!(
                "**Where a target is missed.** {}",
                misses.join(" ")
            ));
        }
    }
    section.write()?;
    Ok(())
}

/// What the figures say beyond themselves: who was busy, and how the
/// servers compare on average.
fn reading(targets: &[Target], runs: &[Run], workers: usize) -> String {
    // Which side was busy: a run where the server is on a full core and the
    // generator is not measures the server; a run where the generator is on
    // a full core only says the server can do at least that much.
    let mut paces = Vec::new();
    for (t, target) in targets.iter().enumerate() {
        if target.label == "cloudhash_hybrid" {
            continue; // several threads: its CPU is not one core's worth
        }
        let shown: Vec<Run> = DEPTHS
            .iter()
            .flat_map(|&depth| OPS.iter().map(move |&op| (op, depth)))
            .filter_map(|(op, depth)| find(runs, op, depth, t))
            .collect();
        let server_bound = shown
            .iter()
            .filter(|run| run.server_cpu >= 0.9 && run.result.generator_cpu < 0.9)
            .count();
        let generator_bound = shown
            .iter()
            .filter(|run| run.result.generator_cpu >= 0.9)
            .count();
        paces.push(format!(
            "`{}` {server_bound} and {generator_bound} of {}",
            target.label,
            shown.len(),
        ));
    }
    let mut text = format!(
        "**Reading the figures.** A run is *server-bound* when the server is on a full core (CPU \
         ≥ 0.9) and the generator is not: it measures the server. It is *generator-bound* when \
         the generator is on a full core: the generator set the pace, and the figure is only a \
         floor for the server. Server-bound and generator-bound runs, out of the workloads: {}. ",
        paces.join("; ")
    );
    // Average ratio of one target's throughput to another's over the workloads.
    let ratio = |a: usize, b: usize| -> Option<f64> {
        let ratios: Vec<f64> = DEPTHS
            .iter()
            .flat_map(|&depth| OPS.iter().map(move |&op| (op, depth)))
            .filter_map(|(op, depth)| {
                Some(
                    find(runs, op, depth, a)?.result.per_second
                        / find(runs, op, depth, b)?.result.per_second,
                )
            })
            .collect();
        (!ratios.is_empty()).then(|| ratios.iter().sum::<f64>() / ratios.len() as f64)
    };
    if let Some(hybrid) = ratio(1, 0) {
        text.push_str(&format!(
            "`cloudhash_hybrid` served {hybrid:.2}× the requests of `cloudhash_evented` on average: \
             its {workers} workers share the machine's cores with the generator, so a second event \
             loop helps only as far as a core is free for it. "
        ));
    }
    let position = |protocol| targets.iter().position(|t| t.protocol == protocol);
    if let (Some(inline), Some(arrays)) = (
        position(Protocol::RedisInline),
        position(Protocol::RedisArrays),
    ) {
        if let Some(native) = ratio(arrays, inline) {
            text.push_str(&format!(
                "Redis served {native:.2}× as many requests in RESP arrays as in inline commands on \
                 average: inline commands are split into words by a slower path."
            ));
        }
    }
    text
}

/// Why `ours` missed a target against `theirs` on one workload, if it did,
/// with the figures and what would close the gap.
fn explain_miss(ours: &Run, theirs: &Run, load_average: &str) -> Option<String> {
    let workload = format!("{} at depth {}", ours.op.name(), ours.depth);
    let throughput = ours.result.per_second / theirs.result.per_second;
    let latency = ours.result.latency_us.p99 / theirs.result.latency_us.p99;
    let mut text = String::new();
    if throughput < 1.0 {
        text.push_str(&format!(
            "{workload}: `cloudhash_evented` served {} requests/s, {:.0}% fewer than Redis's {}. ",
            thousands(ours.result.per_second),
            (1.0 - throughput) * 100.0,
            thousands(theirs.result.per_second)
        ));
        text.push_str(if ours.result.generator_cpu >= 0.9 && ours.server_cpu < 0.9 {
            "The generator was on a full core and our server was not: the generator set the pace \
             in that run, and a faster client (or a second generator thread on a machine with a \
             core to spare) would close the gap. "
        } else if ours.server_cpu >= 0.9 {
            "Our server was on a full core: its per-request work is the limit. Every request goes \
             through `framing::process`, which allocates a fresh reply (and, for SET, a fresh key \
             and value) before the loop copies it into the output buffer; writing replies straight \
             into that buffer would close the gap. "
        } else {
            "Neither our server nor the generator was on a full core: the run was paced by \
             scheduling on a shared machine. Giving each its own core (`taskset`) on an otherwise \
             idle machine would tell the two servers apart. "
        });
    }
    if latency > 2.0 {
        text.push_str(&format!(
            "{workload}: our p99 is {latency:.2}× Redis's ({} µs against {} µs), {:.0}% over the \
             limit, while our median is {} µs against Redis's {} µs. ",
            sig3(ours.result.latency_us.p99),
            sig3(theirs.result.latency_us.p99),
            (latency / 2.0 - 1.0) * 100.0,
            sig3(ours.result.latency_us.median),
            sig3(theirs.result.latency_us.median),
        ));
        if ours.result.latency_us.median <= theirs.result.latency_us.median {
            text.push_str(&format!(
                "The typical request is faster than Redis's; the miss is in the tail. A p99 of \
                 milliseconds on loopback is a batch that waited for a CPU: the generator, the \
                 server and everything else running share the machine's cores (the load average \
                 was {load_average} at the start), and a reply that is ready waits until the \
                 generator runs again to read it. Nothing in the server's path for a batch \
                 blocks; what would close the gap is a core each for the server and the \
                 generator (`taskset`) on an otherwise idle machine, which takes the scheduler's \
                 delays out of the tail. "
            ));
        } else {
            text.push_str(
                "Our median is slower too: the whole distribution is, not just its tail. The \
                 server's per-request work is what to shorten: every request goes through \
                 `framing::process`, which allocates a fresh reply before the loop copies it \
                 into the output buffer. ",
            );
        }
    }
    (!text.is_empty()).then(|| text.trim_end().to_string())
}
