//! The memory, processes and threads of a server *with all its children*:
//! a forking server (process per connection, preforking, hybrid) is many
//! processes, and its cost is the sum of them.
//!
//! Linux has no "children of" file unless the kernel was built with
//! `CONFIG_PROC_CHILDREN`, so [`tree`] reads every `/proc/PID/stat` and
//! follows the parent links down from the server. [`Sampler`] does that ten
//! times a second on a thread of its own and keeps the peaks.

use std::collections::HashMap;
use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use nix::unistd::{SysconfVar, sysconf};

/// A process tree at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeStats {
    /// The sum of the resident set sizes (`VmRSS`) of every process, in KiB.
    /// Pages that forked processes share (copy-on-write) are counted once
    /// per process: this is what `ps` and `top` would add up.
    pub rss_kib: u64,
    pub processes: u64,
    /// Threads of every process together (a single-threaded process is one).
    pub threads: u64,
}

/// The server `root` and every process descended from it, `root` first.
/// Empty if `root` is gone.
pub fn tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue; // not a process directory
        };
        if let Some(parent) = parent_of(pid) {
            children.entry(parent).or_default().push(pid);
        }
    }
    if !std::path::Path::new(&format!("/proc/{root}")).exists() {
        return Vec::new();
    }
    let mut found = vec![root];
    let mut next = 0;
    while next < found.len() {
        if let Some(kids) = children.get(&found[next]) {
            found.extend(kids);
        }
        next += 1;
    }
    found
}

/// The parent of `pid`: field 4 of /proc/PID/stat (after the command name,
/// which is in parentheses and may contain spaces).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// Memory, processes and threads of `root`'s tree now.
pub fn tree_stats(root: u32) -> TreeStats {
    let mut stats = TreeStats::default();
    for pid in tree(root) {
        let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue; // it exited meanwhile
        };
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        stats.rss_kib += field("VmRSS:");
        stats.threads += field("Threads:");
        stats.processes += 1;
    }
    stats
}

/// The proportional set size of `root`'s tree, in KiB: each page shared by
/// N processes counts 1/N in each (`Pss` in /proc/PID/smaps_rollup), so
/// the sum is what the tree really occupies. Slower to read than RSS (the
/// kernel walks every mapping), so it is read once, not sampled.
pub fn tree_pss_kib(root: u32) -> u64 {
    tree(root)
        .iter()
        .filter_map(|pid| {
            let rollup = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
            let line = rollup.lines().find(|line| line.starts_with("Pss:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .sum()
}

/// CPU time (user + system) used by `root`'s tree so far: every live
/// process, plus the children `root` has already waited for (which the
/// kernel adds to its `cutime`/`cstime`). Children that exited and were not
/// waited for yet are missed until they are.
pub fn tree_cpu(root: u32) -> Duration {
    let ticks_per_second = sysconf(SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100) as f64;
    let mut ticks = 0u64;
    for pid in tree(root) {
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, after_name)) = stat.rsplit_once(')') else {
            continue;
        };
        // Fields 14-17 of proc_pid_stat(5): utime, stime, cutime, cstime;
        // here counted from field 3 (the state), so 11 to 14.
        let fields: Vec<u64> = after_name
            .split_whitespace()
            .skip(11)
            .take(4)
            .filter_map(|field| field.parse().ok())
            .collect();
        ticks += fields
            .iter()
            .take(if pid == root { 4 } else { 2 })
            .sum::<u64>();
    }
    Duration::from_secs_f64(ticks as f64 / ticks_per_second)
}

/// Samples a process tree on a thread of its own, every `every`, and keeps
/// the peaks; [`Sampler::stop`] returns them.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<TreeStats>,
}

impl Sampler {
    pub fn start(root: u32, every: Duration) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut peak = TreeStats::default();
            loop {
                let now = tree_stats(root);
                peak.rss_kib = peak.rss_kib.max(now.rss_kib);
                peak.processes = peak.processes.max(now.processes);
                peak.threads = peak.threads.max(now.threads);
                if stopping.load(Ordering::Relaxed) {
                    return peak;
                }
                thread::sleep(every);
            }
        });
        Sampler { stop, thread }
    }

    /// Takes one last sample and returns the peaks.
    pub fn stop(self) -> TreeStats {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn finds_children_and_adds_them_up() {
        let mut child = Command::new("sleep").arg("5").spawn().unwrap();
        let me = std::process::id();
        assert!(tree(me).contains(&child.id()));
        assert_eq!(tree(me)[0], me);
        let alone = tree_stats(child.id());
        let both = tree_stats(me);
        assert_eq!(alone.processes, 1);
        assert!(both.processes >= 2);
        assert!(both.rss_kib > alone.rss_kib);
        assert!(both.threads >= 2);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(tree(u32::MAX).is_empty());
    }

    #[test]
    fn a_sampler_keeps_the_peak() {
        let sampler = Sampler::start(std::process::id(), Duration::from_millis(5));
        thread::sleep(Duration::from_millis(20));
        let peak = sampler.stop();
        assert!(peak.rss_kib > 0 && peak.threads >= 2 && peak.processes >= 1);
        let _ = tree_cpu(std::process::id());
        let pss = tree_pss_kib(std::process::id());
        assert!(pss > 0);
    }
}
