//! Per-thread scheduler counters over `bench`'s timed passes (`--thread-stats`), to tell where
//! a latency tail comes from: more work on our threads (CPU time, user or system), waiting for a
//! core while runnable (run-queue wait: other processes, or our own threads, held it), hand-offs
//! between our threads (voluntary switches: sleeping on a latch or futex) or preemption
//! (involuntary switches), and threads moved between cores (migrations, when the kernel exposes
//! them). Plus how much of the process's anonymous memory sits on transparent huge pages (the
//! packed weights ask for them; whether they get them depends on the machine's free memory).
//! Linux only: read from `/proc/self/task/*`; elsewhere the counters are absent.

use std::collections::BTreeMap;
use std::fs;

/// Linux reports `utime` / `stime` in USER_HZ ticks, 100 per second on every architecture's
/// user ABI (the kernel's own HZ may differ; the `/proc` interface converts).
const USER_HZ: f64 = 100.0;

/// One thread's cumulative counters at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThreadCounters {
    /// Thread name (`comm`), e.g. `ghost-yolo`, `ghost-kernels-0`.
    pub name: String,
    /// CPU time, nanoseconds (`schedstat` field 1).
    pub cpu_ns: u64,
    /// Time runnable but waiting for a core, nanoseconds (`schedstat` field 2).
    pub wait_ns: u64,
    /// User and system CPU time, USER_HZ ticks (`stat` fields 14 and 15; sampled, coarse).
    pub user_ticks: u64,
    pub system_ticks: u64,
    /// Context switches: the thread blocked (voluntary) or was preempted (involuntary).
    pub voluntary: u64,
    pub involuntary: u64,
    /// Moves to another core, where `/proc/.../sched` exists (CONFIG_SCHED_DEBUG).
    pub migrations: Option<u64>,
}

/// Every thread of this process, by thread id.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub threads: BTreeMap<u32, ThreadCounters>,
}

impl Snapshot {
    /// The counters now, or `None` where `/proc/self/task` is not readable. A thread that ends
    /// while being read is left out.
    pub fn read() -> Option<Snapshot> {
        let mut threads = BTreeMap::new();
        for task in fs::read_dir("/proc/self/task").ok()? {
            let task = task.ok()?;
            let Some(tid) = task.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if let Some(c) = read_thread(&task.path()) {
                threads.insert(tid, c);
            }
        }
        Some(Snapshot { threads })
    }

    /// Per-thread differences from `earlier` (a thread missing there counts from zero), in
    /// thread-id order.
    pub fn since(&self, earlier: &Snapshot) -> Vec<ThreadCounters> {
        let zero = ThreadCounters::default();
        self.threads
            .iter()
            .map(|(tid, now)| {
                let then = earlier.threads.get(tid).unwrap_or(&zero);
                ThreadCounters {
                    name: now.name.clone(),
                    cpu_ns: now.cpu_ns.saturating_sub(then.cpu_ns),
                    wait_ns: now.wait_ns.saturating_sub(then.wait_ns),
                    user_ticks: now.user_ticks.saturating_sub(then.user_ticks),
                    system_ticks: now.system_ticks.saturating_sub(then.system_ticks),
                    voluntary: now.voluntary.saturating_sub(then.voluntary),
                    involuntary: now.involuntary.saturating_sub(then.involuntary),
                    migrations: now
                        .migrations
                        .map(|m| m.saturating_sub(then.migrations.unwrap_or(0))),
                }
            })
            .collect()
    }
}

fn read_thread(dir: &std::path::Path) -> Option<ThreadCounters> {
    let name = fs::read_to_string(dir.join("comm"))
        .ok()?
        .trim()
        .to_string();
    let schedstat = fs::read_to_string(dir.join("schedstat")).ok()?;
    let mut fields = schedstat.split_whitespace();
    let cpu_ns = fields.next()?.parse().ok()?;
    let wait_ns = fields.next()?.parse().ok()?;
    let stat = fs::read_to_string(dir.join("stat")).ok()?;
    // After the name's closing ')' (the name may hold spaces): field 3 (state) is index 0, so
    // utime (field 14) is index 11 and stime (field 15) index 12.
    let mut rest = stat[stat.rfind(')')? + 1..].split_whitespace().skip(11);
    let user_ticks = rest.next()?.parse().ok()?;
    let system_ticks = rest.next()?.parse().ok()?;
    let status = fs::read_to_string(dir.join("status")).ok()?;
    let voluntary = status_field(&status, "voluntary_ctxt_switches:")?;
    let involuntary = status_field(&status, "nonvoluntary_ctxt_switches:")?;
    let migrations = fs::read_to_string(dir.join("sched"))
        .ok()
        .and_then(|s| status_field(&s, "se.nr_migrations"));
    Some(ThreadCounters {
        name,
        cpu_ns,
        wait_ns,
        user_ticks,
        system_ticks,
        voluntary,
        involuntary,
        migrations,
    })
}

/// The number after `key` on the line starting with it (`key: value` or `key  :  value`).
fn status_field(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim_start_matches([' ', '\t', ':'])
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Anonymous memory of this process on transparent huge pages, KiB (`AnonHugePages` of
/// `/proc/self/smaps_rollup`), or `None` where not reported.
pub fn anon_huge_pages_kib() -> Option<u64> {
    let text = fs::read_to_string("/proc/self/smaps_rollup").ok()?;
    status_field(&text, "AnonHugePages:")
}

/// One line per thread: per-pass CPU (user / system share), run-queue wait, switches and
/// migrations over `passes` passes.
pub fn report(deltas: &[ThreadCounters], passes: usize) -> Vec<String> {
    let n = passes.max(1) as f64;
    deltas
        .iter()
        .filter(|d| d.cpu_ns > 0 || d.voluntary + d.involuntary > 0)
        .map(|d| {
            let ticks = (d.user_ticks + d.system_ticks) as f64;
            let system_share = if ticks > 0.0 {
                format!("{:.0}%", 100.0 * d.system_ticks as f64 / ticks)
            } else {
                "-".to_string()
            };
            let migrations = d
                .migrations
                .map_or("-".to_string(), |m| format!("{:.1}", m as f64 / n));
            format!(
                "thread {}: cpu {:.2} ms/pass (system {system_share} of {:.2} s sampled), \
                 run-queue wait {:.2} ms/pass, switches {:.1} voluntary + {:.1} involuntary /pass, \
                 migrations {migrations} /pass",
                d.name,
                d.cpu_ns as f64 / 1e6 / n,
                ticks / USER_HZ,
                d.wait_ns as f64 / 1e6 / n,
                d.voluntary as f64 / n,
                d.involuntary as f64 / n,
            )
        })
        .collect()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn fields_are_parsed_from_both_layouts() {
        assert_eq!(
            status_field(
                "x: 1\nvoluntary_ctxt_switches:\t42\n",
                "voluntary_ctxt_switches:"
            ),
            Some(42)
        );
        assert_eq!(
            status_field(
                "se.nr_migrations                             :                    7\n",
                "se.nr_migrations"
            ),
            Some(7)
        );
        assert_eq!(
            status_field("AnonHugePages:    2048 kB\n", "AnonHugePages:"),
            Some(2048)
        );
        assert_eq!(status_field("other: 1\n", "AnonHugePages:"), None);
    }

    /// A thread that sleeps switches voluntarily; one that spins accrues CPU time; both show up
    /// under their own names and ids.
    #[test]
    fn a_sleeping_and_a_spinning_thread_are_told_apart() {
        let before = Snapshot::read().expect("/proc/self/task on Linux");
        let sleeper = std::thread::Builder::new()
            .name("stats-sleeper".into())
            .spawn(|| {
                for _ in 0..20 {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Snapshot::read().unwrap()
            })
            .unwrap();
        let spinner = std::thread::Builder::new()
            .name("stats-spinner".into())
            .spawn(|| {
                // A fixed amount of work (tens of ms), however loaded the machine.
                let mut x = 0u64;
                for _ in 0..50_000_000u64 {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
                Snapshot::read().unwrap()
            })
            .unwrap();
        // Read each thread's counters from inside it, before it ends and leaves /proc.
        let (slept, spun) = (sleeper.join().unwrap(), spinner.join().unwrap());
        let find = |snap: &Snapshot, name: &str| {
            let d = snap.since(&before);
            d.into_iter().find(|t| t.name == name).unwrap()
        };
        let s = find(&slept, "stats-sleeper");
        assert!(s.voluntary >= 20, "{s:?}");
        let p = find(&spun, "stats-spinner");
        assert!(p.cpu_ns >= 5_000_000, "{p:?}");
        assert!(anon_huge_pages_kib().is_some());
        let lines = report(&[s, p], 1);
        assert!(lines
            .iter()
            .any(|l| l.starts_with("thread stats-sleeper: cpu ")));
    }
}
