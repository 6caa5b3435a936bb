//! A component's address space: its own lower half, the kernel's upper half.
//!
//! The upper-half entries of every root are copied from the kernel's root
//! when the space is made. That is enough because the kernel never adds a
//! top-level entry after boot: the regions it grows (stacks, the physical
//! map) have theirs from the start (paging.rs).
use super::charged::Charged;
use super::{PHYSICAL_MAP_BASE, paging, physical_to_virtual};
use tessera_abi::USER_SPACE_END;
use x86_64::structures::paging::mapper::MapToError;
use x86_64::structures::paging::{
    Mapper, OffsetPageTable, Page, PageTable, PageTableFlags as Flags, PhysFrame, Size4KiB,
};
use x86_64::{PhysAddr, VirtAddr};

/// A software bit of the page-table entry: the frame belongs to a memory
/// region, not to this address space.
const BORROWED: Flags = Flags::BIT_9;

/// Why a mapping was refused. Component images are untrusted input: these
/// are reported, never a kernel fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The page lies outside the lower half (or is page 0).
    OutsideUserSpace(u64),
    AlreadyMapped(u64),
    /// No frame for a page or a table: the quota or the pool is exhausted
    /// (the `Charged` that was asked says which).
    OutOfMemory,
}

impl core::fmt::Display for MapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OutsideUserSpace(address) => {
                write!(
                    f,
                    "{address:#x} is outside the component's half of the address space"
                )
            }
            Self::AlreadyMapped(address) => write!(f, "{address:#x} is mapped twice"),
            Self::OutOfMemory => f.write_str("out of physical memory"),
        }
    }
}

/// What a component may do with a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRights {
    pub writable: bool,
    pub executable: bool,
}

/// Every frame of a space (its root, its tables and its own pages) is
/// charged to its domain's quota through the `Charged` each call takes.
#[derive(Debug)]
pub struct AddressSpace {
    root: PhysFrame,
}

impl AddressSpace {
    pub fn new(charged: &mut Charged<'_>) -> Result<Self, MapError> {
        let root = charged.take().ok_or(MapError::OutOfMemory)?;
        let kernel = paging::kernel_root().start_address().as_u64();
        // SAFETY: both roots are page tables reached through the physical
        // map; the new one is fresh and not yet in use by any CPU.
        let (new, kernel) = unsafe {
            (
                &mut *physical_to_virtual(root.as_u64()).as_mut_ptr::<PageTable>(),
                &*physical_to_virtual(kernel).as_ptr::<PageTable>(),
            )
        };
        for index in 256..512 {
            new[index] = kernel[index].clone();
        }
        Ok(AddressSpace {
            root: PhysFrame::containing_address(root),
        })
    }

    pub fn root(&self) -> PhysFrame {
        self.root
    }

    /// Drops this CPU's cached translations of this space if it is active.
    pub fn flush_if_active(&self) {
        reload_if_active(self.root);
    }

    fn mapper(&mut self) -> OffsetPageTable<'_> {
        let root = physical_to_virtual(self.root.start_address().as_u64());
        // SAFETY: the root is this space's own table, reached through the
        // physical map, and `&mut self` keeps others from editing it at once.
        unsafe {
            OffsetPageTable::new(
                &mut *root.as_mut_ptr::<PageTable>(),
                VirtAddr::new(PHYSICAL_MAP_BASE),
            )
        }
    }

    /// Maps a fresh zeroed frame at the page containing `address`; returns
    /// the frame so the caller can fill it. The frame belongs to this space:
    /// it is freed with it.
    pub fn map_fresh(
        &mut self,
        address: u64,
        rights: PageRights,
        charged: &mut Charged<'_>,
    ) -> Result<PhysAddr, MapError> {
        let frame = charged.take().ok_or(MapError::OutOfMemory)?;
        if let Err(error) = self.map_frame(address, frame, rights, false, charged) {
            charged.give(frame);
            return Err(error);
        }
        Ok(frame)
    }

    /// Maps `frame`, which a memory region owns, at `address`: the mapping
    /// is marked as borrowed, so releasing this space leaves the frame alone.
    pub fn map_borrowed(
        &mut self,
        address: u64,
        frame: PhysAddr,
        rights: PageRights,
        charged: &mut Charged<'_>,
    ) -> Result<(), MapError> {
        self.map_frame(address, frame, rights, true, charged)
    }

    fn map_frame(
        &mut self,
        address: u64,
        frame: PhysAddr,
        rights: PageRights,
        borrowed: bool,
        charged: &mut Charged<'_>,
    ) -> Result<(), MapError> {
        if !(4096..USER_SPACE_END).contains(&address) {
            return Err(MapError::OutsideUserSpace(address));
        }
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(address));
        let mut flags = Flags::PRESENT | Flags::USER_ACCESSIBLE;
        if rights.writable {
            flags |= Flags::WRITABLE;
        }
        if !rights.executable {
            flags |= Flags::NO_EXECUTE;
        }
        if borrowed {
            flags |= BORROWED;
        }
        let parents = Flags::PRESENT | Flags::WRITABLE | Flags::USER_ACCESSIBLE;
        let frame_4k = PhysFrame::containing_address(frame);
        // the page is in the lower half, which only this space maps;
        // the frame is either fresh or a memory region's, whose capability
        // the caller checked.
        // SAFETY: a lower-half page of this space; a fresh or region-owned frame.
        let result = unsafe {
            self.mapper()
                .map_to_with_table_flags(page, frame_4k, flags, parents, charged)
        };
        match result {
            // New mappings need no flush: nothing cached a translation for
            // an unmapped page.
            Ok(flush) => {
                flush.ignore();
                Ok(())
            }
            Err(MapToError::PageAlreadyMapped(_)) => {
                Err(MapError::AlreadyMapped(page.start_address().as_u64()))
            }
            Err(_) => Err(MapError::OutOfMemory),
        }
    }

    /// Removes the mappings of `pages` pages from `address`; returns how
    /// many were mapped. The caller flushes the TLBs that may hold them.
    pub fn unmap(&mut self, address: u64, pages: u64) -> u64 {
        let mut removed = 0;
        for index in 0..pages {
            let Some(at) = index
                .checked_mul(4096)
                .and_then(|offset| address.checked_add(offset))
            else {
                break;
            };
            if !(4096..USER_SPACE_END).contains(&at) {
                break;
            }
            let page = Page::<Size4KiB>::containing_address(VirtAddr::new(at));
            if let Ok((_, flush)) = self.mapper().unmap(page) {
                flush.ignore();
                removed += 1;
            }
        }
        removed
    }
}

impl AddressSpace {
    /// The physical address behind a component address, if a page of the
    /// space's own is mapped there (a memory region's borrowed page does not
    /// count: writing it through here would bypass the region's rights).
    pub fn translate_own(&mut self, address: u64) -> Option<PhysAddr> {
        use x86_64::structures::paging::mapper::{Translate, TranslateResult};
        if !(4096..USER_SPACE_END).contains(&address) {
            return None;
        }
        match self.mapper().translate(VirtAddr::new(address)) {
            TranslateResult::Mapped {
                frame,
                offset,
                flags,
            } if flags.contains(Flags::USER_ACCESSIBLE) && !flags.contains(BORROWED) => {
                Some(frame.start_address() + offset)
            }
            _ => None,
        }
    }

    /// Gives back the root of a space whose lower half is empty (never
    /// mapped, or released); the upper half is the kernel's, shared, not
    /// freed. No CPU may have it loaded.
    pub fn release_root(self, charged: &mut Charged<'_>) {
        charged.give(self.root.start_address());
    }

    /// Frees every page and page table of the lower half (the component's
    /// own memory) and returns how many bytes of mapped pages were freed. The
    /// root stays: it may still be loaded on this CPU, and its upper half is
    /// the kernel's. Only for a component that will never run again.
    pub fn release_user_memory(&mut self, charged: &mut Charged<'_>) -> u64 {
        let root = self.root.start_address().as_u64();
        let mut freed = 0;
        // the root and every table below it are this space's own,
        // reached through the physical map; the component no longer runs,
        // so nothing walks these tables while they are taken apart.
        // SAFETY: the tables are this dead space's own; nothing walks them now.
        let pml4 = unsafe { &mut *physical_to_virtual(root).as_mut_ptr::<PageTable>() };
        for entry in pml4.iter_mut().take(256) {
            if let Some(table) = present_table(entry) {
                freed += release_table(table, 3, charged);
                entry.set_unused();
            }
        }
        reload_if_active(self.root);
        freed
    }
}

impl AddressSpace {
    /// The frames this space holds: its root, the tables of its lower half
    /// and the pages it owns there (a memory region's borrowed pages are
    /// the region's). For the kernel's audit.
    pub fn frames_held(&self) -> u64 {
        let root = self.root.start_address().as_u64();
        // The kernel lock, held by every caller, keeps the root and its
        // lower-half tables from changing while they are read.
        // SAFETY: this space's own root table, reached through the physical map.
        let pml4 = unsafe { &*physical_to_virtual(root).as_ptr::<PageTable>() };
        1 + pml4
            .iter()
            .take(256)
            .filter_map(present_table)
            .map(|table| count_table(table, 3))
            .sum::<u64>()
    }
}

/// The frames under and including a table at `level` (3: PDPT, 2: PD,
/// 1: PT) that the space owns.
fn count_table(table: PhysAddr, level: u8) -> u64 {
    // SAFETY: as in `frames_held`: a lower-half table of a space, read
    // under the kernel lock.
    let entries = unsafe { &*physical_to_virtual(table.as_u64()).as_ptr::<PageTable>() };
    let mut held = 1;
    for entry in entries.iter() {
        if !entry.flags().contains(Flags::PRESENT) {
            continue;
        }
        if level == 1 {
            held += u64::from(!entry.flags().contains(BORROWED));
        } else if let Some(next) = present_table(entry) {
            held += count_table(next, level - 1);
        }
    }
    held
}

/// The table a present, non-huge entry points to, and its frame.
fn present_table(
    entry: &x86_64::structures::paging::page_table::PageTableEntry,
) -> Option<PhysAddr> {
    let flags = entry.flags();
    (flags.contains(Flags::PRESENT) && !flags.contains(Flags::HUGE_PAGE)).then(|| entry.addr())
}

/// Frees the pages under a table at `level` (3: PDPT, 2: PD, 1: PT), then
/// the table itself; returns the bytes of leaf pages freed. Component
/// spaces map only 4 KiB pages, so a huge entry below the root never occurs.
fn release_table(table: PhysAddr, level: u8, charged: &mut Charged<'_>) -> u64 {
    // SAFETY: as in `release_user_memory`: a table of a dead component's
    // space, reached through the physical map, used by nothing else.
    let entries = unsafe { &mut *physical_to_virtual(table.as_u64()).as_mut_ptr::<PageTable>() };
    let mut freed = 0;
    for entry in entries.iter_mut() {
        if !entry.flags().contains(Flags::PRESENT) {
            continue;
        }
        if level == 1 {
            if !entry.flags().contains(BORROWED) {
                charged.give(entry.addr());
                freed += 4096;
            }
        } else if let Some(next) = present_table(entry) {
            freed += release_table(next, level - 1, charged);
        }
        entry.set_unused();
    }
    charged.give(table);
    freed
}

/// Drops this CPU's cached translations of `root`'s lower half if it is the
/// active space (loading CR3 again flushes non-global entries).
fn reload_if_active(root: PhysFrame) {
    use x86_64::registers::control::Cr3;
    let (active, flags) = Cr3::read();
    if active == root {
        // SAFETY: reloading the same root changes no mapping.
        unsafe { Cr3::write(active, flags) };
    }
}
