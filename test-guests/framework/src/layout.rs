//! Where things are in guest RAM (GPA 0 up, identity mapped).
//!
//! For an ELF64 guest (guest-loader's `load_elf64`), from low to high:
//!
//! | range | what |
//! | --- | --- |
//! | `0 .. 1 MiB` | free (nothing is loaded there) |
//! | [`image`] (1 MiB ..) | the guest: code, data, bss with the 64 KiB stack |
//! | [`free_ram`] | free |
//! | from the GDT (`sgdt`) up | the loader's GDT page, PML4, PDPT, page directories |
//! | top 16 KiB | the loader's initial stack; [`ram_top`] is its top |
//!
//! The loader's identity map covers RAM rounded up to 2 MiB and nothing
//! else.
#![allow(unsafe_code)]

use core::ops::Range;
use core::sync::atomic::{AtomicU64, Ordering};

unsafe extern "C" {
    /// Defined by the guests' linker scripts: the image's first byte and
    /// the end of its bss (page aligned).
    #[link_name = "guest_image_start"]
    safe static IMAGE_START: u8;
    #[link_name = "guest_image_end"]
    safe static IMAGE_END: u8;
}

const PAGE: u64 = 0x1000;

static INITIAL_STACK_TOP: AtomicU64 = AtomicU64::new(0);

pub(crate) fn record_initial_stack_top(top: u64) {
    INITIAL_STACK_TOP.store(top, Ordering::Relaxed);
}

/// The guest image, bss included.
#[must_use]
pub fn image() -> Range<u64> {
    (&raw const IMAGE_START as u64)..(&raw const IMAGE_END as u64)
}

/// The end of RAM (its size rounded down to 4 KiB): where the ELF64 loader
/// put the initial stack pointer. `None` for a guest started otherwise.
#[must_use]
pub fn ram_top() -> Option<u64> {
    match INITIAL_STACK_TOP.load(Ordering::Relaxed) {
        0 => None,
        top => Some(top),
    }
}

/// RAM nothing uses, between the image and the loader's structures (whose
/// lowest page is the GDT). `None` for a guest not started by the ELF64
/// loader.
#[must_use]
pub fn free_ram() -> Option<Range<u64>> {
    ram_top()?;
    let start = image().end.next_multiple_of(PAGE);
    let end = crate::cpu::gdtr().base & !(PAGE - 1);
    (start < end).then_some(start..end)
}

/// `at` as a pointer to a word of [`free_ram`], if it is one (8-byte
/// aligned).
fn free_word(at: u64) -> Option<*mut u64> {
    free_ram()
        .filter(|ram| ram.contains(&at) && at.is_multiple_of(8))
        .map(|_| at as *mut u64)
}

/// The word at `at`, if that is free RAM. Free RAM keeps its contents
/// across the partition manager's warm reset (only the image is
/// reloaded), so a word there tells a run after a reset from the first.
#[must_use]
#[allow(unsafe_code)]
pub fn read_free_word(at: u64) -> Option<u64> {
    let at = free_word(at)?;
    // SAFETY: the address is free RAM (`free_ram`), 8-byte aligned, where
    // no Rust object lives (or an overlay the host laid over it).
    let value = unsafe { at.read_volatile() };
    Some(value)
}

/// Writes `value` at `at`, if that is free RAM ([`read_free_word`]).
#[allow(unsafe_code)]
pub fn write_free_word(at: u64, value: u64) {
    let Some(at) = free_word(at) else {
        return;
    };
    // SAFETY: as in `read_free_word`.
    unsafe { at.write_volatile(value) };
}
