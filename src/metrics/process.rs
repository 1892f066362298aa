//! The `process_*` metrics Prometheus's own clients export (CPU seconds, resident and virtual
//! memory, open and maximum file descriptors, start time), read from `/proc/self` when
//! `/metrics` is scraped: nothing runs between scrapes, and the Check path never sees them.
//!
//! Linux only: where `/proc/self` cannot be read the families are left out, not reported as 0.
//! CPU and start times are in the kernel's `USER_HZ` ticks, which `/proc` fixes at 100 a second
//! on every architecture Linux runs on (`sysconf(_SC_CLK_TCK)` would need `unsafe`, which the
//! crate forbids). It must not touch: the other metrics, or anything but `/proc`.

use std::fmt::Write as _;

/// `process_cpu_seconds_total`: user and system CPU time.
pub const CPU_SECONDS: &str = "process_cpu_seconds_total";
/// `process_resident_memory_bytes`: resident set size.
pub const RESIDENT_MEMORY: &str = "process_resident_memory_bytes";
/// `process_virtual_memory_bytes`: virtual memory size.
pub const VIRTUAL_MEMORY: &str = "process_virtual_memory_bytes";
/// `process_open_fds`: open file descriptors.
pub const OPEN_FDS: &str = "process_open_fds";
/// `process_max_fds`: the soft limit on open file descriptors.
pub const MAX_FDS: &str = "process_max_fds";
/// `process_start_time_seconds`: when the process started, in seconds since the Unix epoch.
pub const START_TIME: &str = "process_start_time_seconds";

/// Every `process_*` family, in the order they are rendered.
pub const NAMES: [&str; 6] = [
    CPU_SECONDS,
    RESIDENT_MEMORY,
    VIRTUAL_MEMORY,
    OPEN_FDS,
    MAX_FDS,
    START_TIME,
];

/// Clock ticks a second in `/proc`'s times (`USER_HZ`, see the module docs).
const TICKS_PER_SECOND: f64 = 100.0;

/// One reading of the process's figures. A figure that could not be read is `None` and its
/// family is not rendered.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    /// User plus system CPU seconds.
    pub cpu_seconds: Option<f64>,
    /// Resident set size, in bytes.
    pub resident_bytes: Option<u64>,
    /// Virtual memory size, in bytes.
    pub virtual_bytes: Option<u64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// Soft limit on open file descriptors (`None` when unlimited or unreadable).
    pub max_fds: Option<u64>,
    /// Start time, in seconds since the Unix epoch.
    pub start_time_seconds: Option<f64>,
}

impl ProcessStats {
    /// Reads this process's figures from `/proc/self` (all `None` where there is no `/proc`).
    pub fn read() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let times = read("/proc/self/stat").and_then(|s| stat_times(&s));
        let status = read("/proc/self/status");
        let boot = read("/proc/stat").and_then(|s| boot_time(&s));
        let open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|dir| u64::try_from(dir.count()).unwrap_or(u64::MAX));
        Self {
            cpu_seconds: times.map(|t| t.cpu_seconds()),
            resident_bytes: status.as_deref().and_then(|s| status_kib(s, "VmRSS:")),
            virtual_bytes: status.as_deref().and_then(|s| status_kib(s, "VmSize:")),
            open_fds,
            max_fds: read("/proc/self/limits").and_then(|s| max_open_files(&s)),
            start_time_seconds: times.zip(boot).map(|(t, boot)| t.start_seconds(boot)),
        }
    }

    /// Appends the families that have a value, each with its help and type, after a blank line.
    pub fn render(&self, out: &mut String) {
        let families: [(&str, &str, &str, Option<f64>); 6] = [
            (
                CPU_SECONDS,
                "counter",
                "Total user and system CPU time spent in seconds.",
                self.cpu_seconds,
            ),
            (
                RESIDENT_MEMORY,
                "gauge",
                "Resident memory size in bytes.",
                self.resident_bytes.map(as_f64),
            ),
            (
                VIRTUAL_MEMORY,
                "gauge",
                "Virtual memory size in bytes.",
                self.virtual_bytes.map(as_f64),
            ),
            (
                OPEN_FDS,
                "gauge",
                "Number of open file descriptors.",
                self.open_fds.map(as_f64),
            ),
            (
                MAX_FDS,
                "gauge",
                "Maximum number of open file descriptors.",
                self.max_fds.map(as_f64),
            ),
            (
                START_TIME,
                "gauge",
                "Start time of the process since unix epoch in seconds.",
                self.start_time_seconds,
            ),
        ];
        for (name, kind, help, value) in families {
            let Some(value) = value else { continue };
            if !out.is_empty() && !out.ends_with("\n\n") {
                out.push('\n');
            }
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        }
    }
}

#[expect(
    clippy::cast_precision_loss,
    reason = "byte and descriptor counts far below 2^53 print exactly"
)]
fn as_f64(n: u64) -> f64 {
    n as f64
}

/// The times of `/proc/self/stat`, in ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StatTimes {
    utime: u64,
    stime: u64,
    /// Ticks after boot when the process started.
    starttime: u64,
}

impl StatTimes {
    #[expect(
        clippy::cast_precision_loss,
        reason = "ticks of CPU time stay far below 2^53"
    )]
    fn cpu_seconds(self) -> f64 {
        self.utime.saturating_add(self.stime) as f64 / TICKS_PER_SECOND
    }

    #[expect(
        clippy::cast_precision_loss,
        reason = "seconds since the epoch and ticks since boot stay far below 2^53"
    )]
    fn start_seconds(self, boot_time: u64) -> f64 {
        boot_time as f64 + self.starttime as f64 / TICKS_PER_SECOND
    }
}

/// `utime`, `stime` and `starttime` (fields 14, 15 and 22 of proc(5)) of a `/proc/<pid>/stat`
/// line. The command name (field 2) is in parentheses and may hold spaces and parentheses
/// itself, so fields are counted after its last `)`.
fn stat_times(stat: &str) -> Option<StatTimes> {
    let (_, after_name) = stat.rsplit_once(')')?;
    // After the name: field 3 (state) is the first.
    let mut fields = after_name.split_ascii_whitespace();
    let mut field = |n: usize| -> Option<u64> { fields.nth(n)?.parse().ok() };
    let utime = field(14 - 3)?;
    let stime = field(0)?;
    let starttime = field(22 - 15 - 1)?;
    Some(StatTimes {
        utime,
        stime,
        starttime,
    })
}

/// The `btime` line of `/proc/stat`: boot time, in seconds since the Unix epoch.
fn boot_time(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|n| n.trim().parse().ok())
}

/// A `Key:   1234 kB` line of `/proc/self/status`, in bytes.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    let rest = status.lines().find_map(|line| line.strip_prefix(key))?;
    let kib: u64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
    kib.checked_mul(1024)
}

/// The soft limit of the `Max open files` line of `/proc/self/limits` (`None` if `unlimited`).
fn max_open_files(limits: &str) -> Option<u64> {
    let rest = limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))?;
    rest.split_ascii_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `stat` line whose command name holds a space and a parenthesis.
    const STAT: &str = "4242 (lattice (authz) R 1 4242 4242 0 -1 4194560 1200 0 3 0 \
                        1234 567 0 0 20 0 9 0 890123 123456789 4321 18446744073709551615 1 1 0 \
                        0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";

    #[test]
    fn stat_times_are_counted_after_the_last_parenthesis() {
        assert_eq!(
            stat_times(STAT),
            Some(StatTimes {
                utime: 1234,
                stime: 567,
                starttime: 890_123,
            })
        );
        assert_eq!(stat_times("4242 (cut"), None);
        assert_eq!(stat_times("4242 (short) R 1 2 3"), None);
    }

    #[test]
    fn status_limits_and_boot_time_are_read_by_their_keys() {
        let status = "Name:\tlattice-authz\nVmSize:\t  123456 kB\nVmRSS:\t    2048 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(2_097_152));
        assert_eq!(status_kib(status, "VmSize:"), Some(126_418_944));
        assert_eq!(status_kib(status, "VmSwap:"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             63499                63499                processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(max_open_files(limits), Some(1024));
        assert_eq!(
            max_open_files(
                "Max open files            unlimited            unlimited            files"
            ),
            None
        );
        assert_eq!(
            boot_time("cpu  1 2 3\nintr 5\nbtime 1796679017\nprocesses 9\n"),
            Some(1_796_679_017)
        );
        assert_eq!(boot_time("cpu  1 2 3\n"), None);
    }

    #[test]
    fn families_render_with_help_and_type_and_only_when_known() {
        let times = stat_times(STAT).unwrap();
        let stats = ProcessStats {
            cpu_seconds: Some(times.cpu_seconds()),
            resident_bytes: Some(2_097_152),
            virtual_bytes: None,
            open_fds: Some(12),
            max_fds: Some(1024),
            start_time_seconds: Some(times.start_seconds(1_796_679_017)),
        };
        let mut out = String::from("# TYPE x counter\nx 1\n");
        stats.render(&mut out);
        assert_eq!(
            out,
            "# TYPE x counter\nx 1\n\n\
             # HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n\
             # TYPE process_cpu_seconds_total counter\n\
             process_cpu_seconds_total 18.01\n\n\
             # HELP process_resident_memory_bytes Resident memory size in bytes.\n\
             # TYPE process_resident_memory_bytes gauge\n\
             process_resident_memory_bytes 2097152\n\n\
             # HELP process_open_fds Number of open file descriptors.\n\
             # TYPE process_open_fds gauge\n\
             process_open_fds 12\n\n\
             # HELP process_max_fds Maximum number of open file descriptors.\n\
             # TYPE process_max_fds gauge\n\
             process_max_fds 1024\n\n\
             # HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n\
             # TYPE process_start_time_seconds gauge\n\
             process_start_time_seconds 1796687918.23\n"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_reads_every_figure() {
        let stats = ProcessStats::read();
        // A test process may not have used a whole tick of CPU yet.
        assert!(stats.cpu_seconds.is_some_and(|s| s >= 0.0), "{stats:?}");
        assert!(stats.resident_bytes.is_some_and(|b| b > 0), "{stats:?}");
        assert!(stats.virtual_bytes.is_some_and(|b| b > 0), "{stats:?}");
        // Standard input, output and error at least.
        assert!(stats.open_fds.is_some_and(|n| n >= 3), "{stats:?}");
        assert!(
            stats.start_time_seconds.is_some_and(|t| t > 1.6e9),
            "{stats:?}"
        );
    }
}
