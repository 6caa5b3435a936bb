//! The kernel's physical frame pool: every usable frame the boot loader
//! reported, minus low memory, the kernel image, the boot information and the
//! modules (which components will own).
use super::{KernelImage, physical_to_virtual};
use spin::Mutex;
use tessera_boot_info::{BootInfo, MemoryKind};
use tessera_frames::{FrameAllocator, find_storage};
use x86_64::PhysAddr;
use x86_64::structures::paging::{PhysFrame, Size4KiB};

pub use tessera_frames::FRAME_SIZE;

/// Real-mode memory: BIOS data, the EBDA, and the page that application
/// processors start in. The kernel never allocates from it.
const LOW_MEMORY_END: u64 = 1 << 20;
/// The boot tables map only this much, and the bitmap must be reachable
/// before the kernel's own tables exist.
const EARLY_MAP_END: u64 = 4 << 30;

static FRAMES: Mutex<Option<FrameAllocator<'static>>> = Mutex::new(None);

pub fn init(boot_info: &BootInfo, image: &KernelImage) {
    let usable: heapless::Vec<(u64, u64), 128> = boot_info
        .memory_map
        .iter()
        .filter(|region| region.kind == MemoryKind::Usable)
        .map(|region| (region.start, region.end))
        .collect();
    let mut reserved: heapless::Vec<(u64, u64), 40> = heapless::Vec::new();
    let fixed = [(0, LOW_MEMORY_END), image.physical, boot_info.info_range];
    let modules = boot_info
        .modules
        .iter()
        .map(|module| (module.start, module.end));
    for range in fixed.into_iter().chain(modules) {
        reserved
            .push(range)
            .expect("40 slots hold 3 fixed ranges and at most 32 modules");
    }

    let memory_end = usable.iter().map(|&(_, end)| end).max().unwrap_or(0);
    let words = FrameAllocator::storage_words(memory_end);
    let bytes = (words * 8) as u64;
    let early_usable = usable
        .iter()
        .filter(|&&(start, _)| start < EARLY_MAP_END)
        .map(|&(start, end)| (start, end.min(EARLY_MAP_END)));
    let Some(storage_start) = find_storage(early_usable, reserved.iter().copied(), bytes) else {
        crate::exit::fatal(format_args!(
            "no usable memory below 4 GiB for the {} KiB frame bitmap",
            bytes / 1024
        ));
    };
    reserved
        .push((
            storage_start,
            storage_start + bytes.next_multiple_of(FRAME_SIZE),
        ))
        .expect("one slot left for the bitmap");

    let storage_ptr = physical_to_virtual(storage_start).as_mut_ptr::<u64>();
    // `find_storage` chose usable RAM below 4 GiB (mapped by the boot tables)
    // that no reserved range covers, and it is now reserved itself.
    // SAFETY: so the range is mapped, writable, and referenced only by this
    // slice for as long as the kernel runs.
    let storage = unsafe { core::slice::from_raw_parts_mut(storage_ptr, words) };
    let allocator = FrameAllocator::new(storage, usable.iter().copied(), reserved.iter().copied())
        .unwrap_or_else(|error| crate::exit::fatal(format_args!("frame allocator: {error}")));
    log::info!(
        "memory: {} frames free of {} managed ({} KiB free)",
        allocator.free_frames(),
        allocator.managed_frames(),
        allocator.free_frames() as u64 * FRAME_SIZE / 1024
    );
    *FRAMES.lock() = Some(allocator);
}

fn with<T>(f: impl FnOnce(&mut FrameAllocator<'static>) -> T) -> T {
    let mut frames = FRAMES.lock();
    f(frames
        .as_mut()
        .expect("frame allocator used before memory::init"))
}

/// Frames the allocator manages (free or not).
pub fn managed_frames() -> u64 {
    with(|frames| frames.managed_frames() as u64)
}

/// Frames free now.
pub fn free_frames() -> u64 {
    with(|frames| frames.free_frames() as u64)
}

/// Whether the frame at `address` is in the free pool (`false` for an
/// address the allocator does not manage).
pub fn is_free(address: u64) -> bool {
    tessera_frames::Frame::from_addr(address)
        .is_ok_and(|frame| with(|frames| frames.is_free(frame)))
}

pub fn free_bytes() -> u64 {
    free_frames() * FRAME_SIZE
}

/// One frame, zero-filled.
pub fn allocate_zeroed() -> Option<PhysAddr> {
    let frame = with(|frames| frames.allocate())?;
    let address = frame.addr();
    let page = physical_to_virtual(address).as_mut_ptr::<u8>();
    // SAFETY: the frame was just allocated, so nothing else refers to it, and
    // the physical map makes it writable.
    unsafe { core::ptr::write_bytes(page, 0, FRAME_SIZE as usize) };
    Some(PhysAddr::new(address))
}

/// Gives a frame back. Freeing a frame the allocator never handed out is a
/// kernel bug, reported as such.
pub fn free(frame: PhysAddr) {
    let frame = tessera_frames::Frame::from_addr(frame.as_u64())
        .unwrap_or_else(|error| panic!("freeing {frame:#x}: {error}"));
    with(|frames| frames.free(frame)).unwrap_or_else(|error| panic!("freeing a frame: {error}"));
}

/// `count` physically contiguous frames (not zeroed).
pub fn allocate_contiguous(count: usize) -> Option<PhysAddr> {
    with(|frames| frames.allocate_contiguous(count, 1)).map(|frame| PhysAddr::new(frame.addr()))
}

/// Hands zeroed frames to the `x86_64` crate's page-table mapper.
pub struct PageTableFrames;

// SAFETY: every frame returned is freshly allocated, unused and zero-filled.
unsafe impl x86_64::structures::paging::FrameAllocator<Size4KiB> for PageTableFrames {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        allocate_zeroed().map(PhysFrame::containing_address)
    }
}
