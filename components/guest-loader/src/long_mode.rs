//! What the two 64-bit entries (ELF64 and Linux) share: an identity map of
//! guest RAM in 2 MiB pages, the GDT page, and the control registers of
//! long mode.
//!
//! The identity map covers the RAM size rounded up to 2 MiB with present,
//! writable, supervisor, executable 2 MiB pages (no NX, so `EFER.NXE` stays
//! clear), from one PML4 entry: RAM may be at most [`MAX_RAM`]. Its pages,
//! from low to high: the PML4 (entry 0 → the PDPT), the PDPT (entries
//! `0..n` → the PDs), and `n` page directories, one per GiB.

use alloc::vec;
use alloc::vec::Vec;

use crate::state::{InitialVpState, gdt_bytes};
use crate::{PAGE, align_up};

/// Largest guest RAM the identity map can cover (one PML4 entry).
pub const MAX_RAM: u64 = 512 << 30;

/// `CR0` on entry: `PG | NE | ET | PE`.
pub const CR0: u64 = (1 << 31) | (1 << 5) | (1 << 4) | 1;
/// `CR4` on entry: `PAE`.
pub const CR4: u64 = 1 << 5;
/// `EFER` on entry (as the guest sees it): `LME | LMA`.
pub const EFER: u64 = (1 << 8) | (1 << 10);

/// Page-table entry bits: present, writable.
pub const PTE_PRESENT_WRITABLE: u64 = 0b11;
/// Page-directory entry bit: 2 MiB page.
pub const PDE_LARGE: u64 = 1 << 7;

const LARGE_PAGE: u64 = 2 << 20;
const GIB: u64 = 1 << 30;

/// Pages the identity map of `ram` bytes takes (PML4, PDPT, PDs); `ram` at
/// most [`MAX_RAM`].
pub(crate) fn table_pages(ram: u64) -> u64 {
    2 + mapped(ram).div_ceil(GIB).max(1)
}

fn mapped(ram: u64) -> u64 {
    align_up(ram, LARGE_PAGE).unwrap_or(MAX_RAM)
}

/// The identity map of `ram` bytes, for the PML4 at guest-physical `pml4`
/// (the other tables follow it, [`table_pages`] pages in all).
pub(crate) fn identity_tables(pml4: u64, ram: u64) -> Vec<u8> {
    let pages = table_pages(ram);
    let directories = pages - 2;
    let pdpt = pml4 + PAGE;
    let mut tables = vec![0u8; (pages * PAGE) as usize];
    put_u64(&mut tables, 0, pdpt | PTE_PRESENT_WRITABLE);
    for directory in 0..directories {
        let entry = (pdpt + (1 + directory) * PAGE) | PTE_PRESENT_WRITABLE;
        put_u64(&mut tables, (PAGE + directory * 8) as usize, entry);
    }
    for page in 0..mapped(ram) / LARGE_PAGE {
        let entry = (page * LARGE_PAGE) | PDE_LARGE | PTE_PRESENT_WRITABLE;
        put_u64(&mut tables, (2 * PAGE + page * 8) as usize, entry);
    }
    tables
}

/// A page holding the GDT `vp` uses, at its start.
pub(crate) fn gdt_page(vp: &InitialVpState) -> Vec<u8> {
    let mut page = vec![0; PAGE as usize];
    let gdt = gdt_bytes(vp);
    page[..gdt.len()].copy_from_slice(&gdt);
    page
}

/// Puts `vp` in long mode with paging on the tables at `pml4`.
pub(crate) fn enter(vp: &mut InitialVpState, pml4: u64) {
    vp.cr0 = CR0;
    vp.cr3 = pml4;
    vp.cr4 = CR4;
    vp.efer = EFER;
}

pub(crate) fn put_u64(bytes: &mut [u8], offset: usize, value: u64) {
    bytes[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
}
