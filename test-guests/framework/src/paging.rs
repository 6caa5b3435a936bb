//! Mapping guest-physical addresses outside RAM into the guest's own page
//! tables, and accessing them: device windows (memory-mapped I/O that a
//! host component emulates) and addresses a test expects the host to
//! refuse.
//!
//! The ELF64 loader's identity map covers only RAM (see [`crate::layout`]),
//! so an address above it has no mapping at first. [`DeviceWindow::map`]
//! adds one, a 2 MiB page, uncached (PCD and PWT set, as device memory
//! wants), identity mapped, and hands back the window, whose accessors are
//! single `mov` instructions of the size they name: a hypervisor that
//! emulates the access sees exactly that instruction.
//!
//! The accessors are safe functions for the same reason as [`crate::port`]:
//! a window lies outside RAM (`map` checks it), so no Rust object lives
//! there and an access cannot break what the compiler assumes about
//! memory; what the host does with the access (emulate it, stop the
//! partition) is an outcome of the test.
#![allow(unsafe_code)]

use core::arch::asm;
use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::{Failure, Outcome, cpu, ensure, fail, layout};

const PRESENT_WRITABLE: u64 = 0b11;
/// PWT and PCD: uncached under the reset PAT.
const UNCACHED: u64 = 0b11 << 3;
const LARGE_PAGE: u64 = 1 << 7;
const ADDRESS_MASK: u64 = 0x000F_FFFF_FFFF_F000;
const GIB: u64 = 1 << 30;
/// The size of the pages [`DeviceWindow::map`] maps.
pub const LARGE_PAGE_SIZE: u64 = 2 << 20;

/// A page directory for a GiB the loader left unmapped. Atomics: the CPU
/// reads it behind the compiler's back.
#[repr(C, align(4096))]
struct PageDirectory([AtomicU64; 512]);
static DIRECTORY: PageDirectory = PageDirectory([const { AtomicU64::new(0) }; 512]);
/// Which GiB [`DIRECTORY`] maps, plus one (0: none yet).
static DIRECTORY_GIB: AtomicU64 = AtomicU64::new(0);

/// Bytes of guest-physical address space outside RAM, mapped into the
/// guest's page tables at the same virtual address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceWindow {
    base: u64,
    len: u64,
}

impl DeviceWindow {
    /// Maps the `len` bytes at `base` (within one 2 MiB page, below
    /// 512 GiB, above RAM) with the 2 MiB page that holds them, unless an
    /// earlier call mapped that page already. Fails (without changing
    /// anything) if the page is RAM or mapped otherwise, or the guest was
    /// not started by the ELF64 loader.
    pub fn map(base: u64, len: u64) -> Result<Self, Failure> {
        let Some(ram_top) = layout::ram_top() else {
            return fail!("no RAM layout: the guest was not started by the ELF64 loader");
        };
        let page = base & !(LARGE_PAGE_SIZE - 1);
        let end = base.checked_add(len);
        let Some(end) = end.filter(|&end| len > 0 && end <= page + LARGE_PAGE_SIZE) else {
            return fail!("{len:#x} bytes at {base:#x} do not fit one 2 MiB page");
        };
        ensure!(
            end <= 512 * GIB,
            "{base:#x} is past the first PML4 entry (512 GiB)"
        );
        ensure!(
            page >= ram_top.next_multiple_of(LARGE_PAGE_SIZE),
            "{base:#x} is in the identity map of RAM (top {ram_top:#x})"
        );
        map_large_page(page)?;
        Ok(Self { base, len })
    }

    /// Where the window starts.
    #[must_use]
    pub const fn base(&self) -> u64 {
        self.base
    }

    /// The address of `offset` for an access of `size` bytes; panics if
    /// it leaves the window (a bug in the check, reported as a panic).
    fn at(&self, offset: u64, size: u64) -> u64 {
        assert!(
            offset.checked_add(size).is_some_and(|end| end <= self.len),
            "{size}-byte access at offset {offset:#x} leaves the window of {:#x} bytes",
            self.len
        );
        self.base + offset
    }

    /// `mov al, byte ptr [address]`, zero-extended.
    #[must_use]
    pub fn read8(&self, offset: u64) -> u8 {
        u8::try_from(self.read8_into_rax(offset, 0)).unwrap_or(0)
    }

    /// `mov ax, word ptr [address]`.
    #[must_use]
    pub fn read16(&self, offset: u64) -> u16 {
        let address = self.at(offset, 2);
        let value: u16;
        // SAFETY: see the module documentation: mapped, outside RAM.
        unsafe {
            asm!("mov {0:x}, word ptr [{1}]", out(reg) value, in(reg) address, options(nostack, preserves_flags));
        }
        value
    }

    /// `mov eax, dword ptr [address]`.
    #[must_use]
    pub fn read32(&self, offset: u64) -> u32 {
        let address = self.at(offset, 4);
        let value: u32;
        // SAFETY: see the module documentation: mapped, outside RAM.
        unsafe {
            asm!("mov {0:e}, dword ptr [{1}]", out(reg) value, in(reg) address, options(nostack, preserves_flags));
        }
        value
    }

    /// `mov rax, qword ptr [address]`.
    #[must_use]
    pub fn read64(&self, offset: u64) -> u64 {
        let address = self.at(offset, 8);
        let value: u64;
        // SAFETY: see the module documentation: mapped, outside RAM.
        unsafe {
            asm!("mov {0}, qword ptr [{1}]", out(reg) value, in(reg) address, options(nostack, preserves_flags));
        }
        value
    }

    /// `mov al, byte ptr [address]` with RAX = `rax` beforehand; all of RAX
    /// afterwards. An 8-bit load keeps bits 63:8 of its destination: a
    /// hypervisor emulating it must merge its result the same way.
    #[must_use]
    pub fn read8_into_rax(&self, offset: u64, rax: u64) -> u64 {
        let address = self.at(offset, 1);
        let mut rax = rax;
        // SAFETY: see the module documentation: mapped, outside RAM.
        unsafe {
            asm!("mov al, byte ptr [{0}]", in(reg) address, inout("rax") rax, options(nostack, preserves_flags));
        }
        rax
    }

    /// `mov eax, dword ptr [address]` with RAX = `rax` beforehand; all of
    /// RAX afterwards (a 32-bit load zeroes bits 63:32).
    #[must_use]
    pub fn read32_into_rax(&self, offset: u64, rax: u64) -> u64 {
        let address = self.at(offset, 4);
        let mut rax = rax;
        // SAFETY: see the module documentation: mapped, outside RAM.
        unsafe {
            asm!("mov eax, dword ptr [{0}]", in(reg) address, inout("rax") rax, options(nostack, preserves_flags));
        }
        rax
    }

    /// `mov byte ptr [address], <8-bit register>`.
    pub fn write8(&self, offset: u64, value: u8) {
        let address = self.at(offset, 1);
        // SAFETY: see the module documentation: mapped, outside RAM.
        unsafe {
            asm!("mov byte ptr [{0}], {1}", in(reg) address, in(reg_byte) value, options(nostack, preserves_flags));
        }
    }

    /// `mov word ptr [address], <16-bit register>`.
    pub fn write16(&self, offset: u64, value: u16) {
        let address = self.at(offset, 2);
        // SAFETY: see the module documentation: mapped, outside RAM.
        unsafe {
            asm!("mov word ptr [{0}], {1:x}", in(reg) address, in(reg) value, options(nostack, preserves_flags));
        }
    }

    /// `mov dword ptr [address], <32-bit register>`.
    pub fn write32(&self, offset: u64, value: u32) {
        let address = self.at(offset, 4);
        // SAFETY: see the module documentation: mapped, outside RAM.
        unsafe {
            asm!("mov dword ptr [{0}], {1:e}", in(reg) address, in(reg) value, options(nostack, preserves_flags));
        }
    }

    /// `mov qword ptr [address], <64-bit register>`.
    pub fn write64(&self, offset: u64, value: u64) {
        let address = self.at(offset, 8);
        // SAFETY: see the module documentation: mapped, outside RAM.
        unsafe {
            asm!("mov qword ptr [{0}], {1}", in(reg) address, in(reg) value, options(nostack, preserves_flags));
        }
    }
}

/// Maps the 2 MiB page at `page` (2 MiB aligned, below 512 GiB, outside
/// the RAM map), identity, uncached, writable. The page directory for its
/// GiB is the loader's if it made one, else [`DIRECTORY`] hung into the
/// loader's PDPT (for one GiB at most). Mapping a page this function
/// mapped before does nothing.
fn map_large_page(page: u64) -> Outcome {
    let entry = page | LARGE_PAGE | UNCACHED | PRESENT_WRITABLE;
    let pml4 = cpu::cr3() & ADDRESS_MASK;
    let pml4_entry = read_table(pml4);
    ensure!(
        pml4_entry & 1 != 0,
        "PML4[0] = {pml4_entry:#x} is not present"
    );
    let gib = page / GIB;
    let pdpt_entry_address = (pml4_entry & ADDRESS_MASK) + gib * 8;
    let pdpt_entry = read_table(pdpt_entry_address);
    let own = &raw const DIRECTORY as u64;
    let directory = if pdpt_entry == 0 {
        let claimed =
            DIRECTORY_GIB.compare_exchange(0, gib + 1, Ordering::SeqCst, Ordering::SeqCst);
        ensure!(
            claimed.is_ok(),
            "GiB {gib} has no page directory, and the framework's one serves GiB {} already",
            DIRECTORY_GIB.load(Ordering::SeqCst).wrapping_sub(1)
        );
        None
    } else {
        ensure!(
            pdpt_entry & LARGE_PAGE == 0,
            "PDPT entry for GiB {gib} is {pdpt_entry:#x}: a 1 GiB page already covers it"
        );
        Some(pdpt_entry & ADDRESS_MASK)
    };
    let index = (page % GIB) / LARGE_PAGE_SIZE;
    match directory {
        None => {
            DIRECTORY.0[index as usize].store(entry, Ordering::SeqCst);
            write_table(pdpt_entry_address, own | PRESENT_WRITABLE);
        }
        Some(address) if address == own => {
            let old = DIRECTORY.0[index as usize].load(Ordering::SeqCst);
            ensure!(
                old == 0 || old == entry,
                "the page directory entry for {page:#x} is {old:#x} already"
            );
            DIRECTORY.0[index as usize].store(entry, Ordering::SeqCst);
        }
        Some(address) => {
            let pde_address = address + index * 8;
            let old = read_table(pde_address);
            ensure!(
                old == 0 || old == entry,
                "the loader's page directory entry for {page:#x} is {old:#x}: RAM or another \
                 mapping covers it"
            );
            write_table(pde_address, entry);
        }
    }
    cpu::flush_tlb();
    Ok(())
}

/// A volatile read of a page-table entry at identity-mapped `address`.
fn read_table(address: u64) -> u64 {
    // SAFETY: a loader page-table entry, in RAM no Rust object occupies; volatile.
    unsafe { ptr::with_exposed_provenance::<u64>(address as usize).read_volatile() }
}

fn write_table(address: u64, value: u64) {
    // The callers only add mappings outside RAM with it.
    // SAFETY: `address` is a loader page-table entry, in RAM no Rust object occupies.
    unsafe { ptr::with_exposed_provenance_mut::<u64>(address as usize).write_volatile(value) }
}
