//! Starting, watching and stopping the servers a benchmark measures.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, SysconfVar, sysconf};

/// How long a server may take to start before the benchmark gives up.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A binary of this workspace built next to the running one (cargo puts
/// every binary of a workspace in the same `target/<profile>` directory).
/// `BENCH_BIN_DIR` overrides the directory.
pub fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("BENCH_BIN_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::current_exe()
            .context("finding this benchmark's own path")?
            .parent()
            .context("the benchmark's path has no directory")?
            .to_path_buf(),
    };
    let path = dir.join(name);
    if !path.is_file() {
        bail!(
            "{} is not built: build it in the same profile first (`just bench` does: \
             cargo build --release -p bench -p cloudhash -p framing -p ftp-architectures)",
            path.display()
        );
    }
    Ok(path)
}

/// A free TCP port on 127.0.0.1, for a server that cannot be told `PORT=0`.
/// (Another process could take it before the server binds it; on a quiet
/// machine that does not happen, and the server then fails to start loudly.)
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// How to tell that a server is ready.
pub enum Ready {
    /// It prints `Listening on <ip>:<port>` (every server of this book).
    ListeningLine,
    /// It accepts connections on this address (e.g. `redis-server`).
    Accepting(SocketAddr),
}

/// A server process, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct ServerProcess {
    name: String,
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl ServerProcess {
    /// Starts `command` and waits until it is ready.
    pub fn start(name: &str, mut command: Command, ready: Ready) -> anyhow::Result<ServerProcess> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {name} ({command:?})"))?;

        // Read both pipes for as long as the server runs: a pipe nobody reads
        // fills up and then blocks the server.
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let err_pipe = child.stderr.take().context("stderr is piped")?;
        thread::spawn(move || {
            for line in BufReader::new(err_pipe).lines().map_while(Result::ok) {
                let mut text = sink.lock().unwrap_or_else(|poison| poison.into_inner());
                text.push_str(&line);
                text.push('\n');
            }
        });
        let (lines_tx, lines_rx) = mpsc::channel();
        let out_pipe = child.stdout.take().context("stdout is piped")?;
        thread::spawn(move || {
            for line in BufReader::new(out_pipe).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });

        let mut server = ServerProcess {
            name: name.to_string(),
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        match ready {
            Ready::ListeningLine => loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let line = match lines_rx.recv_timeout(left) {
                    Ok(line) => line,
                    Err(_) => bail!(
                        "{name} printed no `Listening on` line within {START_TIMEOUT:?}; stderr:\n{}",
                        server.stderr()
                    ),
                };
                if let Some(addr) = line.strip_prefix("Listening on ") {
                    server.addr = addr
                        .trim()
                        .parse()
                        .with_context(|| format!("{name} printed {line:?}"))?;
                    break;
                }
            },
            Ready::Accepting(addr) => {
                server.addr = addr;
                while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                    if let Some(status) = server.child.try_wait()? {
                        bail!("{name} exited ({status}); stderr:\n{}", server.stderr());
                    }
                    if Instant::now() > deadline {
                        bail!("{name} accepted no connection on {addr} within {START_TIMEOUT:?}");
                    }
                    thread::sleep(Duration::from_millis(20));
                }
            }
        }
        Ok(server)
    }

    /// Where the server listens (a loopback address).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    /// CPU time, memory and threads of the server process.
    pub fn stats(&self) -> anyhow::Result<ProcStats> {
        proc_stats(self.pid())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Ask politely, so that a server can clean up (redis-server, say),
        // then insist.
        let pid = Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What /proc says about one process (all its threads together).
#[derive(Debug, Clone, Copy)]
pub struct ProcStats {
    /// User plus system CPU time used so far.
    pub cpu: Duration,
    /// Resident memory, in KiB.
    pub rss_kib: u64,
    pub threads: u64,
}

/// Reads /proc/PID/stat and /proc/PID/status.
pub fn proc_stats(pid: u32) -> anyhow::Result<ProcStats> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name, in parentheses, may contain spaces: count fields
    // after its closing parenthesis. There, field 0 is the state (field 3
    // of proc_pid_stat(5)), so utime (14) and stime (15) are 11 and 12.
    let after_name = stat.rsplit_once(')').context("malformed stat")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields
        .get(11)
        .zip(fields.get(12))
        .and_then(|(user, system)| Some(user.parse::<u64>().ok()? + system.parse::<u64>().ok()?))
        .context("malformed stat")?;
    let per_second = sysconf(SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100) as u64;

    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    Ok(ProcStats {
        cpu: Duration::from_secs_f64(ticks as f64 / per_second as f64),
        rss_kib: field("VmRSS:"),
        threads: field("Threads:"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_stats() {
        let stats = proc_stats(std::process::id()).unwrap();
        assert!(stats.rss_kib > 0);
        assert!(stats.threads >= 1);
    }
}
