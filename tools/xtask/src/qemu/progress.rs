//! When a boot is stuck: a limit that watches progress, not the clock.
//!
//! A boot makes progress when its serial log grows. It is stuck when QEMU
//! has burnt [`Limit::quiet_cpu`] of CPU time since the log last grew (the
//! guest spins without saying anything: under TCG, QEMU's CPU time is the
//! instructions it emulated), or when [`Limit::quiet_wall`] passed without
//! output at all (QEMU or the guest waits for something that never comes).
//! A loaded host stretches wall-clock time but not the CPU time a correct
//! run needs between two lines, so the first bound can be tight and the
//! second generous. A log that grows past [`Limit::max_log_bytes`] is a
//! runaway that prints forever.

use std::fmt;
use std::time::Duration;

/// How long a boot may go without progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// QEMU CPU time without serial output.
    pub quiet_cpu: Duration,
    /// Wall-clock time without serial output.
    pub quiet_wall: Duration,
    /// The largest serial log a boot may write.
    pub max_log_bytes: u64,
}

impl Limit {
    /// The limit of system tests and verdict runs. The longest quiet
    /// stretch of a correct system test is under 3 s of QEMU CPU time
    /// (vm-hv-full, 2.8 s; measured on the whole suite, which writes each
    /// test's longest to `system-tests.tsv`); 30 s leaves a tenfold margin
    /// for a host whose caches other jobs share.
    pub const DEFAULT: Self = Self {
        quiet_cpu: Duration::from_secs(30),
        quiet_wall: Duration::from_secs(300),
        max_log_bytes: 64 << 20,
    };
}

/// Why a boot was judged stuck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stuck {
    /// QEMU ran this long on the CPU since the log last grew.
    QuietCpu(Duration),
    /// This much wall-clock time passed since the log last grew.
    QuietWall(Duration),
    /// The log grew to this many bytes.
    Runaway(u64),
}

impl fmt::Display for Stuck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::QuietCpu(cpu) => write!(
                f,
                "no serial output while QEMU ran {:.1} s on the CPU (stuck)",
                cpu.as_secs_f64()
            ),
            Self::QuietWall(wall) => write!(f, "no serial output for {} s (stuck)", wall.as_secs()),
            Self::Runaway(bytes) => write!(
                f,
                "the serial log grew past {} MiB (a runaway)",
                bytes >> 20
            ),
        }
    }
}

/// One look at the running boot: the wall-clock time since it started,
/// the log's size and QEMU's CPU time so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub wall: Duration,
    pub log_bytes: u64,
    pub cpu: Duration,
}

/// Follows the samples of one boot.
#[derive(Debug, Clone)]
pub struct Watch {
    limit: Limit,
    /// The sample at the last growth of the log.
    last_progress: Sample,
    /// The longest quiet stretch so far, in QEMU CPU time.
    longest_quiet_cpu: Duration,
}

impl Watch {
    pub fn new(limit: Limit) -> Self {
        Self {
            limit,
            last_progress: Sample {
                wall: Duration::ZERO,
                log_bytes: 0,
                cpu: Duration::ZERO,
            },
            longest_quiet_cpu: Duration::ZERO,
        }
    }

    /// Takes a sample; `Some` once the boot is stuck.
    pub fn observe(&mut self, sample: Sample) -> Option<Stuck> {
        let quiet_cpu = sample.cpu.saturating_sub(self.last_progress.cpu);
        let quiet_wall = sample.wall.saturating_sub(self.last_progress.wall);
        if sample.log_bytes > self.last_progress.log_bytes {
            self.longest_quiet_cpu = self.longest_quiet_cpu.max(quiet_cpu);
            self.last_progress = sample;
            return (sample.log_bytes > self.limit.max_log_bytes)
                .then_some(Stuck::Runaway(sample.log_bytes));
        }
        if quiet_cpu >= self.limit.quiet_cpu {
            Some(Stuck::QuietCpu(quiet_cpu))
        } else if quiet_wall >= self.limit.quiet_wall {
            Some(Stuck::QuietWall(quiet_wall))
        } else {
            None
        }
    }

    /// The longest stretch between two growths of the log, in QEMU CPU
    /// time (what [`Limit::quiet_cpu`] must stay above).
    pub fn longest_quiet_cpu(&self) -> Duration {
        self.longest_quiet_cpu
    }
}

/// The CPU time (user and system, all threads) of process `pid` so far,
/// from `/proc/PID/stat`; `None` if it cannot be read.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_time(&stat)
}

/// Clock ticks per second of `/proc`'s times (`USER_HZ`, 100 on Linux
/// for every architecture's user-space ABI).
const USER_HZ: u64 = 100;

/// utime + stime (fields 14 and 15) of a `/proc/PID/stat` line. The
/// command name (field 2) is in parentheses and may hold spaces, so the
/// fields are counted after its closing parenthesis.
fn parse_cpu_time(stat: &str) -> Option<Duration> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // Field 3 (state) is the first after the name; utime is field 14.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_millis(ticks * 1000 / USER_HZ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Limit = Limit {
        quiet_cpu: Duration::from_secs(30),
        quiet_wall: Duration::from_secs(300),
        max_log_bytes: 1000,
    };

    fn at(wall: u64, log_bytes: u64, cpu: u64) -> Sample {
        Sample {
            wall: Duration::from_secs(wall),
            log_bytes,
            cpu: Duration::from_secs(cpu),
        }
    }

    #[test]
    fn a_slow_but_talking_boot_is_never_stuck() {
        // A loaded host: ten minutes of wall-clock time, output every 20 s
        // of CPU time.
        let mut watch = Watch::new(LIMIT);
        for step in 1..=30 {
            assert_eq!(watch.observe(at(step * 20, step * 10, step * 20)), None);
        }
        assert_eq!(watch.longest_quiet_cpu(), Duration::from_secs(20));
    }

    #[test]
    fn a_starved_qemu_is_not_stuck_until_the_wall_clock_bound() {
        // QEMU gets almost no CPU: wall time passes, CPU time does not.
        let mut watch = Watch::new(LIMIT);
        assert_eq!(watch.observe(at(1, 10, 1)), None);
        assert_eq!(watch.observe(at(200, 10, 2)), None);
        assert_eq!(
            watch.observe(at(301, 10, 3)),
            Some(Stuck::QuietWall(Duration::from_secs(300)))
        );
    }

    #[test]
    fn a_silent_spinning_guest_is_stuck_after_its_cpu_budget() {
        let mut watch = Watch::new(LIMIT);
        assert_eq!(watch.observe(at(5, 100, 5)), None);
        assert_eq!(watch.observe(at(20, 100, 34)), None);
        assert_eq!(
            watch.observe(at(21, 100, 35)),
            Some(Stuck::QuietCpu(Duration::from_secs(30)))
        );
    }

    #[test]
    fn output_resets_both_bounds() {
        let mut watch = Watch::new(LIMIT);
        assert_eq!(watch.observe(at(290, 0, 29)), None);
        assert_eq!(watch.observe(at(295, 1, 29)), None);
        assert_eq!(watch.observe(at(590, 1, 58)), None);
        assert!(watch.observe(at(596, 1, 58)).is_some());
    }

    #[test]
    fn a_runaway_log_is_stopped() {
        let mut watch = Watch::new(LIMIT);
        assert_eq!(watch.observe(at(1, 999, 1)), None);
        assert_eq!(watch.observe(at(2, 1001, 2)), Some(Stuck::Runaway(1001)));
    }

    #[test]
    fn reasons_read_as_sentences() {
        assert_eq!(
            Stuck::QuietCpu(Duration::from_millis(30_500)).to_string(),
            "no serial output while QEMU ran 30.5 s on the CPU (stuck)"
        );
        assert_eq!(
            Stuck::QuietWall(Duration::from_secs(300)).to_string(),
            "no serial output for 300 s (stuck)"
        );
        assert_eq!(
            Stuck::Runaway(64 << 20).to_string(),
            "the serial log grew past 64 MiB (a runaway)"
        );
    }

    #[test]
    fn cpu_time_is_utime_plus_stime() {
        // A command name with spaces and parentheses.
        let stat = "4242 (qemu (x) 86) S 1 4242 4242 0 -1 4194560 2390 0 0 0 \
                    1234 66 0 0 20 0 5 0 100 0 0";
        assert_eq!(parse_cpu_time(stat), Some(Duration::from_secs(13)));
        assert_eq!(parse_cpu_time("garbage"), None);
        assert!(
            cpu_time(std::process::id()).is_some(),
            "our own /proc entry"
        );
    }
}
