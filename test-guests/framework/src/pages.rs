//! Guest-physical pages from the free RAM, through the loader's identity
//! map, read and written with volatile accesses: overlay pages (the SynIC's
//! SIM and SIEF pages, a hypercall's input and output) are what the
//! hypervisor lays over them, reads, or writes behind the guest's back.
#![allow(unsafe_code)]

use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::layout;

pub const PAGE: u64 = 0x1000;

static NEXT_FREE: AtomicU64 = AtomicU64::new(0);
static FREE_END: AtomicU64 = AtomicU64::new(0);

/// Takes the free RAM for [`alloc_page`].
pub fn init() -> bool {
    let Some(free) = layout::free_ram() else {
        return false;
    };
    NEXT_FREE.store(free.start.next_multiple_of(PAGE), Ordering::SeqCst);
    FREE_END.store(free.end, Ordering::SeqCst);
    true
}

/// A page of free RAM, never handed out twice.
pub fn alloc_page() -> Option<u64> {
    let page = NEXT_FREE.fetch_add(PAGE, Ordering::SeqCst);
    (page + PAGE <= FREE_END.load(Ordering::SeqCst)).then_some(page)
}

#[must_use]
pub fn read_u64(address: u64) -> u64 {
    // The callers read free RAM pages they took, or the overlays on them:
    // identity-mapped, backing no Rust object; the read is volatile.
    // SAFETY: by the argument just above.
    unsafe { ptr::with_exposed_provenance::<u64>(address as usize).read_volatile() }
}

pub fn write_u64(address: u64, value: u64) {
    // SAFETY: as for `read_u64`; the written memory backs no Rust object.
    unsafe { ptr::with_exposed_provenance_mut::<u64>(address as usize).write_volatile(value) }
}

/// Writes the 32 bits at `address` alone.
pub fn write_u32(address: u64, value: u32) {
    // SAFETY: as for `read_u64`; the written memory backs no Rust object.
    unsafe { ptr::with_exposed_provenance_mut::<u32>(address as usize).write_volatile(value) }
}

/// A SynIC message header's MessagePending flag (`HV_MESSAGE_FLAGS` bit 0,
/// the header's byte 5).
pub const MESSAGE_PENDING: u64 = 1 << 40;

/// Ends the message in the SynIC slot at `slot` as the TLFS recommends
/// (md `inter-partition-communication.md`, "Recommended message handling"):
/// the message type back to none, the 32-bit field alone, then whether
/// MessagePending is set, read after that write, so a flag the hypervisor
/// set while the message was being read is seen and not overwritten. `true`:
/// the guest owes an EOM.
#[must_use]
pub fn end_message(slot: u64) -> bool {
    write_u32(slot, 0);
    core::sync::atomic::fence(Ordering::SeqCst);
    read_u64(slot) & MESSAGE_PENDING != 0
}

/// Fills the page with words `word(index)`.
pub fn fill(page: u64, word: impl Fn(u64) -> u64) {
    for i in 0..PAGE / 8 {
        write_u64(page + 8 * i, word(i));
    }
}

/// The first word index where the page differs from `word(index)`.
#[must_use]
pub fn first_difference(page: u64, word: impl Fn(u64) -> u64) -> Option<u64> {
    (0..PAGE / 8).find(|&i| read_u64(page + 8 * i) != word(i))
}

/// The guest's marks on a RAM page: a word no overlay holds.
pub fn pattern(tag: u64) -> impl Fn(u64) -> u64 {
    move |i| 0x5A5A_0000_0000_0000 | tag << 32 | i
}
