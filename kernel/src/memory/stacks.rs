//! Kernel stacks, each below an unmapped guard page so an overflow faults
//! instead of overwriting its neighbour.
use super::{KERNEL_STACKS_BASE, paging};
use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::VirtAddr;

/// Every stack gets a slot of this size: guard page plus up to 124 KiB.
const SLOT_SIZE: u64 = 128 << 10;
const GUARD: u64 = 4096;

static NEXT_SLOT: AtomicU64 = AtomicU64::new(0);

/// A new stack of `pages` 4 KiB pages; returns its top (16-byte aligned).
pub fn allocate(pages: u64) -> VirtAddr {
    assert!(
        pages * 4096 + GUARD <= SLOT_SIZE,
        "a kernel stack of {pages} pages exceeds a slot"
    );
    let slot = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
    let slot_start = KERNEL_STACKS_BASE + slot * SLOT_SIZE;
    let top = slot_start + SLOT_SIZE;
    let bottom = top - pages * 4096;
    paging::map_fresh_kernel_pages(VirtAddr::new(bottom), pages);
    VirtAddr::new(top)
}
