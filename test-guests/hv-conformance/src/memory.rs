//! Guest-physical memory: pages taken from the free RAM, byte access to
//! them through the loader's identity map, and a scratch area of 4 KiB
//! mappings in the guest's own page tables (for the hypercall page, ring-3
//! code, the APIC and the TLB flush checks).
//!
//! Everything here is raw memory that no Rust object occupies, accessed
//! with volatile reads and writes: overlay pages (hypercall page, reference
//! TSC page, VP assist page) can change under the guest's feet.
#![allow(unsafe_code)]

use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering};

use tessera_guest_framework::{Caught, cpu, layout};

use crate::trap::{guarded, guarded_asm};

pub const PAGE: u64 = 0x1000;
const ADDRESS_MASK: u64 = 0x000F_FFFF_FFFF_F000;
const PRESENT: u64 = 1 << 0;
const WRITABLE: u64 = 1 << 1;
const USER: u64 = 1 << 2;
const WRITE_THROUGH: u64 = 1 << 3;
const CACHE_DISABLE: u64 = 1 << 4;

static NEXT_FREE: AtomicU64 = AtomicU64::new(0);
static FREE_END: AtomicU64 = AtomicU64::new(0);

/// Takes the free RAM (between the image and the loader's tables) for
/// [`alloc_page`]. Call before anything moves the GDT.
pub fn init() -> Option<core::ops::Range<u64>> {
    let free = layout::free_ram()?;
    NEXT_FREE.store(free.start, Ordering::SeqCst);
    FREE_END.store(free.end, Ordering::SeqCst);
    Some(free)
}

/// A zeroed page of free RAM, never handed out twice.
pub fn alloc_page() -> Option<u64> {
    let page = NEXT_FREE.fetch_add(PAGE, Ordering::SeqCst);
    if page + PAGE > FREE_END.load(Ordering::SeqCst) {
        return None;
    }
    fill(page, |_| 0);
    Some(page)
}

/// A volatile read of the 64-bit word at identity-mapped `address`.
#[must_use]
pub fn read_u64(address: u64) -> u64 {
    // The callers read free RAM pages they allocated, overlays on
    // them, the loader's page tables, or the scratch area; all are mapped
    // and back no Rust object, and the read is volatile.
    // SAFETY: by the argument just above.
    unsafe { ptr::with_exposed_provenance::<u64>(address as usize).read_volatile() }
}

pub fn write_u64(address: u64, value: u64) {
    // SAFETY: as for `read_u64`; the written memory backs no Rust object.
    unsafe { ptr::with_exposed_provenance_mut::<u64>(address as usize).write_volatile(value) }
}

/// A 32-bit load by a plain `MOV`, as device registers are read: the
/// compiler may fold a volatile read into another instruction (`TEST`
/// with a memory operand), which a hypervisor need not emulate on an
/// MMIO page (Tessera's decoder takes the MOV forms only).
#[must_use]
pub fn read_u32(address: u64) -> u32 {
    let value: u32;
    // As for `read_u64`; the asm reads the 4 bytes at `address` and
    // nothing else.
    // SAFETY: by the argument just above.
    unsafe {
        core::arch::asm!(
            "mov {value:e}, dword ptr [{address}]",
            address = in(reg) address,
            value = out(reg) value,
            options(nostack, readonly, preserves_flags),
        );
    }
    value
}

pub fn write_u32(address: u64, value: u32) {
    // SAFETY: as for `write_u64`.
    unsafe { ptr::with_exposed_provenance_mut::<u32>(address as usize).write_volatile(value) }
}

#[must_use]
pub fn read_u8(address: u64) -> u8 {
    // SAFETY: as for `read_u64`.
    unsafe { ptr::with_exposed_provenance::<u8>(address as usize).read_volatile() }
}

pub fn write_u8(address: u64, value: u8) {
    // SAFETY: as for `write_u64`.
    unsafe { ptr::with_exposed_provenance_mut::<u8>(address as usize).write_volatile(value) }
}

/// Writes `byte(offset)` to each byte of the page at `page`.
pub fn fill(page: u64, byte: impl Fn(u64) -> u8) {
    for offset in 0..PAGE {
        write_u8(page + offset, byte(offset));
    }
}

/// The first offset where the page at `page` differs from `byte(offset)`,
/// with the byte found there.
#[must_use]
pub fn first_difference(page: u64, byte: impl Fn(u64) -> u8) -> Option<(u64, u8)> {
    (0..PAGE)
        .map(|offset| (offset, read_u8(page + offset)))
        .find(|&(offset, found)| found != byte(offset))
}

/// A fingerprint (FNV-1a) of the page at `page`.
#[must_use]
pub fn fingerprint(page: u64) -> u64 {
    (0..PAGE).fold(0xCBF2_9CE4_8422_2325, |hash, offset| {
        (hash ^ u64::from(read_u8(page + offset))).wrapping_mul(0x0100_0000_01B3)
    })
}

/// Stores `value` at `address` as one guarded `mov`: `Err` if the store
/// faults (a write to a read-only overlay page).
pub fn guarded_store_u8(address: u64, value: u8) -> Result<(), Caught> {
    guarded(|| {
        // SAFETY: the address is a page of free RAM or an overlay on one;
        // a fault resumes after the store (see `trap`).
        unsafe {
            guarded_asm!("mov byte ptr [{address}], {value}"; address = in(reg) address, value = in(reg_byte) value, options(nostack));
        }
    })
}

/// The scratch area: page-table entry 1 of the PML4 (virtual addresses
/// from 512 GiB), one PDPT, one page directory and one page table of its
/// own, so 512 slots of 4 KiB. The loader's identity map only uses entry 0.
pub const SCRATCH_BASE: u64 = 512 << 30;
static SCRATCH_TABLE: AtomicU64 = AtomicU64::new(0);

/// Slots of the scratch area.
pub mod slot {
    /// The hypercall page, for calls through a mapping of the guest's own.
    pub const HYPERCALL: u64 = 0;
    /// Ring-3 code.
    pub const USER_CODE: u64 = 1;
    /// Ring-3 stack.
    pub const USER_STACK: u64 = 2;
    /// The local APIC's registers (uncached).
    pub const APIC: u64 = 3;
    /// The first of the pages the TLB flush checks remap.
    pub const FLUSH: u64 = 16;
}

/// Virtual address of scratch slot `slot`.
#[must_use]
pub const fn scratch_va(slot: u64) -> u64 {
    SCRATCH_BASE + slot * PAGE
}

fn pml4() -> u64 {
    cpu::cr3() & ADDRESS_MASK
}

/// Builds the scratch area's tables. `Err` says why it cannot.
pub fn scratch_init() -> Result<(), &'static str> {
    let pml4_entry = pml4() + 8;
    if read_u64(pml4_entry) != 0 {
        return Err("PML4 entry 1 (512 GiB up) is already in use");
    }
    let (Some(pdpt), Some(directory), Some(table)) = (alloc_page(), alloc_page(), alloc_page())
    else {
        return Err("no free RAM for the scratch page tables");
    };
    // User bits on the upper levels so that ring-3 slots work; a slot is
    // user-accessible only if its own entry says so.
    let upper = PRESENT | WRITABLE | USER;
    write_u64(directory, table | upper);
    write_u64(pdpt, directory | upper);
    write_u64(pml4_entry, pdpt | upper);
    SCRATCH_TABLE.store(table, Ordering::SeqCst);
    cpu::flush_tlb();
    Ok(())
}

/// How a scratch slot is mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mapping {
    /// Supervisor, read/write, write-back.
    Kernel,
    /// User-accessible, read/write.
    User,
    /// Supervisor, uncached (device registers).
    Device,
}

fn entry(physical: u64, mapping: Mapping) -> u64 {
    let flags = match mapping {
        Mapping::Kernel => PRESENT | WRITABLE,
        Mapping::User => PRESENT | WRITABLE | USER,
        Mapping::Device => PRESENT | WRITABLE | WRITE_THROUGH | CACHE_DISABLE,
    };
    (physical & ADDRESS_MASK) | flags
}

/// Maps scratch slot `slot` to the page at `physical` and flushes the TLB
/// entry; returns the slot's virtual address.
pub fn map(slot: u64, physical: u64, mapping: Mapping) -> u64 {
    set_entry_without_flush(slot, physical, mapping);
    invlpg(scratch_va(slot));
    scratch_va(slot)
}

/// Points scratch slot `slot` at `physical` *without* invalidating the
/// TLB: a stale translation may survive until something flushes it (the
/// TLB flush hypercall checks).
pub fn set_entry_without_flush(slot: u64, physical: u64, mapping: Mapping) {
    let table = SCRATCH_TABLE.load(Ordering::SeqCst);
    write_u64(table + 8 * slot, entry(physical, mapping));
}

/// Removes scratch slot `slot`'s mapping.
pub fn unmap(slot: u64) {
    let table = SCRATCH_TABLE.load(Ordering::SeqCst);
    write_u64(table + 8 * slot, 0);
    invlpg(scratch_va(slot));
}

pub fn invlpg(address: u64) {
    // SAFETY: invalidating a translation only makes the CPU walk the page
    // tables again. Not `nomem`: earlier page-table writes must land first.
    unsafe { core::arch::asm!("invlpg [{}]", in(reg) address, options(nostack, preserves_flags)) };
}

/// The guest's physical-address width (CPUID 0x80000008 EAX 7:0, else 36).
#[must_use]
pub fn physical_address_bits() -> u32 {
    if cpu::cpuid(0x8000_0000, 0).eax >= 0x8000_0008 {
        match cpu::cpuid(0x8000_0008, 0).eax & 0xFF {
            0 => 36,
            bits => bits,
        }
    } else {
        36
    }
}
