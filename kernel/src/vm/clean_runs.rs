//! How many VMRUNs found VMCB state clean (`tessera_vcpu::clean_bits`),
//! per CPU, reported with the verdict: on a CPU without clean bits every
//! VMRUN counts as "nothing clean".
//!
//! A VP's loop counts in a local [`Tally`] and adds it here once per slow
//! exit, so the lock-free path pays two additions per VMRUN.
use crate::tlb::MAX_CPUS;
use core::sync::atomic::{AtomicU64, Ordering};
use tessera_svm::clean::VmcbCleanBits;

/// VMRUNs, and those with at least one area clean, on one CPU.
struct Counts {
    runs: AtomicU64,
    some_clean: AtomicU64,
}

static COUNTS: [Counts; MAX_CPUS] = [const {
    Counts {
        runs: AtomicU64::new(0),
        some_clean: AtomicU64::new(0),
    }
}; MAX_CPUS];

/// What one stretch of a VP's loop counted.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    runs: u64,
    some_clean: u64,
}

impl Tally {
    /// One VMRUN with clean field `clean`.
    #[inline(always)]
    pub fn count(&mut self, clean: VmcbCleanBits) {
        self.runs += 1;
        self.some_clean += u64::from(clean != VmcbCleanBits::NONE);
    }
}

/// Adds `tally` to `cpu`'s counts (only `cpu` writes them).
pub fn add(cpu: usize, tally: Tally) {
    let counts = &COUNTS[cpu];
    counts.runs.fetch_add(tally.runs, Ordering::Relaxed);
    counts
        .some_clean
        .fetch_add(tally.some_clean, Ordering::Relaxed);
}

/// Logs the totals over every CPU (at the end of a run).
pub fn report() {
    let total = |field: fn(&Counts) -> &AtomicU64| -> u64 {
        COUNTS
            .iter()
            .map(|c| field(c).load(Ordering::Relaxed))
            .sum()
    };
    let runs = total(|c| &c.runs);
    if runs == 0 {
        return;
    }
    log::info!(
        "vmcb clean bits: {} of {runs} VMRUNs had state clean",
        total(|c| &c.some_clean)
    );
}
