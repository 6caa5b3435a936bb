//! The kernel's audit of its own bookkeeping (ABI: `tessera_abi::audit`):
//! the capability and IPC invariants, the nested page tables against what
//! their partitions say should be mapped, and where every physical frame
//! is. The fuzzers read it through `KernelAudit`; the kernel prints it at
//! the end of every deployment, and a broken invariant fails the run, so
//! every system test checks it too.
//!
//! The audit only reads. It walks every object, so it is slow by design
//! and runs only at the end of a deployment and when a test asks.
mod nested;

use crate::memory::{frames, heap};
use crate::state::Kernel;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};
use tessera_abi::audit::{self as words, problem};
use tessera_audit::Frames;
use tessera_npt::Visited;

/// Frames in use when the kernel started building the deployment (its
/// heap, page tables, stacks and per-CPU state), less those
/// `vm::tables::kernel_frames` counts, which the audit adds whenever they
/// were taken.
static BOOT_FRAMES: AtomicU64 = AtomicU64::new(0);

/// Notes the frames the kernel holds once it is up, before it makes the
/// first component: from then on, every other frame in use belongs to an
/// object or to the few things the kernel makes for itself
/// (`vm::tables::kernel_frames`: the permission maps and host VMCBs, which
/// bring-up may already have made; counting them here too would count
/// them twice).
pub fn note_boot_frames() {
    let in_use = frames::managed_frames() - frames::free_frames();
    let counted_apart = crate::vm::tables::kernel_frames();
    BOOT_FRAMES.store(in_use.saturating_sub(counted_apart), Ordering::Relaxed);
}

/// Slots of a kernel table and how many hold a live object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Table {
    pub slots: u64,
    pub live: u64,
}

impl Table {
    fn of<I: tessera_slots::SlotId, T>(table: &tessera_slots::Slots<I, T>) -> Self {
        Self {
            slots: u64::from(table.slots_used()),
            live: table.iter().count() as u64,
        }
    }
}

/// What the audit found.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    pub capabilities: Result<(), &'static str>,
    pub ipc: Result<(), &'static str>,
    pub nested: Result<(), nested::Problem>,
    pub frames: Frames,
    pub heap_used: u64,
    pub domains: Table,
    pub regions: Table,
    pub partitions: Table,
    pub vps: Table,
    pub threads: Table,
}

impl Report {
    /// The bits of `tessera_abi::audit::problem` that are set.
    pub fn problems(&self) -> u64 {
        let mut bits = 0;
        if self.capabilities.is_err() {
            bits |= problem::CAPABILITIES;
        }
        if self.ipc.is_err() {
            bits |= problem::IPC;
        }
        if self.nested.is_err() {
            bits |= problem::NESTED_TABLES;
        }
        if !self.frames.balanced() {
            bits |= problem::FRAMES;
        }
        bits
    }

    /// The report as `KernelAudit` returns it.
    pub fn to_words(self) -> [u64; words::WORDS] {
        let mut out = [0u64; words::WORDS];
        let f = &self.frames;
        let pairs = [
            (words::PROBLEMS, self.problems()),
            (words::FRAMES_TOTAL, f.total),
            (words::FRAMES_FREE, f.free),
            (words::FRAMES_KERNEL, f.kernel),
            (words::FRAMES_DOMAINS, f.domains),
            (words::FRAMES_REGIONS, f.regions),
            (words::FRAMES_PARTITIONS, f.partitions),
            (words::HEAP_USED, self.heap_used),
            (words::DOMAIN_SLOTS, self.domains.slots),
            (words::DOMAINS_LIVE, self.domains.live),
            (words::REGION_SLOTS, self.regions.slots),
            (words::REGIONS_LIVE, self.regions.live),
            (words::PARTITION_SLOTS, self.partitions.slots),
            (words::PARTITIONS_LIVE, self.partitions.live),
            (words::VP_SLOTS, self.vps.slots),
            (words::VPS_LIVE, self.vps.live),
            (words::THREAD_SLOTS, self.threads.slots),
            (words::THREADS_LIVE, self.threads.live),
        ];
        for (index, value) in pairs {
            out[index] = value;
        }
        out
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.problems() == 0 { "ok" } else { "FAILED" };
        let x = &self.frames;
        write!(
            f,
            "{verdict}: frames {} {} {} free + {} kernel + {} domains + {} regions + {} partitions; \
             heap {} KiB used",
            x.total,
            if x.balanced() { "=" } else { "!=" },
            x.free,
            x.kernel,
            x.domains,
            x.regions,
            x.partitions,
            self.heap_used / 1024
        )?;
        match self.capabilities {
            Ok(()) => f.write_str("; capabilities ok")?,
            Err(broken) => write!(f, "; capabilities BROKEN: {broken}")?,
        }
        match self.ipc {
            Ok(()) => f.write_str("; ipc ok")?,
            Err(broken) => write!(f, "; ipc BROKEN: {broken}")?,
        }
        match self.nested {
            Ok(()) => f.write_str("; nested tables ok")?,
            Err(broken) => write!(f, "; nested tables BROKEN: {broken}")?,
        }
        write!(f, "; live/slots:")?;
        let tables = [
            ("domains", self.domains),
            ("regions", self.regions),
            ("partitions", self.partitions),
            ("VPs", self.vps),
            ("threads", self.threads),
        ];
        for (name, table) in tables {
            write!(f, " {name} {}/{}", table.live, table.slots)?;
        }
        Ok(())
    }
}

/// Audits `kernel` (whose lock the caller holds).
pub fn run(kernel: &Kernel) -> Report {
    let domains: u64 = kernel
        .domains
        .iter()
        .map(|(_, d)| d.space.frames_held())
        .sum();
    let regions: u64 = kernel
        .regions
        .iter()
        .map(|(_, r)| r.frames().len() as u64)
        .sum();
    let frames = Frames {
        total: frames::managed_frames(),
        free: frames::free_frames(),
        kernel: BOOT_FRAMES.load(Ordering::Relaxed) + crate::vm::tables::kernel_frames(),
        domains,
        regions,
        partitions: partition_frames(kernel),
    };
    Report {
        capabilities: kernel.caps.audit(),
        ipc: kernel.ipc.audit(),
        nested: nested::check(kernel),
        frames,
        heap_used: heap::used_bytes(),
        domains: Table {
            slots: u64::from(kernel.domains.slots_used()),
            live: kernel
                .domains
                .iter()
                .filter(|(_, d)| d.ending.is_none())
                .count() as u64,
        },
        regions: Table::of(&kernel.regions),
        partitions: Table::of(&kernel.partitions),
        vps: Table::of(&kernel.vps),
        threads: Table {
            slots: kernel.threads.slot_count() as u64,
            live: kernel.threads.iter().filter(|(_, t)| !t.dead).count() as u64,
        },
    }
}

/// Nested tables, overlay pages, each VP's VMCB and message buffer
/// (`vm::lifecycle`: two charged frames per VP), and each VP's SIM and
/// SIEF frames (`vm::synic`).
fn partition_frames(kernel: &Kernel) -> u64 {
    let tables = crate::vm::tables::KernelTables::default();
    let mut held = 0;
    for (_, partition) in kernel.partitions.iter() {
        partition.space.npt().visit(&tables, &mut |visited| {
            if let Visited::Table(_) = visited {
                held += 1;
            }
        });
        // A SynIC page's frame is counted with its VP's SynIC, placed or not.
        held += partition
            .space
            .overlays()
            .filter(|o| !crate::vm::synic::is_synic_overlay(o.id))
            .count() as u64;
    }
    held + FRAMES_PER_VP * kernel.vps.iter().count() as u64 + kernel.synic_frames()
}

/// The frames a VP holds: its VMCB and its message buffer.
const FRAMES_PER_VP: u64 = 2;

/// Prints the audit at the end of a deployment; `false` if an invariant
/// is broken (the run then fails).
pub fn at_end(kernel: &Kernel) -> bool {
    // The exit statistics, if asked for, are reported at the same point
    // (`vm::exit_stats`): both callers of this are the deployment's end.
    crate::vm::exit_stats::report(kernel);
    let report = run(kernel);
    if report.problems() == 0 {
        log::info!("kernel audit: {report}");
        true
    } else {
        log::error!("kernel audit: {report}");
        false
    }
}
