//! Exit statistics per partition (`tessera_vcpu::exit_stats`), reported
//! at the end of a deployment when the command line says `exit-stats=on`
//! (`cargo xtask run --stats` does, and prints the table).
//!
//! Each VP counts its own exits and injected events ([`Vp::exit_counts`],
//! written only by its CPU: the lock-free loop pays a load and a store per
//! exit). A VP that is reaped adds its counts to its partition's; a
//! partition that is reaped leaves its totals here, so the report covers
//! partitions that ended before the deployment did. Forwarded exits are
//! also counted per route, under the lock, as they are sent.
//!
//! [`Vp::exit_counts`]: super::Vp::exit_counts
use super::{MAX_ROUTES, Partition, Route};
use crate::state::{Kernel, Name};
use core::sync::atomic::{AtomicBool, Ordering};
use spin::Mutex;
use tessera_abi::vm::intercept;
use tessera_capability::VpId;
use tessera_vcpu::exit_stats::{ExitCounts, ExitReason, ExitTotals, Outcome};

/// Whether the report is printed (`exit-stats=on`).
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Partitions reaped before the end: at most this many are named, the
/// rest are summed into one line.
const RETIRED: usize = 16;

/// The report of a partition that is gone.
struct Retired {
    name: Name,
    totals: ExitTotals,
    routes: heapless::Vec<(Route, u64), RETIRED_ROUTES>,
}

/// The routes a retired partition's report keeps (the busiest are the
/// first ones a manifest declares in practice; the rest are summed).
const RETIRED_ROUTES: usize = 8;

static GONE: Mutex<heapless::Vec<Retired, RETIRED>> = Mutex::new(heapless::Vec::new());
/// The totals of the partitions past `RETIRED`.
static GONE_UNNAMED: Mutex<ExitTotals> = Mutex::new(ExitTotals {
    exits: [[0; tessera_vcpu::exit_stats::OUTCOMES]; tessera_vcpu::exit_stats::REASONS],
    injected: [0; tessera_vcpu::exit_stats::INJECTED],
});

pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// What a partition keeps of its exits beyond its live VPs' counts.
#[derive(Debug)]
pub struct PartitionExitStats {
    /// The counts of its VPs that were reaped.
    gone_vps: ExitTotals,
    /// Forwarded exits by route, in the order of `Partition::routes`
    /// (which only grows).
    by_route: [u64; MAX_ROUTES],
}

impl Default for PartitionExitStats {
    fn default() -> Self {
        Self {
            gone_vps: ExitTotals::default(),
            by_route: [0; MAX_ROUTES],
        }
    }
}

impl PartitionExitStats {
    /// VP counts `counts` stay with the partition when the VP goes.
    pub fn vp_gone(&mut self, counts: &ExitCounts) {
        self.gone_vps.add(&counts.totals());
    }
}

/// The partition's totals: its gone VPs' and its live ones'.
fn totals(kernel: &Kernel, partition: &Partition) -> ExitTotals {
    let mut totals = partition.exit_stats.gone_vps;
    for vp in &partition.vps {
        if let Some(record) = kernel.vps.get(*vp) {
            totals.add(&record.exit_counts.totals());
        }
    }
    totals
}

/// A reaped partition's totals (its VPs are gone) stay for the report.
pub fn partition_gone(partition: &Partition) {
    let routes = partition
        .routes
        .iter()
        .zip(partition.exit_stats.by_route)
        .filter(|(_, count)| *count != 0)
        .map(|(route, count)| (*route, count))
        .take(RETIRED_ROUTES)
        .collect();
    let retired = Retired {
        name: partition.name.clone(),
        totals: partition.exit_stats.gone_vps,
        routes,
    };
    if let Err(retired) = GONE.lock().push(retired) {
        GONE_UNNAMED.lock().add(&retired.totals);
    }
}

impl Kernel {
    /// VP `vp`'s exit of `code` had `outcome` (called on its CPU).
    pub fn count_exit(&self, vp: VpId, code: tessera_svm::ExitCode, outcome: Outcome) {
        if let Some(record) = self.vps.get(vp) {
            record.exit_counts.count(ExitReason::of(code), outcome);
        }
    }

    /// VP `vp` forwarded an exit to `route`.
    pub fn count_forwarded(&mut self, vp: VpId, route: &Route) {
        let Some(partition) = self.vps.get(vp).map(|record| record.partition) else {
            return;
        };
        let Some(target) = self.partitions.get_mut(partition) else {
            return;
        };
        if let Some(count) = target.exit_stats.by_route.get_mut(route.slot) {
            *count += 1;
        }
    }
}

/// Logs every partition's exit statistics, if `exit-stats=on` (at the
/// end of a deployment, with the kernel lock held).
pub fn report(kernel: &Kernel) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    log::info!("exit-stats: begin");
    for (_, partition) in kernel.partitions.iter() {
        let routes = partition.routes.iter().zip(partition.exit_stats.by_route);
        report_partition(&partition.name, &totals(kernel, partition), routes);
    }
    for retired in GONE.lock().iter() {
        let routes = retired.routes.iter().map(|(route, count)| (route, *count));
        report_partition(&retired.name, &retired.totals, routes);
    }
    let unnamed = *GONE_UNNAMED.lock();
    if unnamed.total() != 0 {
        report_partition("(other-ended-partitions)", &unnamed, core::iter::empty());
    }
    log::info!("exit-stats: end");
}

fn report_partition<'a>(
    name: &str,
    totals: &ExitTotals,
    routes: impl Iterator<Item = (&'a Route, u64)>,
) {
    totals.write_lines(name, |line| log::info!("{line}"));
    for (route, count) in routes.filter(|(_, count)| *count != 0) {
        log::info!(
            "exit-stats: partition={name} route={}:{:#x}-{:#x} forwarded={count}",
            route_kind(route.kind),
            route.first,
            route.last
        );
    }
}

/// A route kind's name in the report (`tessera_abi::vm::intercept`).
fn route_kind(kind: u64) -> &'static str {
    match kind {
        intercept::CPUID => "cpuid",
        intercept::IO_PORT => "io-port",
        intercept::MSR => "msr",
        intercept::HLT => "hlt",
        intercept::MEMORY => "memory",
        intercept::EXCEPTION => "exception",
        intercept::HYPERCALL => "hypercall",
        intercept::LIFECYCLE => "lifecycle",
        intercept::EOI => "eoi",
        _ => "other",
    }
}
