//! CPU time and memory of a process from Linux's `/proc`: user + system CPU seconds
//! (`/proc/<pid>/stat`, in clock ticks) and the resident set now and at its peak
//! (`VmRSS`, `VmHWM` in `/proc/<pid>/status`). Used by the fleet benchmark.

use crate::error::Error;

/// One sample of a process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// User plus system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Resident set now, bytes.
    pub rss_bytes: u64,
    /// Peak resident set, bytes.
    pub peak_rss_bytes: u64,
}

fn unreadable(pid: u32, what: &str, message: impl std::fmt::Display) -> Error {
    Error::Unexpected {
        from: format!("/proc/{pid}/{what}"),
        message: message.to_string(),
    }
}

/// Samples process `pid`.
pub fn sample(pid: u32) -> Result<Usage, Error> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| unreadable(pid, "stat", e))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| unreadable(pid, "status", e))?;
    let ticks = cpu_ticks(&stat).ok_or_else(|| unreadable(pid, "stat", "no utime/stime"))?;
    let per_second = rustix::param::clock_ticks_per_second().max(1);
    Ok(Usage {
        cpu_seconds: ticks as f64 / per_second as f64,
        rss_bytes: status_kib(&status, "VmRSS:").unwrap_or(0) * 1024,
        peak_rss_bytes: status_kib(&status, "VmHWM:").unwrap_or(0) * 1024,
    })
}

/// utime + stime: fields 14 and 15, counted after the command name (which may hold spaces
/// and parentheses, so the count starts after the last `)`).
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); utime is field 14, stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_and_status_and_samples_this_process() {
        let stat =
            "42 (a (weird) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 4 0 1000 0 0";
        assert_eq!(cpu_ticks(stat), Some(325));
        let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(status_kib(status, "VmHWM:"), Some(2048));
        assert_eq!(status_kib(status, "VmRSS:"), Some(1024));
        let usage = sample(std::process::id()).unwrap_or_else(|e| panic!("{e}"));
        assert!(usage.peak_rss_bytes >= usage.rss_bytes && usage.rss_bytes > 0);
    }
}
