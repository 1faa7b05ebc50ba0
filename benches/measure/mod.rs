//! What the benches read off a process and how they summarise samples: percentiles, `VmRSS`
//! and `VmHWM`, CPU time (`/proc/<pid>/stat` utime + stime), open descriptors, CPU pinning.
#![allow(dead_code, reason = "each bench uses part of the measurements")]

use std::time::Duration;

/// The `p` quantile (0..=1) of ascending `sorted` samples, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// `p50 / p99 / max` of samples in milliseconds, sorted in place.
pub fn summary(samples: &mut [f64]) -> String {
    samples.sort_by(f64::total_cmp);
    let max = samples.last().copied().unwrap_or(f64::NAN);
    format!("{:.2} / {:.2} / {:.2} ms", percentile(samples, 0.5), percentile(samples, 0.99), max)
}

/// Milliseconds of a duration, for samples.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// A process under measurement, read from `/proc`.
#[derive(Debug, Clone, Copy)]
pub struct Proc {
    pub pid: u32,
}

impl Proc {
    pub fn new(pid: u32) -> Self {
        Self { pid }
    }

    /// This bench's own process.
    pub fn me() -> Self {
        Self { pid: std::process::id() }
    }

    /// A `/proc/<pid>/status` field in KiB (`VmRSS:`, `VmHWM:`); 0 once the process is gone.
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find(|line| line.starts_with(field))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    }

    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    pub fn peak_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    /// CPU time used so far, user + system, from `/proc/<pid>/stat` (clock ticks of `CLK_TCK`).
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        // The command name may hold spaces and parentheses: the fields start after the last ')'.
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        let ticks: u64 = [11, 12].iter().filter_map(|&index| fields.get(index)?.parse::<u64>().ok()).sum();
        Duration::from_nanos(ticks.saturating_mul(1_000_000_000) / clock_ticks().max(1))
    }

    /// Open file descriptors (`/proc/<pid>/fd` entries).
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid)).map(|dir| dir.count()).unwrap_or(0)
    }
}

/// `CLK_TCK` from `getconf` (100 on Linux unless it says otherwise).
fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// Pins this process to `cpu` with `taskset`. Call it before any thread is started: threads
/// inherit the mask of the thread that creates them.
pub fn pin_self(cpu: usize) {
    let status = std::process::Command::new("taskset")
        .args(["-p", "-c", &cpu.to_string(), &std::process::id().to_string()])
        .stdout(std::process::Stdio::null())
        .status();
    match status {
        Ok(status) if status.success() => {}
        _ => eprintln!("warning: could not pin the bench to CPU {cpu}; figures share both cores"),
    }
}

/// Makes sure this process (and the children it starts) may open `needed` files: raises the
/// soft limit with `prlimit` up to the hard one; panics with the fix when the hard one is lower.
pub fn raise_fd_limit(needed: u64) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let numbers: Vec<u64> = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .map(|line| line.split_whitespace().filter_map(|word| word.parse().ok()).collect())
        .unwrap_or_default();
    let (soft, hard) = match numbers[..] {
        [soft, hard, ..] => (soft, hard),
        _ => return,
    };
    if soft >= needed {
        return;
    }
    assert!(
        hard >= needed,
        "{needed} open files needed, the hard limit is {hard}\nhint: raise it (`ulimit -Hn {needed}` as root)"
    );
    let pid = std::process::id().to_string();
    let status =
        std::process::Command::new("prlimit").args(["--pid", &pid, &format!("--nofile={needed}:{hard}")]).status();
    assert!(
        status.is_ok_and(|status| status.success()),
        "cannot raise the open-file limit to {needed}\nhint: ulimit -n {needed}"
    );
}

/// MiB of KiB, for the tables.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

pub mod channels;
pub mod model;

/// The value after `--name` on the bench's command line, parsed; `default` when absent or
/// unreadable.
pub fn flag<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|arg| arg == name)
        .and_then(|at| args.get(at + 1))
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}
