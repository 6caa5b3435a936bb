//! Exit statistics, as `perf kvm stat` gives them for KVM: how many exits
//! of each reason a VP took and what became of each (answered by the
//! kernel without its lock, answered under it, forwarded to a route's
//! handler, or the VP left its CPU), and how many events were injected.
//!
//! A VP's [`ExitCounts`] are written only by the CPU that runs it — its
//! lock-free loop and its locked exit handling alike — so a count is a
//! load and a store of a relaxed atomic, with no lock and no locked
//! instruction: the atomics only let the end-of-run report read them
//! while the VP may still run. [`ExitTotals`] are plain sums for
//! reporting; [`ExitTotals::write_lines`] prints them in the line format
//! `cargo xtask run --stats` reads (`exit-stats: ...`).
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};
use tessera_svm::ExitCode;

/// The exit reasons counted, one row of the table each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum ExitReason {
    Cpuid,
    Msr,
    IoPort,
    Hypercall,
    Hlt,
    NestedPageFault,
    /// A host interrupt or NMI ended the guest.
    HostInterrupt,
    /// The guest could take a pending interrupt (VINTR).
    InterruptWindow,
    Exception,
    CacheFlush,
    Cr4Write,
    Rdtscp,
    /// RDPMC and the SVM and other instructions answered with #UD or #GP.
    Refused,
    Shutdown,
    Other,
}

/// How many reasons there are.
pub const REASONS: usize = ExitReason::Other as usize + 1;

impl ExitReason {
    pub const ALL: [Self; REASONS] = [
        Self::Cpuid,
        Self::Msr,
        Self::IoPort,
        Self::Hypercall,
        Self::Hlt,
        Self::NestedPageFault,
        Self::HostInterrupt,
        Self::InterruptWindow,
        Self::Exception,
        Self::CacheFlush,
        Self::Cr4Write,
        Self::Rdtscp,
        Self::Refused,
        Self::Shutdown,
        Self::Other,
    ];

    /// The row an exit code counts in.
    pub fn of(code: ExitCode) -> Self {
        match code {
            ExitCode::CPUID => Self::Cpuid,
            ExitCode::MSR => Self::Msr,
            ExitCode::IOIO => Self::IoPort,
            ExitCode::VMMCALL => Self::Hypercall,
            ExitCode::HLT => Self::Hlt,
            ExitCode::NPF => Self::NestedPageFault,
            ExitCode::INTR | ExitCode::NMI => Self::HostInterrupt,
            ExitCode::VINTR => Self::InterruptWindow,
            ExitCode::INVD | ExitCode::WBINVD => Self::CacheFlush,
            ExitCode::RDTSCP => Self::Rdtscp,
            ExitCode::SHUTDOWN => Self::Shutdown,
            ExitCode::RDPMC => Self::Refused,
            code if crate::intercepts::undefined_for_guests(code) => Self::Refused,
            code if code == ExitCode(ExitCode::CR0_WRITE.0 + 4) => Self::Cr4Write,
            code if code.exception_vector().is_some() => Self::Exception,
            _ => Self::Other,
        }
    }

    /// The name the report lines use (no spaces).
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpuid => "cpuid",
            Self::Msr => "msr",
            Self::IoPort => "io-port",
            Self::Hypercall => "hypercall",
            Self::Hlt => "hlt",
            Self::NestedPageFault => "npf",
            Self::HostInterrupt => "host-interrupt",
            Self::InterruptWindow => "interrupt-window",
            Self::Exception => "exception",
            Self::CacheFlush => "invd-wbinvd",
            Self::Cr4Write => "cr4-write",
            Self::Rdtscp => "rdtscp",
            Self::Refused => "refused",
            Self::Shutdown => "shutdown",
            Self::Other => "other",
        }
    }
}

/// What became of an exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Outcome {
    /// Answered by the kernel without its lock; the guest went straight on.
    KernelFast,
    /// Answered by the kernel under its lock.
    Kernel,
    /// Sent to the handler a route names (or the lifecycle handler).
    Forwarded,
    /// The VP left its CPU without an answer: it halted, was preempted
    /// or stopped.
    Left,
}

pub const OUTCOMES: usize = Outcome::Left as usize + 1;

impl Outcome {
    pub const ALL: [Self; OUTCOMES] = [Self::KernelFast, Self::Kernel, Self::Forwarded, Self::Left];

    pub fn name(self) -> &'static str {
        match self {
            Self::KernelFast => "kernel-fast",
            Self::Kernel => "kernel",
            Self::Forwarded => "forwarded",
            Self::Left => "left",
        }
    }
}

/// The kinds of injected event counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Injected {
    Interrupt,
    Nmi,
    Exception,
}

pub const INJECTED: usize = 3;

impl Injected {
    pub const ALL: [Self; INJECTED] = [Self::Interrupt, Self::Nmi, Self::Exception];

    /// The kind of the event in an `EVENTINJ` word (APM vol. 2, 15.20),
    /// if it is valid.
    pub fn of(event_inj: tessera_svm::EventInjection) -> Option<Self> {
        use tessera_svm::event::EventType;
        if !event_inj.valid() {
            return None;
        }
        Some(match event_inj.event_type() {
            EventType::NMI => Self::Nmi,
            EventType::EXCEPTION => Self::Exception,
            _ => Self::Interrupt,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Interrupt => "interrupt",
            Self::Nmi => "nmi",
            Self::Exception => "exception",
        }
    }
}

/// One VP's counts (see the module documentation for who writes them).
#[derive(Debug)]
pub struct ExitCounts {
    exits: [[AtomicU64; OUTCOMES]; REASONS],
    injected: [AtomicU64; INJECTED],
}

impl Default for ExitCounts {
    fn default() -> Self {
        Self {
            exits: [const { [const { AtomicU64::new(0) }; OUTCOMES] }; REASONS],
            injected: [const { AtomicU64::new(0) }; INJECTED],
        }
    }
}

/// One more, by the only writer: a load and a store, no locked instruction.
#[inline(always)]
fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

impl ExitCounts {
    /// One exit of `reason` with `outcome` (by the CPU that runs the VP).
    #[inline(always)]
    pub fn count(&self, reason: ExitReason, outcome: Outcome) {
        bump(&self.exits[reason as usize][outcome as usize]);
    }

    /// One event of `kind` injected (by the CPU that runs the VP).
    pub fn injected(&self, kind: Injected) {
        bump(&self.injected[kind as usize]);
    }

    /// What was counted so far.
    pub fn totals(&self) -> ExitTotals {
        ExitTotals {
            exits: self
                .exits
                .each_ref()
                .map(|row| row.each_ref().map(|c| c.load(Ordering::Relaxed))),
            injected: self.injected.each_ref().map(|c| c.load(Ordering::Relaxed)),
        }
    }
}

/// Counts summed for a report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExitTotals {
    pub exits: [[u64; OUTCOMES]; REASONS],
    pub injected: [u64; INJECTED],
}

impl ExitTotals {
    pub fn add(&mut self, other: &Self) {
        for (row, other_row) in self.exits.iter_mut().zip(&other.exits) {
            for (count, other) in row.iter_mut().zip(other_row) {
                *count += other;
            }
        }
        for (count, other) in self.injected.iter_mut().zip(&other.injected) {
            *count += other;
        }
    }

    pub fn get(&self, reason: ExitReason, outcome: Outcome) -> u64 {
        self.exits[reason as usize][outcome as usize]
    }

    /// Every exit counted.
    pub fn total(&self) -> u64 {
        self.exits.iter().flatten().sum()
    }

    /// The report lines of partition `partition` (names have no spaces),
    /// one per count that is not zero, each passed to `line`:
    ///
    /// ```text
    /// exit-stats: partition=NAME exit=REASON outcome=OUTCOME count=N
    /// exit-stats: partition=NAME injected=KIND count=N
    /// ```
    pub fn write_lines(&self, partition: &str, mut line: impl FnMut(fmt::Arguments<'_>)) {
        for reason in ExitReason::ALL {
            for outcome in Outcome::ALL {
                let count = self.get(reason, outcome);
                if count != 0 {
                    line(format_args!(
                        "exit-stats: partition={partition} exit={} outcome={} count={count}",
                        reason.name(),
                        outcome.name()
                    ));
                }
            }
        }
        for kind in Injected::ALL {
            let count = self.injected[kind as usize];
            if count != 0 {
                line(format_args!(
                    "exit-stats: partition={partition} injected={} count={count}",
                    kind.name()
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;

    #[test]
    fn every_reason_and_outcome_has_its_own_counter_and_name() {
        let counts = ExitCounts::default();
        for (r, reason) in ExitReason::ALL.into_iter().enumerate() {
            assert_eq!(reason as usize, r);
            for (o, outcome) in Outcome::ALL.into_iter().enumerate() {
                assert_eq!(outcome as usize, o);
                for _ in 0..=(r * OUTCOMES + o) {
                    counts.count(reason, outcome);
                }
            }
        }
        let totals = counts.totals();
        for reason in ExitReason::ALL {
            for outcome in Outcome::ALL {
                assert_eq!(
                    totals.get(reason, outcome),
                    (reason as usize * OUTCOMES + outcome as usize + 1) as u64
                );
            }
        }
        let names: Vec<_> = ExitReason::ALL.iter().map(|r| r.name()).collect();
        for (i, name) in names.iter().enumerate() {
            assert!(!name.contains(' ') && !names[..i].contains(name), "{name}");
        }
    }

    #[test]
    fn exit_codes_fall_into_their_rows() {
        assert_eq!(ExitReason::of(ExitCode::CPUID), ExitReason::Cpuid);
        assert_eq!(ExitReason::of(ExitCode::VMMCALL), ExitReason::Hypercall);
        assert_eq!(ExitReason::of(ExitCode::INTR), ExitReason::HostInterrupt);
        assert_eq!(ExitReason::of(ExitCode::NMI), ExitReason::HostInterrupt);
        assert_eq!(ExitReason::of(ExitCode::WBINVD), ExitReason::CacheFlush);
        assert_eq!(ExitReason::of(ExitCode::VMRUN), ExitReason::Refused);
        assert_eq!(ExitReason::of(ExitCode(0x14)), ExitReason::Cr4Write);
        assert_eq!(ExitReason::of(ExitCode(0x40 + 14)), ExitReason::Exception);
        assert_eq!(ExitReason::of(ExitCode(0x13)), ExitReason::Other);
        assert_eq!(ExitReason::of(ExitCode(u64::MAX)), ExitReason::Other);
    }

    #[test]
    fn injected_events_are_told_apart_by_type() {
        use tessera_svm::{Event, ExceptionVector};
        let interrupt = Event::ExternalInterrupt { vector: 0x30 }.encode().unwrap();
        let nmi = Event::Nmi.encode().unwrap();
        let gp = Event::Exception {
            vector: ExceptionVector::new(13).unwrap(),
            error_code: Some(0),
        }
        .encode()
        .unwrap();
        assert_eq!(Injected::of(interrupt), Some(Injected::Interrupt));
        assert_eq!(Injected::of(nmi), Some(Injected::Nmi));
        assert_eq!(Injected::of(gp), Some(Injected::Exception));
        assert_eq!(Injected::of(tessera_svm::EventInjection::NONE), None);
    }

    #[test]
    fn the_lines_name_partition_reason_outcome_and_count_and_skip_zeros() {
        let counts = ExitCounts::default();
        for _ in 0..3 {
            counts.count(ExitReason::Cpuid, Outcome::KernelFast);
        }
        counts.count(ExitReason::IoPort, Outcome::Forwarded);
        counts.injected(Injected::Interrupt);
        let mut totals = counts.totals();
        totals.add(&counts.totals());
        assert_eq!(totals.total(), 8);
        let mut lines = Vec::new();
        totals.write_lines("bench", |args| lines.push(args.to_string()));
        assert_eq!(
            lines,
            [
                "exit-stats: partition=bench exit=cpuid outcome=kernel-fast count=6",
                "exit-stats: partition=bench exit=io-port outcome=forwarded count=2",
                "exit-stats: partition=bench injected=interrupt count=2",
            ]
            .map(String::from)
        );
    }
}
