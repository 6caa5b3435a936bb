//! The exits a VP answers without the kernel lock.
//!
//! A CPUID that no route takes is the hottest exit a guest makes and needs
//! nothing but the VP's own VMCB and registers, which are this CPU's while
//! the VP runs. What it needs of its partition — whether a route takes the
//! leaf, and whether translations were taken away — is published here with
//! atomics by the (locked) code that changes it, so the VP can re-enter the
//! guest straight from the exit.
use super::VpVmcb;
use super::guest_cpu::FixedCpuid;
use super::skip::{Unlocked, complete_past, next_rip_past, next_rip_unlocked};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use tessera_svm::{EventInjection, ExitCode};
use tessera_vcpu::GuestGprs;
use tessera_vcpu::cpuid::FixedLeaves;
use tessera_vcpu::exit_stats::{ExitCounts, ExitReason, Outcome};
use tessera_vcpu::instruction::Skipped;

/// Routes a lock-free reader can check; more than this and the fast path
/// defers every exit of that kind to the locked one.
const FAST_ROUTES: usize = 16;

/// The ranges of one kind of route, readable without the lock: append-only,
/// with the count published (Release) after the range it counts. A few
/// values may be watched: whether a route takes each is then one bit.
#[derive(Debug)]
pub struct RouteRanges {
    first: [AtomicU32; FAST_ROUTES],
    last: [AtomicU32; FAST_ROUTES],
    count: AtomicUsize,
    /// The values whose routing `watched_routes` tells in one load.
    watched: &'static [u32],
    /// Bit `i`: a route takes `watched[i]`.
    watched_routes: AtomicU32,
}

impl Default for RouteRanges {
    fn default() -> Self {
        Self::watching(&[])
    }
}

impl RouteRanges {
    /// Ranges for which whether a route takes each of `watched` (at most
    /// 32) is kept as a bit.
    pub fn watching(watched: &'static [u32]) -> Self {
        assert!(watched.len() <= 32, "one bit per watched value");
        Self {
            first: [const { AtomicU32::new(0) }; FAST_ROUTES],
            last: [const { AtomicU32::new(0) }; FAST_ROUTES],
            count: AtomicUsize::new(0),
            watched,
            watched_routes: AtomicU32::new(0),
        }
    }

    /// Records a range (called with the kernel lock held: one writer).
    pub fn add(&self, first: u32, last: u32) {
        let covered = self
            .watched
            .iter()
            .enumerate()
            .filter(|(_, value)| (first..=last).contains(value))
            .fold(0, |bits, (index, _)| bits | 1 << index);
        // Before the count: a reader that sees the range counted sees its
        // bits (both are Release, read with Acquire).
        self.watched_routes.fetch_or(covered, Ordering::Release);
        let count = self.count.load(Ordering::Relaxed);
        if count < FAST_ROUTES {
            self.first[count].store(first, Ordering::Relaxed);
            self.last[count].store(last, Ordering::Relaxed);
        }
        // Past the capacity the count still grows: readers then know they
        // cannot decide and take the locked path.
        self.count.store(count + 1, Ordering::Release);
    }

    /// `Some(routed)`, or `None` when the fast path cannot tell.
    fn routes(&self, value: u32) -> Option<bool> {
        let count = self.count.load(Ordering::Acquire);
        if count > FAST_ROUTES {
            return None;
        }
        Some((0..count).any(|i| {
            let first = self.first[i].load(Ordering::Relaxed);
            let last = self.last[i].load(Ordering::Relaxed);
            (first..=last).contains(&value)
        }))
    }

    /// Whether a route takes watched value `index` (every route counts,
    /// even past the capacity).
    #[inline(always)]
    fn routes_watched(&self, index: usize) -> bool {
        self.watched_routes.load(Ordering::Acquire) & (1 << index) != 0
    }
}

/// The hypercall codes whose routing the fast path reads as one bit: the
/// spin wait it answers.
static WATCHED_HYPERCALLS: [u32; 1] = [tlfs::HypercallCode::NOTIFY_LONG_SPIN_WAIT.0 as u32];

/// The next partition's serial: unique for the kernel's life (an index is
/// reused once a partition is reaped; a serial never is).
static SERIALS: AtomicU64 = AtomicU64::new(1);

/// What a running VP reads of its partition without the lock.
#[derive(Debug)]
pub struct FastPartition {
    /// Tells this partition from every other, ever (`barrier.rs`).
    pub serial: u64,
    /// Bumped (under the lock) whenever a translation is taken away; a VP
    /// that saw an older value flushes its TLB before it runs again.
    pub tlb_generation: AtomicU64,
    pub cpuid_routes: RouteRanges,
    pub port_routes: RouteRanges,
    pub hypercall_routes: RouteRanges,
    /// The Hv#1 configuration and the hypercall policy it implies, set
    /// once before any VP starts.
    hv1: spin::Once<(tessera_hv1::Hv1Config, tessera_hv1::DispatchPolicy)>,
    /// Whether the guest enabled hypercalls (its hypercall page), kept in
    /// step with the partition's synthetic MSRs (`set_hypercalls_enabled`).
    hypercalls_enabled: AtomicBool,
    /// Whether a plain fast `HvCallNotifyLongSpinWait` completes here (no
    /// route aside): hypercalls are enabled and the configuration answers
    /// spin waits. Derived from the two by the only writers of either.
    spin_waits_answered: AtomicBool,
    /// Its VPs have a local APIC: the CPUID leaves that describe it
    /// (`lapic::APIC_LEAVES`, but leaf 1: each VP's fixed table has it)
    /// take the locked path. Set before the partition has any VP.
    pub apic_leaves: bool,
    /// The invariant-TSC control, for CPUID (`time.rs`).
    pub time: super::time::FastTime,
}

impl Default for FastPartition {
    fn default() -> Self {
        Self {
            serial: SERIALS.fetch_add(1, Ordering::Relaxed),
            tlb_generation: AtomicU64::new(1),
            cpuid_routes: RouteRanges::watching(&FixedLeaves::LEAVES),
            port_routes: RouteRanges::default(),
            hypercall_routes: RouteRanges::watching(&WATCHED_HYPERCALLS),
            hv1: spin::Once::new(),
            hypercalls_enabled: AtomicBool::new(false),
            spin_waits_answered: AtomicBool::new(false),
            apic_leaves: false,
            time: super::time::FastTime::default(),
        }
    }
}

impl FastPartition {
    /// Records the partition's Hv#1 configuration (once, before any VP runs).
    pub fn set_hv1(&self, config: tessera_hv1::Hv1Config, policy: tessera_hv1::DispatchPolicy) {
        self.hv1.call_once(|| (config, policy));
        self.derive_spin_waits();
    }

    /// Records whether the guest enabled hypercalls (with the kernel lock
    /// held: one writer).
    pub fn set_hypercalls_enabled(&self, enabled: bool) {
        self.hypercalls_enabled.store(enabled, Ordering::Release);
        self.derive_spin_waits();
    }

    fn derive_spin_waits(&self) {
        let enabled = self.hypercalls_enabled.load(Ordering::Relaxed);
        let answered = enabled && self.hypercall_policy().is_some_and(|p| p.long_spin_wait);
        self.spin_waits_answered.store(answered, Ordering::Release);
    }

    pub fn hv1(&self) -> Option<&tessera_hv1::Hv1Config> {
        self.hv1.get().map(|(config, _)| config)
    }

    fn hypercall_policy(&self) -> Option<&tessera_hv1::DispatchPolicy> {
        self.hv1.get().map(|(_, policy)| policy)
    }
}

/// Answers the exit in `vmcb` (whose code is `code`) if it is a CPUID no
/// route takes, or a fast hypercall that needs nothing but registers, and
/// counts it in `counts`; `false` leaves it (untouched, uncounted) to the
/// locked path.
///
/// An exit that completes an instruction moves RIP past it
/// (`skip::next_rip_unlocked`, reading guest memory through `npt_root`);
/// if the bytes there are not that instruction, the locked path decides.
///
/// Inlined into the VP's loop (`run.rs`): it runs on every exit. The
/// exits are tested one by one, CPUID first, rather than through a table.
// Each argument is a register of the VP's loop; bundling them in a struct
// costs the CPUID and hypercall paths 1 to 3 instructions (measured).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn answer(
    code: ExitCode,
    vmcb: &mut VpVmcb,
    gprs: &mut GuestGprs,
    partition: &FastPartition,
    vp_index: u32,
    unlocked: &mut Unlocked<'_>,
    counts: &ExitCounts,
    fixed_cpuid: &FixedCpuid,
) -> bool {
    if vmcb.control.exit_int_info.valid() {
        return false;
    }
    // Each answered exit counts in its own arm: a constant counter each.
    if code == ExitCode::CPUID {
        return answer_cpuid(vmcb, gprs, partition, vp_index, unlocked, fixed_cpuid)
            && counted(counts, ExitReason::Cpuid);
    }
    if code == ExitCode::VMMCALL {
        return answer_hypercall(vmcb, gprs, partition, unlocked)
            && counted(counts, ExitReason::Hypercall);
    }
    if code == ExitCode::IOIO {
        return answer_absent_port(vmcb, partition) && counted(counts, ExitReason::IoPort);
    }
    if code == ExitCode::MSR {
        return super::lapic_fast::answer_msr(vmcb, gprs, unlocked)
            && counted(counts, ExitReason::Msr);
    }
    if code == ExitCode::INVD || code == ExitCode::WBINVD {
        // INVD would drop the host's dirty cache lines, WBINVD flush
        // every partition's; the guest cannot tell either from nothing
        // (`exits.rs`).
        let Some(next) = next_rip_unlocked(vmcb, unlocked) else {
            return false;
        };
        *vmcb.rip_mut() = next;
        *vmcb.event_inj_mut() = EventInjection::NONE;
        return counted(counts, ExitReason::CacheFlush);
    }
    false
}

/// Counts an exit of `reason` answered here; `true`.
#[inline(always)]
fn counted(counts: &ExitCounts, reason: ExitReason) -> bool {
    counts.count(reason, Outcome::KernelFast);
    true
}

#[inline(always)]
fn answer_cpuid(
    vmcb: &mut VpVmcb,
    gprs: &mut GuestGprs,
    partition: &FastPartition,
    vp_index: u32,
    unlocked: &mut Unlocked<'_>,
    fixed_cpuid: &FixedCpuid,
) -> bool {
    let leaf = vmcb.save.rax as u32;
    // The hottest leaves: one bit says no route takes them, and the VP's
    // answers are in a table made with it, copied straight to the guest's
    // registers.
    if let Some(index) = FixedLeaves::index(leaf)
        && !partition.cpuid_routes.routes_watched(index)
    {
        return complete_past(Skipped::Cpuid, vmcb, unlocked, |vmcb, next_rip| {
            let [rax, rbx, rcx, rdx] = &fixed_cpuid[index & 3];
            *vmcb.event_inj_mut() = EventInjection::NONE;
            *vmcb.rax_mut() = *rax;
            gprs.rbx = *rbx;
            gprs.rcx = *rcx;
            gprs.rdx = *rdx;
            *vmcb.rip_mut() = next_rip;
            true
        });
    }
    if partition.cpuid_routes.routes(leaf) != Some(false)
        || (partition.apic_leaves && super::lapic::APIC_LEAVES.contains(&leaf))
    {
        return false;
    }
    let Some(next_rip) = next_rip_past(Skipped::Cpuid, vmcb, unlocked) else {
        return false;
    };
    let subleaf = gprs.rcx as u32;
    let [eax, ebx, ecx, edx] =
        super::guest_cpu::partition_cpuid(Some(partition), leaf, subleaf, vp_index);
    *vmcb.event_inj_mut() = EventInjection::NONE;
    *vmcb.rax_mut() = u64::from(eax);
    gprs.rbx = u64::from(ebx);
    gprs.rcx = u64::from(ecx);
    gprs.rdx = u64::from(edx);
    *vmcb.rip_mut() = next_rip;
    true
}

/// A 64-bit hypercall whose whole work is in registers and needs no
/// kernel state (HvCallNotifyLongSpinWait, and any call refused on its
/// input value alone): answered here, through `register_only`, which
/// agrees with the full dispatcher. Flushes, memory parameters and
/// anything forwarded take the locked path.
#[inline(always)]
fn answer_hypercall(
    vmcb: &mut VpVmcb,
    gprs: &mut GuestGprs,
    partition: &FastPartition,
    unlocked: &mut Unlocked<'_>,
) -> bool {
    use tessera_hv1::hypercall::{Caller, HypercallRegisters};
    let save = &vmcb.save;
    // Only a 64-bit caller at CPL 0 (the others need the full checks).
    let long_mode = save.efer & (1 << 10) != 0 && save.cs.attrib.l() && save.cr0 & 1 != 0;
    if save.cpl != 0 || !long_mode {
        return false;
    }
    // The spin wait, first: one flag says the partition answers it, one
    // bit that no route takes it (a routed call code is a component's,
    // even where the kernel has a handler:
    // tessera_abi::vm::intercept::HYPERCALL).
    if gprs.rcx == tessera_hv1::dispatch::PLAIN_SPIN_WAIT
        && partition.spin_waits_answered.load(Ordering::Acquire)
    {
        if partition.hypercall_routes.routes_watched(0) {
            return false;
        }
        return complete_past(Skipped::Vmmcall, vmcb, unlocked, |vmcb, next_rip| {
            // HV_STATUS_SUCCESS with no reps: result value 0.
            *vmcb.rax_mut() = 0;
            *vmcb.rip_mut() = next_rip;
            *vmcb.event_inj_mut() = EventInjection::NONE;
            true
        });
    }
    let Some(policy) = partition.hypercall_policy() else {
        return false;
    };
    if partition
        .hypercall_routes
        .routes(u32::from(gprs.rcx as u16))
        != Some(false)
    {
        return false;
    }
    let enabled = partition.hypercalls_enabled.load(Ordering::Acquire);
    let caller = Caller::KERNEL64;
    let mut registers = HypercallRegisters {
        rax: save.rax,
        rbx: gprs.rbx,
        rcx: gprs.rcx,
        rdx: gprs.rdx,
        rsi: gprs.rsi,
        rdi: gprs.rdi,
        r8: gprs.r8,
    };
    let Some(completion) =
        tessera_hv1::dispatch::register_only(caller, &registers, policy, enabled)
    else {
        return false;
    };
    let Some(next_rip) = next_rip_past(Skipped::Vmmcall, vmcb, unlocked) else {
        return false;
    };
    completion.apply(&mut registers);
    *vmcb.rax_mut() = registers.rax;
    gprs.rcx = registers.rcx;
    gprs.rdx = registers.rdx;
    if completion.writeback.advance_rip {
        *vmcb.rip_mut() = next_rip;
    }
    *vmcb.event_inj_mut() = EventInjection::NONE;
    true
}

/// Port I/O no route takes: the empty bus (reads all ones, writes go
/// nowhere), as the locked path answers it too. String I/O is left to the
/// locked path, which refuses it.
fn answer_absent_port(vmcb: &mut VpVmcb, partition: &FastPartition) -> bool {
    let info = tessera_svm::ioio::IoioExitInfo::from_bits(vmcb.control.exit_info1);
    let Ok(access) = info.decode() else {
        return false;
    };
    if access.string || partition.port_routes.routes(u32::from(access.port)) != Some(false) {
        return false;
    }
    if access.is_in {
        let rax = vmcb.rax_mut();
        *rax = match access.size.bytes() {
            1 => *rax | 0xFF,
            2 => *rax | 0xFFFF,
            _ => 0xFFFF_FFFF,
        };
    }
    *vmcb.rip_mut() = vmcb.control.exit_info2;
    *vmcb.event_inj_mut() = EventInjection::NONE;
    true
}
