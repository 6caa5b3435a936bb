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
}

impl Default for FastPartition {
    fn default() -> Self {
        Self {
            tlb_generation: AtomicU64::new(1),
            cpuid_first: [const { AtomicU32::new(0) }; FAST_ROUTES],
            cpuid_last: [const { AtomicU32::new(0) }; FAST_ROUTES],
            cpuid_routes: AtomicUsize::new(0),
        }
    }
}

impl FastPartition {
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

/// Answers the exit in `vmcb` if it is a CPUID no route takes; `false`
/// leaves it (untouched) to the locked path.
pub fn answer(vmcb: &mut Vmcb, gprs: &mut GuestGprs, partition: &FastPartition, vp_index: u32) -> bool {
    let control = &vmcb.control;
    if control.exit_code != ExitCode::CPUID || control.exit_int_info.valid() {
        return false;
    }
    let leaf = vmcb.save.rax as u32;
    if partition.cpuid_routed(leaf) != Some(false) {
        return false;
    }
    let Some(next_rip) = length::next_rip(ExitCode::CPUID, vmcb.save.rip, control.next_rip) else {
        return false;
    };
    let subleaf = gprs.rcx as u32;
    let host = raw_cpuid::native_cpuid::cpuid_count(leaf, subleaf);
    let [eax, ebx, ecx, edx] =
        cpuid::filter(leaf, subleaf, [host.eax, host.ebx, host.ecx, host.edx], vp_index);
    vmcb.save.rax = u64::from(eax);
    gprs.rbx = u64::from(ebx);
    gprs.rcx = u64::from(ecx);
    gprs.rdx = u64::from(edx);
    vmcb.save.rip = next_rip;
    vmcb.control.event_inj = EventInjection::NONE;
    true
}
