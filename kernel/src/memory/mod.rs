//! Physical and virtual memory of the kernel.
//!
//! The kernel's address space (upper half only; the lower half is for
//! components and stays empty here):
//!
//! | range | what |
//! | --- | --- |
//! | `PHYSICAL_MAP_BASE` + physical | all physical memory (RAM and at least the first 4 GiB, for the APIC) |
//! | `KERNEL_STACKS_BASE` + … | per-CPU stacks, each below an unmapped guard page |
//! | `KERNEL_VMA` + physical | the kernel image, mapped by section with its own rights |
pub mod address_space;
pub mod charged;
pub mod frame_box;
pub mod frames;
pub mod heap;
pub mod paging;
pub mod stacks;

use tessera_boot_info::BootInfo;
use x86_64::VirtAddr;

pub const PHYSICAL_MAP_BASE: u64 = 0xFFFF_8000_0000_0000;
pub const KERNEL_STACKS_BASE: u64 = 0xFFFF_FE00_0000_0000;
pub const KERNEL_VMA: u64 = 0xFFFF_FFFF_8000_0000;
/// How much the boot tables map (`boot/entry.s`).
const EARLY_PHYSICAL_MAP_END: u64 = 4 << 30;

pub fn physical_to_virtual(address: u64) -> VirtAddr {
    VirtAddr::new(PHYSICAL_MAP_BASE + address)
}

/// Physical memory through the boot tables' map, for the boot information.
/// `None` outside the first 4 GiB, so a bad pointer from the loader is an
/// error, not a fault.
pub fn early_physical_slice(address: u64, len: usize) -> Option<&'static [u8]> {
    let end = address.checked_add(len as u64)?;
    if end > EARLY_PHYSICAL_MAP_END {
        return None;
    }
    let start = physical_to_virtual(address).as_ptr::<u8>();
    // The boot tables and the kernel's own tables both map the first 4 GiB.
    // SAFETY: the range lies there, and nothing writes the boot information
    // while the kernel reads it.
    Some(unsafe { core::slice::from_raw_parts(start, len) })
}

/// Physical memory through the kernel's physical map, for boot modules;
/// `None` if any of it lies outside the map.
pub fn physical_slice(address: u64, len: usize) -> Option<&'static [u8]> {
    let end = address.checked_add(len as u64)?;
    if end > paging::physical_map_end() {
        return None;
    }
    let start = physical_to_virtual(address).as_ptr::<u8>();
    // SAFETY: the range lies inside the physical map, and boot modules are
    // reserved from the frame allocator, so nothing reuses their memory.
    Some(unsafe { core::slice::from_raw_parts(start, len) })
}

/// Linker-script symbols that bound the image and its sections.
mod image {
    unsafe extern "C" {
        pub static kernel_phys_start: u8;
        pub static kernel_phys_end: u8;
        pub static kernel_text_start: u8;
        pub static kernel_text_end: u8;
        pub static kernel_rodata_start: u8;
        pub static kernel_rodata_end: u8;
        pub static kernel_data_start: u8;
        pub static kernel_data_end: u8;
        pub static boot_stack_guard: u8;
    }
}

/// Where the kernel image and its sections lie.
#[derive(Clone, Copy, Debug)]
pub struct KernelImage {
    pub physical: (u64, u64),
    pub text: (u64, u64),
    pub rodata: (u64, u64),
    pub data: (u64, u64),
    pub boot_stack_guard: u64,
}

pub fn kernel_image() -> KernelImage {
    use core::ptr::addr_of;
    use image::*;
    let address = |symbol: *const u8| symbol as u64;
    KernelImage {
        physical: (
            address(addr_of!(kernel_phys_start)),
            address(addr_of!(kernel_phys_end)),
        ),
        text: (
            address(addr_of!(kernel_text_start)),
            address(addr_of!(kernel_text_end)),
        ),
        rodata: (
            address(addr_of!(kernel_rodata_start)),
            address(addr_of!(kernel_rodata_end)),
        ),
        data: (
            address(addr_of!(kernel_data_start)),
            address(addr_of!(kernel_data_end)),
        ),
        boot_stack_guard: address(addr_of!(boot_stack_guard)),
    }
}

/// Takes over memory: the frame allocator over what the boot loader reported
/// usable, the kernel's own page tables, then the heap.
pub fn init(boot_info: &BootInfo) {
    frames::init(boot_info, &kernel_image());
    paging::init(boot_info, &kernel_image());
    heap::init();
}
