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
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tessera_svm::{EventInjection, ExitCode};
use tessera_vcpu::GuestGprs;
use tessera_vcpu::cpuid::FixedLeaves;
use tessera_vcpu::decide::{self, Decision, ExitState};
use tessera_vcpu::exit_stats::{ExitCounts, ExitReason, Outcome};
use tessera_vcpu::instruction::Skipped;
use tessera_vcpu::route_ranges::{LockFreeRoutes, RouteRanges};

/// The hypercall codes whose routing the fast path reads as one bit each:
/// the spin wait and the event signal it answers.
static WATCHED_HYPERCALLS: [u32; 2] = [
    tlfs::HypercallCode::NOTIFY_LONG_SPIN_WAIT.0 as u32,
    tlfs::HypercallCode::SIGNAL_EVENT.0 as u32,
];
/// [`WATCHED_HYPERCALLS`]' index of `HvSignalEvent`.
const WATCHED_SIGNAL_EVENT: usize = 1;

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
    /// Its routes that post port writes, and their queues (`posted.rs`).
    pub posted: super::posted::PostedRoutes,
    /// What the lock-free `HvSignalEvent` reads (`synic_fast.rs`).
    pub synic: super::synic_fast::FastSynic,
    /// Whether a plain fast `HvSignalEvent` is answered here (its route
    /// aside): hypercalls are enabled, the policy accepts the call and the
    /// partition has a SynIC. Derived by the writers of the three.
    signals_answered: AtomicBool,
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
            posted: super::posted::PostedRoutes::default(),
            synic: super::synic_fast::FastSynic::default(),
            signals_answered: AtomicBool::new(false),
        }
    }
}

impl FastPartition {
    /// Records the partition's Hv#1 configuration (once, before any VP runs).
    pub fn set_hv1(&self, config: tessera_hv1::Hv1Config, policy: tessera_hv1::DispatchPolicy) {
        let (_, policy) = self.hv1.call_once(|| (config, policy));
        self.synic.set_policy(policy);
        self.derive_answers();
    }

    /// Records whether the guest enabled hypercalls (with the kernel lock
    /// held: one writer).
    pub fn set_hypercalls_enabled(&self, enabled: bool) {
        self.hypercalls_enabled.store(enabled, Ordering::Release);
        self.derive_answers();
    }

    /// The partition's SynIC came or went (`synic_fast::FastSynic`'s
    /// attach and detach, with the kernel lock held).
    pub fn synic_changed(&self) {
        self.derive_answers();
    }

    fn derive_answers(&self) {
        let enabled = self.hypercalls_enabled.load(Ordering::Relaxed);
        let answered = enabled && self.hypercall_policy().is_some_and(|p| p.long_spin_wait);
        self.spin_waits_answered.store(answered, Ordering::Release);
        let signals = self.synic.answers(enabled);
        self.signals_answered.store(signals, Ordering::Release);
    }

    /// The routes as the lock-free path sees them (`tessera_vcpu::decide`).
    #[inline(always)]
    pub fn routes(&self) -> LockFreeRoutes<'_> {
        LockFreeRoutes {
            cpuid: &self.cpuid_routes,
            ports: &self.port_routes,
        }
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
        return answer_hypercall(vmcb, gprs, partition, vp_index, unlocked)
            && counted(counts, ExitReason::Hypercall);
    }
    if code == ExitCode::IOIO {
        return ((partition.posted.any() && super::posted::post(vmcb, partition))
            || answer_decided(code, vmcb, gprs, partition, vp_index, unlocked))
            && counted(counts, ExitReason::IoPort);
    }
    if code == ExitCode::MSR {
        return super::lapic_fast::answer_msr(vmcb, gprs, unlocked)
            && counted(counts, ExitReason::Msr);
    }
    if code == ExitCode::INVD || code == ExitCode::WBINVD {
        return answer_decided_out_of_line(code, vmcb, gprs, partition, vp_index, unlocked)
            && counted(counts, ExitReason::CacheFlush);
    }
    false
}

/// Whether CPUID `leaf` is the locked path's: a route may take it, or the
/// VP's local APIC changes it (`lapic.rs`, `Vp::apic_cpuid`). Out of line,
/// so that its loop takes no registers from the VP's loop.
#[inline(never)]
fn cpuid_for_locked_path(partition: &FastPartition, leaf: u32) -> bool {
    partition.cpuid_routes.routes(leaf) != Some(false)
        || (partition.apic_leaves && super::lapic::APIC_LEAVES.contains(&leaf))
}

/// [`answer_decided`] for the exits that are not measured by the bench's
/// hot paths (CPUID leaves outside the table, INVD/WBINVD): one copy out of
/// the VP's loop keeps the registers of the hot paths free (measured: the
/// absent port and the fast hypercall each lose instructions to the
/// inlined copies).
#[inline(never)]
fn answer_decided_out_of_line(
    code: ExitCode,
    vmcb: &mut VpVmcb,
    gprs: &mut GuestGprs,
    partition: &FastPartition,
    vp_index: u32,
    unlocked: &mut Unlocked<'_>,
) -> bool {
    answer_decided(code, vmcb, gprs, partition, vp_index, unlocked)
}

/// Takes the decision the locked path takes too (`tessera_vcpu::decide`,
/// `decided.rs`), from the routes this partition publishes, and applies
/// it if it is an answer; anything else (a route, a stop, a view that
/// cannot tell) is left to the locked path.
#[inline]
fn answer_decided(
    code: ExitCode,
    vmcb: &mut VpVmcb,
    gprs: &mut GuestGprs,
    partition: &FastPartition,
    vp_index: u32,
    unlocked: &mut Unlocked<'_>,
) -> bool {
    let state = ExitState { code, vmcb, gprs };
    let decision = decide::decide(&state, &partition.routes(), |leaf, subleaf| {
        super::guest_cpu::partition_cpuid(Some(partition), leaf, subleaf, vp_index)
    });
    let Decision::Answer(answer) = decision else {
        return false;
    };
    let next_rip = if answer.measured() {
        match next_rip_unlocked(vmcb, unlocked) {
            Some(next_rip) => next_rip,
            None => return false,
        }
    } else {
        0
    };
    answer.apply(vmcb, gprs, next_rip);
    true
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
    // Any other leaf: the decision both paths take. (The table above is
    // that decision made once for the hottest leaves no route takes.) A
    // leaf a route takes, or one the VP's local APIC changes, is the locked
    // path's whatever the rest says: told here, before the call, so a
    // forwarded CPUID does not pay for it.
    if cpuid_for_locked_path(partition, leaf) {
        return false;
    }
    answer_decided_out_of_line(ExitCode::CPUID, vmcb, gprs, partition, vp_index, unlocked)
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
    vp_index: u32,
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
    // A plain fast event signal: the same two tests, then its own path.
    if gprs.rcx == tessera_hv1::dispatch::PLAIN_SIGNAL_EVENT
        && partition.signals_answered.load(Ordering::Acquire)
    {
        if partition
            .hypercall_routes
            .routes_watched(WATCHED_SIGNAL_EVENT)
        {
            return false;
        }
        return super::synic_fast::answer_signal(vmcb, gprs, partition, vp_index, unlocked);
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
