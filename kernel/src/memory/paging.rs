//! The kernel's own page tables, replacing the boot tables.
//!
//! Unlike the boot tables (everything writable and executable, low memory
//! identity-mapped) these give each part of the image only the rights it
//! needs, map nothing in the lower half, leave a guard page under the boot
//! stack, and cover all of physical memory.
use super::frames::PageTableFrames;
use super::{KERNEL_VMA, KernelImage, PHYSICAL_MAP_BASE, physical_to_virtual};
use spin::Mutex;
use tessera_boot_info::{BootInfo, MemoryKind};
use x86_64::registers::control::{Cr3, Cr3Flags, Cr4, Cr4Flags};
use x86_64::structures::paging::{
    Mapper, OffsetPageTable, Page, PageTable, PageTableFlags as Flags, PhysFrame, Size2MiB,
    Size4KiB,
};
use x86_64::{PhysAddr, VirtAddr};

/// The physical map always reaches the first 4 GiB: the local and I/O APICs
/// and other MMIO live just below it.
const MIN_PHYSICAL_MAP_END: u64 = 4 << 30;
const LARGE_PAGE: u64 = 2 << 20;

static KERNEL_TABLES: Mutex<Option<OffsetPageTable<'static>>> = Mutex::new(None);
static PHYSICAL_MAP_END: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Where the physical map ends (exclusive).
pub fn physical_map_end() -> u64 {
    PHYSICAL_MAP_END.load(core::sync::atomic::Ordering::Relaxed)
}
static KERNEL_ROOT: spin::Once<PhysFrame> = spin::Once::new();

/// The root every CPU loads once it runs kernel code.
pub fn kernel_root() -> PhysFrame {
    *KERNEL_ROOT.get().expect("paging::init ran")
}

fn map_or_die<S: x86_64::structures::paging::PageSize + core::fmt::Debug>(
    mapper: &mut OffsetPageTable<'static>,
    page: Page<S>,
    frame: PhysFrame<S>,
    flags: Flags,
) where
    OffsetPageTable<'static>: Mapper<S>,
{
    // SAFETY: each frame is mapped once, at the one virtual address the
    // kernel's layout gives it, with the rights of what it holds.
    match unsafe { mapper.map_to(page, frame, flags, &mut PageTableFrames) } {
        Ok(flush) => flush.ignore(),
        Err(error) => crate::exit::fatal(format_args!(
            "cannot map {:#x} in the kernel's page tables: {error:?}",
            page.start_address()
        )),
    }
}

pub fn init(boot_info: &BootInfo, image: &KernelImage) {
    let root = super::frames::allocate_zeroed()
        .unwrap_or_else(|| crate::exit::fatal(format_args!("no memory for page tables")));
    let root = PhysFrame::containing_address(root);
    // SAFETY: the frame is fresh and zeroed; the physical map reaches it.
    let table = unsafe {
        &mut *physical_to_virtual(root.start_address().as_u64()).as_mut_ptr::<PageTable>()
    };
    // SAFETY: all physical memory the new tables use is below 4 GiB and so
    // visible at PHYSICAL_MAP_BASE through the boot tables while building.
    let mut mapper = unsafe { OffsetPageTable::new(table, VirtAddr::new(PHYSICAL_MAP_BASE)) };

    // Reserved ranges far up (such as a 64-bit PCI window) are not mapped:
    // nothing the kernel reads lives there, and mapping them costs tables.
    let memory_end = boot_info
        .memory_map
        .iter()
        .filter(|region| region.kind != MemoryKind::Reserved)
        .map(|region| region.end)
        .max()
        .unwrap_or(0);
    let map_end = memory_end
        .max(MIN_PHYSICAL_MAP_END)
        .next_multiple_of(LARGE_PAGE);
    let data = Flags::PRESENT | Flags::WRITABLE | Flags::NO_EXECUTE | Flags::GLOBAL;
    for physical in (0..map_end).step_by(LARGE_PAGE as usize) {
        let page = Page::<Size2MiB>::containing_address(physical_to_virtual(physical));
        let frame = PhysFrame::<Size2MiB>::containing_address(PhysAddr::new(physical));
        map_or_die(&mut mapper, page, frame, data | Flags::HUGE_PAGE);
    }

    let sections = [
        (image.text, Flags::PRESENT | Flags::GLOBAL),
        (
            image.rodata,
            Flags::PRESENT | Flags::NO_EXECUTE | Flags::GLOBAL,
        ),
        (image.data, data),
    ];
    for ((start, end), flags) in sections {
        for virt in (start..end).step_by(4096) {
            if virt == image.boot_stack_guard {
                continue;
            }
            let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virt));
            let frame = PhysFrame::containing_address(PhysAddr::new(virt - KERNEL_VMA));
            map_or_die(&mut mapper, page, frame, flags);
        }
    }

    // The stack region's top-level entry exists from the start, so address
    // spaces made later (which copy the upper half) see every kernel stack.
    let stacks = Page::<Size4KiB>::containing_address(VirtAddr::new(super::KERNEL_STACKS_BASE));
    let table = super::frames::allocate_zeroed()
        .unwrap_or_else(|| crate::exit::fatal(format_args!("no memory for page tables")));
    mapper.level_4_table_mut()[stacks.p4_index()].set_addr(table, Flags::PRESENT | Flags::WRITABLE);

    // SAFETY: turning on global pages only changes TLB retention.
    unsafe { Cr4::update(|cr4| cr4.insert(Cr4Flags::PAGE_GLOBAL)) };
    // SAFETY: the new tables map everything the kernel touches from now on:
    // its image (this code and the boot stack included), and physical memory.
    unsafe { Cr3::write(root, Cr3Flags::empty()) };
    KERNEL_ROOT.call_once(|| root);
    PHYSICAL_MAP_END.store(map_end, core::sync::atomic::Ordering::Relaxed);
    *KERNEL_TABLES.lock() = Some(mapper);
    log::info!(
        "memory: kernel page tables active, physical map up to {:#x}",
        map_end
    );
}

/// Maps fresh zeroed frames at `[start, start + pages * 4 KiB)` in the
/// kernel's upper half (shared by every CPU), read/write, no execute.
pub fn map_fresh_kernel_pages(start: VirtAddr, pages: u64) {
    let mut tables = KERNEL_TABLES.lock();
    let mapper = tables.as_mut().expect("paging::init ran");
    for index in 0..pages {
        let page = Page::<Size4KiB>::containing_address(start + index * 4096);
        let frame = super::frames::allocate_zeroed()
            .unwrap_or_else(|| crate::exit::fatal(format_args!("out of memory for kernel stacks")));
        let flags = Flags::PRESENT | Flags::WRITABLE | Flags::NO_EXECUTE | Flags::GLOBAL;
        // SAFETY: the caller owns this unused range of the kernel's layout.
        match unsafe {
            mapper.map_to(
                page,
                PhysFrame::containing_address(frame),
                flags,
                &mut PageTableFrames,
            )
        } {
            // A fresh mapping of a never-mapped page needs no shootdown.
            Ok(flush) => flush.flush(),
            Err(error) => crate::exit::fatal(format_args!("cannot map {start:#x}: {error:?}")),
        }
    }
}
