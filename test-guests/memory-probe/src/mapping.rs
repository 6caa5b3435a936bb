//! Mapping one 2 MiB page outside RAM into the loader's page tables, and
//! reading through it.
#![allow(unsafe_code)]

use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering};

use tessera_guest_framework::{Outcome, cpu, ensure};

const PRESENT_WRITABLE: u64 = 0b11;
const LARGE_PAGE: u64 = 1 << 7;
const ADDRESS_MASK: u64 = 0x000F_FFFF_FFFF_F000;
const GIB: u64 = 1 << 30;
const LARGE_PAGE_SIZE: u64 = 2 << 20;

/// The page directory for the probed GiB. Atomics: the CPU reads it
/// behind the compiler's back.
#[repr(C, align(4096))]
struct PageDirectory([AtomicU64; 512]);
static DIRECTORY: PageDirectory = PageDirectory([const { AtomicU64::new(0) }; 512]);

/// Maps the 2 MiB page at `gpa` (below 512 GiB, 2 MiB aligned) with a new
/// page directory in the loader's PDPT, whose entry for that GiB must be
/// empty (the identity map covers only RAM).
pub fn map_large_page(gpa: u64) -> Outcome {
    ensure!(
        gpa.is_multiple_of(LARGE_PAGE_SIZE) && gpa < 512 * GIB,
        "GPA {gpa:#x} is not a 2 MiB page in the first PML4 entry"
    );
    let pml4 = cpu::cr3() & ADDRESS_MASK;
    let pml4_entry = read(pml4);
    ensure!(
        pml4_entry & 1 != 0,
        "PML4[0] = {pml4_entry:#x} is not present"
    );
    let pdpt_entry_address = (pml4_entry & ADDRESS_MASK) + (gpa / GIB) * 8;
    let pdpt_entry = read(pdpt_entry_address);
    ensure!(
        pdpt_entry == 0,
        "PDPT entry for GiB {} is {pdpt_entry:#x}: RAM or another mapping already covers it",
        gpa / GIB
    );
    let index = ((gpa % GIB) / LARGE_PAGE_SIZE) as usize;
    DIRECTORY.0[index].store(gpa | LARGE_PAGE | PRESENT_WRITABLE, Ordering::SeqCst);
    let directory = &raw const DIRECTORY as u64;
    write(pdpt_entry_address, directory | PRESENT_WRITABLE);
    cpu::flush_tlb();
    Ok(())
}

/// A volatile 64-bit read of identity-mapped `address`.
pub fn read(address: u64) -> u64 {
    // SAFETY: the callers read the loader's page tables, which lie in RAM,
    // and the probed page, which is mapped but backs no Rust object; the
    // read is volatile, so the compiler assumes nothing about the value.
    unsafe { ptr::with_exposed_provenance::<u64>(address as usize).read_volatile() }
}

fn write(address: u64, value: u64) {
    // SAFETY: `address` is an entry of the loader's PDPT, in RAM that no
    // Rust object occupies; writing it only adds a mapping.
    unsafe { ptr::with_exposed_provenance_mut::<u64>(address as usize).write_volatile(value) }
}
