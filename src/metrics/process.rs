//! The process metrics every Prometheus client exports under the same names (resident memory,
//! open and allowed file descriptors, start time, CPU time), read from `/proc/self` when the
//! metrics are scraped: no background loop, nothing kept. On a system without `/proc` (not
//! Linux) they are absent, as they are from the official clients there.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Clock ticks per second of the times in `/proc/<pid>/stat` (`USER_HZ`): 100 on every
/// architecture Linux runs on today (the kernel converts its own tick rate to it for user
/// space), so no call into libc is needed to learn it.
const USER_HZ: f64 = 100.0;

/// Reads this process's state from `/proc/self` on each scrape.
#[derive(Debug, Default)]
pub(super) struct ProcessGauges;

/// What one scrape read; each part absent when its file could not be read.
#[derive(Debug)]
struct Reading {
    resident_bytes: Option<u64>,
    open_fds: Option<u64>,
    max_fds: Option<u64>,
    start_time_seconds: Option<f64>,
    cpu_seconds: Option<f64>,
}

fn read_self() -> Reading {
    let proc_file = |name: &str| std::fs::read_to_string(format!("/proc/{name}")).ok();
    let stat = proc_file("self/stat").and_then(|text| parse_stat(&text));
    let boot = proc_file("stat").and_then(|text| parse_boot_time(&text));
    Reading {
        resident_bytes: proc_file("self/status").and_then(|text| parse_resident(&text)),
        open_fds: std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|fds| fds.count() as u64),
        max_fds: proc_file("self/limits").and_then(|text| parse_max_fds(&text)),
        start_time_seconds: stat
            .zip(boot)
            .map(|(stat, boot)| boot as f64 + stat.start_ticks as f64 / USER_HZ),
        cpu_seconds: stat.map(|stat| (stat.user_ticks + stat.system_ticks) as f64 / USER_HZ),
    }
}

/// The fields of `/proc/<pid>/stat` used here, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stat {
    user_ticks: u64,
    system_ticks: u64,
    start_ticks: u64,
}

/// Fields 14 (utime), 15 (stime) and 22 (starttime) of `/proc/<pid>/stat`, counted after the
/// command name, which is in parentheses and may itself hold spaces and parentheses.
fn parse_stat(text: &str) -> Option<Stat> {
    let (_, after_name) = text.rsplit_once(')')?;
    // What follows the name starts at field 3 (the state).
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |number: usize| fields.get(number - 3)?.parse().ok();
    Some(Stat {
        user_ticks: field(14)?,
        system_ticks: field(15)?,
        start_ticks: field(22)?,
    })
}

/// The boot time (`btime`, seconds since the epoch) from `/proc/stat`.
fn parse_boot_time(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|value| value.trim().parse().ok())
}

/// The resident set size (`VmRSS`, in kB) from `/proc/<pid>/status`, in bytes.
fn parse_resident(text: &str) -> Option<u64> {
    let line = text.lines().find_map(|line| line.strip_prefix("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

/// The soft limit of open files from `/proc/<pid>/limits` (`None` when unlimited).
fn parse_max_fds(text: &str) -> Option<u64> {
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))?;
    line.split_whitespace().next()?.parse().ok()
}

impl Collector for ProcessGauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let now = read_self();
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                now.resident_bytes,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                now.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors (the soft limit)",
                now.max_fds,
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(value) = value {
                let value = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
                let metric = encoder.encode_descriptor(name, help, None, value.metric_type())?;
                value.encode(metric)?;
            }
        }
        if let Some(start) = now.start_time_seconds {
            let value = ConstGauge::new(start);
            let metric = encoder.encode_descriptor(
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds",
                None,
                value.metric_type(),
            )?;
            value.encode(metric)?;
        }
        if let Some(cpu) = now.cpu_seconds {
            let value = ConstCounter::new(cpu);
            let metric = encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                value.metric_type(),
            )?;
            value.encode(metric)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proc_files_are_read_field_by_field() {
        // A command name with a space and a parenthesis, as a thread may rename itself.
        let stat = "4242 (todo (x) y) S 1 4242 4242 0 -1 4194560 1200 0 0 0 \
                    150 37 0 0 20 0 9 0 98765 123456789 2048 18446744073709551615";
        assert_eq!(
            parse_stat(stat),
            Some(Stat {
                user_ticks: 150,
                system_ticks: 37,
                start_ticks: 98765,
            })
        );
        assert_eq!(parse_stat("4242 (cut) S 1 2"), None);
        assert_eq!(
            parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1764700000\nprocesses 9\n"),
            Some(1_764_700_000)
        );
        assert_eq!(
            parse_resident("Name:\ttodo\nVmRSS:\t   20480 kB\nThreads:\t9\n"),
            Some(20480 * 1024)
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max processes             63417                63417                processes\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(parse_max_fds(limits), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_max_fds(unlimited), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_reads_as_running_with_memory_and_files() {
        let now = read_self();
        assert!(now.resident_bytes.unwrap() > 1024 * 1024, "{now:?}");
        let open = now.open_fds.unwrap();
        assert!(
            open >= 3 && now.max_fds.is_none_or(|max| open <= max),
            "{now:?}"
        );
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        // Started before now (the boot time is whole seconds, so allow one).
        let started = now.start_time_seconds.unwrap();
        assert!(started > 1.6e9 && started <= since_epoch + 1.0, "{now:?}");
        assert!(now.cpu_seconds.unwrap() >= 0.0);
    }
}
