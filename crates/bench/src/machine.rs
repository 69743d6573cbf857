//! What machine a figure was measured on, and when: every table in the book
//! says so.

use std::fs;
use std::time::{SystemTime, UNIX_EPOCH};

/// The facts about this machine that a reader needs to compare figures.
#[derive(Debug, Clone)]
pub struct Machine {
    /// Logical CPUs this process may run on.
    pub cores: usize,
    /// `model name` from /proc/cpuinfo.
    pub cpu_model: String,
    /// The kernel release, as `uname -r` prints it.
    pub kernel: String,
    /// Total memory, in GiB.
    pub memory_gib: f64,
    /// The 1-minute load average when the benchmark started: other work on
    /// the machine shows up here.
    pub load_average: String,
}

impl Machine {
    /// Reads the facts from /proc (Linux); what cannot be read is `unknown`.
    pub fn detect() -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == "model name").then(|| value.trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".to_string());
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|text| text.trim().to_string())
            .unwrap_or_else(|_| "unknown".to_string());
        let memory_gib = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
                let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(kib / (1024.0 * 1024.0))
            })
            .unwrap_or(0.0);
        let load_average = fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|text| text.split_whitespace().next().map(str::to_string))
            .unwrap_or_else(|| "unknown".to_string());
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            kernel,
            memory_gib,
            load_average,
        }
    }

    /// One line for a report: `2 cores (Intel(R) Xeon(R) Processor), 24 GiB,
    /// Linux 6.18.44`.
    pub fn describe(&self) -> String {
        format!(
            "{} cores ({}), {:.0} GiB, Linux {}",
            self.cores, self.cpu_model, self.memory_gib, self.kernel
        )
    }
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The calendar date of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for the proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_from_day_numbers() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    }

    #[test]
    fn describes_this_machine() {
        let machine = Machine::detect();
        assert!(machine.cores >= 1);
        assert!(machine.describe().contains("cores"));
        assert_eq!(today().len(), 10);
    }
}
