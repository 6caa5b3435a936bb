//! Taking a mapping back from a domain that may be running on other CPUs.
//!
//! After pages are unmapped from a domain, no CPU may go on using a cached
//! translation of them. A CPU that has the domain's address space loaded is
//! either in ring 3 now — it gets a flush interrupt, handled without the
//! kernel lock, and the unmapping CPU waits for it — or in the kernel, in
//! which case it flushes on its way back out (`leaving_kernel`). A CPU that
//! loads another address space drops the old translations anyway.
use crate::arch::apic;
use crate::arch::exceptions::VECTOR_FLUSH;
use crate::state::Kernel;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tessera_capability::{DomainId, PartitionId};
use x86_64::registers::control::Cr3;

/// The CPUs this protocol (and so the kernel) supports.
pub const MAX_CPUS: usize = 64;

static IN_USER: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
static FLUSH_PENDING: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
static REQUESTED: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static DONE: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// The address-space root each CPU has loaded (physical address).
static LOADED_ROOT: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

fn reload() {
    let (root, flags) = Cr3::read();
    // SAFETY: loading the same root again changes no mapping; it drops the
    // non-global cached translations, which is the point.
    unsafe { Cr3::write(root, flags) };
}

/// Every entry from ring 3 says so first, before it takes the kernel lock.
pub fn entered_kernel(cpu: usize) {
    IN_USER[cpu].store(false, Ordering::SeqCst);
}

/// Every return to ring 3 says so last, with the kernel lock still held, and
/// flushes if a shoot-down happened while this CPU was in the kernel.
#[inline]
pub fn leaving_kernel(cpu: usize, root: u64) {
    LOADED_ROOT[cpu].store(root, Ordering::Relaxed);
    if FLUSH_PENDING[cpu].swap(false, Ordering::SeqCst) {
        reload();
    }
    IN_USER[cpu].store(true, Ordering::SeqCst);
}

/// Whether a CPU other than `this_cpu` may still use the address space with
/// root `root` (it last entered ring 3 with it and has not loaded another
/// since). Called with the kernel lock held.
pub fn root_in_use_elsewhere(root: u64, cpus: usize, this_cpu: usize) -> bool {
    (0..cpus.min(MAX_CPUS))
        .filter(|&cpu| cpu != this_cpu)
        .any(|cpu| LOADED_ROOT[cpu].load(Ordering::SeqCst) == root)
}

/// Loads the kernel's own root on this CPU if a component's is loaded:
/// what an idle CPU does, so an ended domain's root can be freed. Called
/// with the kernel lock released and interrupts off.
pub fn unload_user_root(cpu: usize) {
    let kernel_root = crate::memory::paging::kernel_root();
    if Cr3::read().0 != kernel_root {
        // SAFETY: the kernel's root maps the kernel's half (this code, its
        // stack and data) as every component root does.
        unsafe { Cr3::write(kernel_root, x86_64::registers::control::Cr3Flags::empty()) };
    }
    LOADED_ROOT[cpu].store(kernel_root.start_address().as_u64(), Ordering::SeqCst);
}

/// The flush interrupt: runs without the kernel lock (the CPU that sent it
/// holds it and waits for this).
pub fn on_flush_interrupt(cpu: usize) {
    reload();
    DONE[cpu].store(REQUESTED[cpu].load(Ordering::SeqCst), Ordering::SeqCst);
}

/// After unmapping pages of `domain`: no CPU keeps a translation of them.
/// Called with the kernel lock held.
pub fn shoot_down(kernel: &Kernel, domain: DomainId, this_cpu: usize) {
    let Some(record) = kernel.domains.get(domain) else {
        return;
    };
    let space = &record.space;
    space.flush_if_active();
    let root = space.root().start_address().as_u64();
    for cpu in (0..kernel.sched.cpus().min(MAX_CPUS)).filter(|&cpu| cpu != this_cpu) {
        if LOADED_ROOT[cpu].load(Ordering::Relaxed) != root {
            continue;
        }
        FLUSH_PENDING[cpu].store(true, Ordering::SeqCst);
        if !IN_USER[cpu].load(Ordering::SeqCst) {
            continue;
        }
        let request = REQUESTED[cpu].fetch_add(1, Ordering::SeqCst) + 1;
        apic::send_fixed(kernel.sched.apic_id(cpu), VECTOR_FLUSH);
        // It flushes in the interrupt, or, if it entered the kernel first,
        // on its way out (FLUSH_PENDING): either way it is safe to go on.
        while DONE[cpu].load(Ordering::SeqCst) < request && IN_USER[cpu].load(Ordering::SeqCst) {
            core::hint::spin_loop();
        }
    }
}

/// Per CPU: the partition whose guest it runs (`tag`), or 0.
static IN_GUEST: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// A partition as one non-zero word.
fn tag(partition: PartitionId) -> u64 {
    partition.raw().to_word() + 1
}

/// Just before VMRUN, with the kernel lock held.
pub fn entering_guest(cpu: usize, partition: PartitionId) {
    IN_GUEST[cpu].store(tag(partition), Ordering::SeqCst);
}

/// Right after #VMEXIT, before the kernel lock is taken again.
pub fn left_guest(cpu: usize) {
    IN_GUEST[cpu].store(0, Ordering::SeqCst);
}

/// After translations of `partition` were removed (and its TLB generation
/// bumped): every CPU running one of its VPs is made to leave the guest,
/// and this returns once none still runs on the old translations. Each VP
/// flushes its TLB when it next enters (it sees the new generation).
/// Called with the kernel lock held.
pub fn shoot_down_partition(kernel: &Kernel, partition: PartitionId, this_cpu: usize) {
    let tag = tag(partition);
    for cpu in (0..kernel.sched.cpus().min(MAX_CPUS)).filter(|&cpu| cpu != this_cpu) {
        if IN_GUEST[cpu].load(Ordering::SeqCst) != tag {
            continue;
        }
        apic::send_fixed(
            kernel.sched.apic_id(cpu),
            crate::arch::exceptions::VECTOR_WAKEUP,
        );
        // The interrupt ends the guest (INTR intercept); the CPU clears its
        // flag before it takes the lock this CPU holds.
        while IN_GUEST[cpu].load(Ordering::SeqCst) == tag {
            core::hint::spin_loop();
        }
    }
}
