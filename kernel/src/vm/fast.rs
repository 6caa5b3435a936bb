//! The exits a VP answers without the kernel lock.
//!
//! A CPUID that no route takes is the hottest exit a guest makes and needs
//! nothing but the VP's own VMCB and registers, which are this CPU's while
//! the VP runs. What it needs of its partition — whether a route takes the
//! leaf, and whether translations were taken away — is published here with
//! atomics by the (locked) code that changes it, so the VP can re-enter the
//! guest straight from the exit.
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use tessera_svm::{EventInjection, ExitCode, Vmcb};
use tessera_vcpu::{GuestGprs, cpuid, length};

/// Routes a lock-free reader can check; more than this and the fast path
/// defers every CPUID to the locked one.
const FAST_ROUTES: usize = 16;

/// What a running VP reads of its partition without the lock.
#[derive(Debug)]
pub struct FastPartition {
    /// Bumped (under the lock) whenever a translation is taken away; a VP
    /// that saw an older value flushes its TLB before it runs again.
    pub tlb_generation: AtomicU64,
    cpuid_first: [AtomicU32; FAST_ROUTES],
    cpuid_last: [AtomicU32; FAST_ROUTES],
    /// Published with Release after the range it counts is written; the
    /// ranges are append-only, so a reader sees whole ranges.
    cpuid_routes: AtomicUsize,
    /// The Hv#1 configuration, set once before any VP starts.
    hv1: spin::Once<tessera_hv1::Hv1Config>,
    /// Whether the guest enabled hypercalls (its hypercall page), kept in
    /// step with the partition's synthetic MSRs.
    pub hypercalls_enabled: core::sync::atomic::AtomicBool,
}

impl Default for FastPartition {
    fn default() -> Self {
        Self {
            tlb_generation: AtomicU64::new(1),
            cpuid_first: [const { AtomicU32::new(0) }; FAST_ROUTES],
            cpuid_last: [const { AtomicU32::new(0) }; FAST_ROUTES],
            cpuid_routes: AtomicUsize::new(0),
            hv1: spin::Once::new(),
            hypercalls_enabled: core::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl FastPartition {
    /// Records the partition's Hv#1 configuration (once, before any VP runs).
    pub fn set_hv1(&self, config: tessera_hv1::Hv1Config) {
        self.hv1.call_once(|| config);
    }

    pub fn hv1(&self) -> Option<&tessera_hv1::Hv1Config> {
        self.hv1.get()
    }

    /// Records a CPUID route (called with the kernel lock held: one writer).
    pub fn add_cpuid_route(&self, first: u32, last: u32) {
        let count = self.cpuid_routes.load(Ordering::Relaxed);
        if count < FAST_ROUTES {
            self.cpuid_first[count].store(first, Ordering::Relaxed);
            self.cpuid_last[count].store(last, Ordering::Relaxed);
        }
        // Past the capacity the count still grows: readers then know they
        // cannot decide and take the locked path.
        self.cpuid_routes.store(count + 1, Ordering::Release);
    }

    /// `Some(routed)`, or `None` when the fast path cannot tell.
    fn cpuid_routed(&self, leaf: u32) -> Option<bool> {
        let count = self.cpuid_routes.load(Ordering::Acquire);
        if count > FAST_ROUTES {
            return None;
        }
        Some((0..count).any(|i| {
            let first = self.cpuid_first[i].load(Ordering::Relaxed);
            let last = self.cpuid_last[i].load(Ordering::Relaxed);
            (first..=last).contains(&leaf)
        }))
    }
}

/// Answers the exit in `vmcb` if it is a CPUID no route takes, or a fast
/// hypercall that needs nothing but registers; `false` leaves it
/// (untouched) to the locked path.
pub fn answer(vmcb: &mut Vmcb, gprs: &mut GuestGprs, partition: &FastPartition, vp_index: u32) -> bool {
    let control = &vmcb.control;
    if control.exit_int_info.valid() {
        return false;
    }
    match control.exit_code {
        ExitCode::CPUID => answer_cpuid(vmcb, gprs, partition, vp_index),
        ExitCode::VMMCALL => answer_hypercall(vmcb, gprs, partition),
        // INVD would drop the host's dirty cache lines; the guest cannot
        // tell a write-back (nothing at all, here) from it.
        ExitCode::INVD => {
            vmcb.save.rip = vmcb.save.rip.wrapping_add(2);
            vmcb.control.event_inj = EventInjection::NONE;
            true
        }
        _ => false,
    }
}

fn answer_cpuid(vmcb: &mut Vmcb, gprs: &mut GuestGprs, partition: &FastPartition, vp_index: u32) -> bool {
    let control = &vmcb.control;
    let leaf = vmcb.save.rax as u32;
    if partition.cpuid_routed(leaf) != Some(false) {
        return false;
    }
    let Some(next_rip) = length::next_rip(ExitCode::CPUID, vmcb.save.rip, control.next_rip) else {
        return false;
    };
    let subleaf = gprs.rcx as u32;
    let [eax, ebx, ecx, edx] = super::hv1::cpuid_leaf(partition.hv1(), leaf).unwrap_or_else(|| {
        let host = raw_cpuid::native_cpuid::cpuid_count(leaf, subleaf);
        cpuid::filter(leaf, subleaf, [host.eax, host.ebx, host.ecx, host.edx], vp_index)
    });
    vmcb.save.rax = u64::from(eax);
    gprs.rbx = u64::from(ebx);
    gprs.rcx = u64::from(ecx);
    gprs.rdx = u64::from(edx);
    vmcb.save.rip = next_rip;
    vmcb.control.event_inj = EventInjection::NONE;
    true
}

/// Guest memory for a fast hypercall: there is none, and touching it sends
/// the call to the locked path (`touched`).
struct NoMemory {
    touched: core::cell::Cell<bool>,
}

impl tessera_hv1::hypercall::GuestMemory for NoMemory {
    fn read(&self, _: u64, _: &mut [u8]) -> Result<(), tessera_hv1::hypercall::GpaError> {
        self.touched.set(true);
        Err(tessera_hv1::hypercall::GpaError::Inaccessible)
    }

    fn write(&mut self, _: u64, _: &[u8]) -> Result<(), tessera_hv1::hypercall::GpaError> {
        self.touched.set(true);
        Err(tessera_hv1::hypercall::GpaError::Inaccessible)
    }
}

struct NoXmm {
    touched: core::cell::Cell<bool>,
}

impl tessera_hv1::hypercall::XmmRegisters for NoXmm {
    fn xmm(&self, _: usize) -> u128 {
        self.touched.set(true);
        0
    }
}

/// A 64-bit hypercall whose whole work is in registers and needs no
/// kernel state (HvCallNotifyLongSpinWait, and any call refused on its
/// input value alone): answered here. Flushes, memory parameters and
/// anything forwarded take the locked path.
fn answer_hypercall(vmcb: &mut Vmcb, gprs: &mut GuestGprs, partition: &FastPartition) -> bool {
    use tessera_hv1::dispatch::{Action, Outcome};
    use tessera_hv1::hypercall::{Caller, CpuMode, HypercallRegisters};
    let Some(config) = partition.hv1() else {
        return false;
    };
    let save = &vmcb.save;
    let caller = Caller {
        cpl: save.cpl & 3,
        mode: CpuMode::from_state(save.cr0 & 1 != 0, false, save.efer & (1 << 10) != 0, save.cs.attrib.l()),
    };
    if caller != Caller::KERNEL64 {
        return false;
    }
    let mut registers = HypercallRegisters {
        rax: save.rax,
        rbx: gprs.rbx,
        rcx: gprs.rcx,
        rdx: gprs.rdx,
        rsi: gprs.rsi,
        rdi: gprs.rdi,
        r8: gprs.r8,
    };
    let mut memory = NoMemory { touched: core::cell::Cell::new(false) };
    let xmm = NoXmm { touched: core::cell::Cell::new(false) };
    let mut policy = tessera_hv1::DispatchPolicy::from_config(config);
    policy.physical_address_bits = super::hv1::GPA_BITS;
    let enabled = partition.hypercalls_enabled.load(Ordering::Acquire);
    let outcome = tessera_hv1::dispatch(caller, &registers, &xmm, &mut memory, &policy, enabled);
    if memory.touched.get() || xmm.touched.get() {
        return false;
    }
    let Outcome::Complete(completion) = outcome else {
        return false;
    };
    if !matches!(completion.action, Action::None | Action::LongSpinWait) || completion.fast_output.is_some() {
        return false;
    }
    completion.apply(&mut registers);
    vmcb.save.rax = registers.rax;
    gprs.rcx = registers.rcx;
    gprs.rdx = registers.rdx;
    gprs.r8 = registers.r8;
    if completion.writeback.advance_rip {
        vmcb.save.rip = vmcb.save.rip.wrapping_add(3);
    }
    vmcb.control.event_inj = EventInjection::NONE;
    true
}
