//! The kernel heap, so `alloc`, `hashbrown` and `heapless` work. Its memory
//! is one contiguous run of frames, reached through the physical map.
use super::{frames, physical_to_virtual};
use alloc::boxed::Box;
use core::alloc::Layout;
use linked_list_allocator::LockedHeap;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

const MIN_HEAP: u64 = 1 << 20;
const MAX_HEAP: u64 = 16 << 20;

pub fn init() {
    // An eighth of free memory, within bounds: enough for per-CPU tables now
    // and kernel objects later, without starving components.
    let free = frames::free_bytes();
    let size = (free / 8).clamp(MIN_HEAP, MAX_HEAP) & !(frames::FRAME_SIZE - 1);
    let Some(start) = frames::allocate_contiguous((size / frames::FRAME_SIZE) as usize) else {
        crate::exit::fatal(format_args!(
            "no room for a {} KiB kernel heap ({} KiB free)",
            size / 1024,
            free / 1024
        ));
    };
    let base = physical_to_virtual(start.as_u64()).as_mut_ptr::<u8>();
    // SAFETY: the frames were just taken from the allocator, so nothing else
    // uses them, and the physical map makes them writable at `base`.
    unsafe { HEAP.lock().init(base, size as usize) };
    log::info!("memory: {} KiB kernel heap", size / 1024);
}

/// Bytes of the heap in use now.
pub fn used_bytes() -> u64 {
    HEAP.lock().used() as u64
}

/// `Box::new` that gives `value` back instead of ending the kernel when
/// the heap is exhausted (what a system call allocates must be fallible;
/// `Box::try_new` is not stable yet), so what it holds can be released.
pub fn try_box<T>(value: T) -> Result<Box<T>, T> {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        return Ok(Box::new(value));
    }
    // SAFETY: the layout's size is not zero.
    let pointer = unsafe { alloc::alloc::alloc(layout) }.cast::<T>();
    if pointer.is_null() {
        return Err(value);
    }
    // `pointer` came from the global allocator with `T`'s layout, which is
    // what `Box<T>` frees with; `write` initialises it before the box owns it.
    // SAFETY: an aligned, unaliased allocation of `T`'s layout.
    unsafe {
        pointer.write(value);
        Ok(Box::from_raw(pointer))
    }
}
