//! Process metrics read from /proc (Linux): resident memory, CPU time, open file descriptors and
//! start time, as the Prometheus client libraries export them. Parsing is pure and tested on
//! sample text; [`sample`] reads the files and returns None where they cannot be read (other
//! systems, a restricted /proc), in which case the daemon leaves these metrics out.
//!
//! CPU time is a float counter (to the 10 ms of a clock tick), which the `metrics` facade
//! cannot hold (its counters are integers: the render showed whole seconds, so a CPU panel read
//! 0 or steps of one second). [`cpu_exposition`] writes it in the text format instead, and
//! the /metrics handler appends it to the recorder's render at each scrape.

/// Clock ticks per second of the times in /proc/<pid>/stat (USER_HZ). It is 100 on every
/// architecture Linux runs on in practice; Prometheus's own procfs library hard-codes it too.
const USER_HZ: f64 = 100.0;

/// One reading of the process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessSample {
    /// Resident set size, bytes.
    pub resident_bytes: u64,
    /// User plus system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Open file descriptors: entries of `/proc/self/fd`, less the one the listing itself holds.
    pub open_fds: u64,
    /// When the process started, Unix seconds.
    pub start_time_seconds: f64,
}

/// The fields of /proc/<pid>/stat we use, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatTicks {
    /// User-mode CPU time (field 14).
    pub utime: u64,
    /// Kernel-mode CPU time (field 15).
    pub stime: u64,
    /// Ticks after boot at which the process started.
    pub starttime: u64,
}

/// Parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself hold
/// spaces and parentheses, so fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<StatTicks> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state): field n is fields[n - 3].
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    Some(StatTicks { utime: field(14)?, stime: field(15)?, starttime: field(22)? })
}

/// The `VmRSS:  1234 kB` line of /proc/<pid>/status, in bytes.
pub fn parse_vm_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut parts = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") => value.checked_mul(1024),
        _ => None,
    }
}

/// The `btime` line of /proc/stat: boot time, Unix seconds.
pub fn parse_btime(stat: &str) -> Option<u64> {
    stat.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok())
}

/// Combines the parsed pieces into a sample.
pub fn combine(ticks: StatTicks, resident_bytes: u64, open_fds: u64, boot_time: u64) -> ProcessSample {
    ProcessSample {
        resident_bytes,
        cpu_seconds: (ticks.utime + ticks.stime) as f64 / USER_HZ,
        open_fds,
        start_time_seconds: boot_time as f64 + ticks.starttime as f64 / USER_HZ,
    }
}

/// Reads this process's sample from /proc; None where /proc cannot be read.
pub fn sample() -> Option<ProcessSample> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let system = std::fs::read_to_string("/proc/stat").ok()?;
    // The directory listing itself holds one descriptor while it is read.
    let fds = std::fs::read_dir("/proc/self/fd").ok()?.filter(|e| e.is_ok()).count().saturating_sub(1);
    Some(combine(parse_stat(&stat)?, parse_vm_rss_bytes(&status)?, fds as u64, parse_btime(&system)?))
}

/// The exposition text of the CPU counter `name` with its `help`: HELP, TYPE and one sample
/// in seconds as a float, then the blank line that ends a family in the recorder's render.
pub fn cpu_exposition(name: &str, help: &str, cpu_seconds: f64) -> String {
    // Rust prints an f64 in the shortest decimal form that reads back exactly ("3.25", "0").
    format!("# HELP {name} {help}\n# TYPE {name} counter\n{name} {cpu_seconds}\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "4242 (chat seal) x) S 1 4242 4242 0 -1 4194560 1500 0 0 0 250 75 0 0 20 0 9 0 123456 1000000 500 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        assert_eq!(parse_stat(STAT), Some(StatTicks { utime: 250, stime: 75, starttime: 123456 }));
        assert_eq!(parse_stat("4242 (x) S 1 2"), None, "too few fields");
        assert_eq!(parse_stat("no parenthesis at all"), None);
    }

    #[test]
    fn rss_is_read_in_kilobytes() {
        let status = "Name:\tchatseal\nVmPeak:\t  9000 kB\nVmRSS:\t   2048 kB\nThreads:\t9\n";
        assert_eq!(parse_vm_rss_bytes(status), Some(2048 * 1024));
        assert_eq!(parse_vm_rss_bytes("VmRSS:\t12 MB\n"), None, "unknown unit");
        assert_eq!(parse_vm_rss_bytes("Name:\tx\n"), None);
    }

    #[test]
    fn boot_time_and_combination() {
        let system = "cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 99\n";
        assert_eq!(parse_btime(system), Some(1_700_000_000));
        assert_eq!(parse_btime("cpu 1\n"), None);
        let s = combine(StatTicks { utime: 250, stime: 75, starttime: 123456 }, 4096, 12, 1_700_000_000);
        assert_eq!(s.cpu_seconds, 3.25);
        assert_eq!(s.start_time_seconds, 1_700_000_000.0 + 1234.56);
        assert_eq!((s.resident_bytes, s.open_fds), (4096, 12));
    }

    #[test]
    fn cpu_is_exposed_as_a_float_counter() {
        let s = combine(StatTicks { utime: 250, stime: 76, starttime: 0 }, 0, 0, 0);
        let text = cpu_exposition("x_cpu_seconds_total", "CPU.", s.cpu_seconds);
        assert_eq!(
            text,
            "# HELP x_cpu_seconds_total CPU.\n# TYPE x_cpu_seconds_total counter\nx_cpu_seconds_total 3.26\n\n"
        );
        assert!(cpu_exposition("x", "h", 0.0).contains("\nx 0\n"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_can_be_sampled() {
        let s = sample().expect("/proc/self is readable on Linux");
        assert!(s.resident_bytes > 0 && s.open_fds >= 3);
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        assert!(s.start_time_seconds <= now + 1.0 && s.start_time_seconds > now - 86_400.0 * 365.0, "{s:?}");
    }
}
