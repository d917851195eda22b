//! Process CPU time and page faults around each timed pass of `bench`, so that its numbers
//! mean something on a loaded machine: wall time there includes the time other processes held
//! the cores, CPU time and minor faults do not. Linux only (read from `/proc`, nanosecond CPU
//! time from each thread's `schedstat`); elsewhere the counters are absent.

use std::fs;

/// Cumulative counters of this process at one instant.
#[derive(Debug, Clone, Copy)]
pub struct Counters {
    /// CPU time of all its threads, nanoseconds.
    pub cpu_ns: u64,
    /// Minor page faults (a page mapped on first touch, no disk I/O).
    pub minor_faults: u64,
}

impl Counters {
    /// The counters now, or `None` where `/proc` does not provide them.
    pub fn read() -> Option<Counters> {
        let mut cpu_ns = 0u64;
        for task in fs::read_dir("/proc/self/task").ok()? {
            let path = task.ok()?.path().join("schedstat");
            // A thread that ended since the listing has no file any more: skip it.
            if let Ok(text) = fs::read_to_string(path) {
                cpu_ns += text.split_whitespace().next()?.parse::<u64>().ok()?;
            }
        }
        let stat = fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which may hold spaces, so split after its ')'):
        // state is field 3, minflt field 10.
        let rest = &stat[stat.rfind(')')? + 1..];
        let minor_faults = rest.split_whitespace().nth(7)?.parse().ok()?;
        Some(Counters {
            cpu_ns,
            minor_faults,
        })
    }

    /// `(CPU milliseconds, minor faults)` from `earlier` to `self`.
    pub fn since(&self, earlier: &Counters) -> (f64, u64) {
        (
            self.cpu_ns.saturating_sub(earlier.cpu_ns) as f64 / 1e6,
            self.minor_faults.saturating_sub(earlier.minor_faults),
        )
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn counters_grow_with_work_and_first_touches() {
        let before = Counters::read().expect("/proc counters on Linux");
        // ~64 MiB touched page by page: thousands of minor faults, and CPU time.
        let mut v = vec![0u8; 64 << 20];
        for i in (0..v.len()).step_by(4096) {
            v[i] = 1;
        }
        std::hint::black_box(&v);
        let after = Counters::read().unwrap();
        let (ms, faults) = after.since(&before);
        assert!(faults >= 1000, "{faults} faults");
        assert!(ms > 0.0, "{ms} ms");
    }
}
