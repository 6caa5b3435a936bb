//! The canary's words in its RAM, read and written by address.
//!
//! Volatile: the point is to find out whether the memory still holds what
//! was written, so the compiler must not assume it does.
#![allow(unsafe_code)]

use core::ops::Range;
use core::ptr;

use tessera_fuzz::guest::canary_word;

/// Writes the canary's word at each word of `area` (free RAM).
pub fn fill(area: &Range<u64>) {
    for address in (area.start..area.end).step_by(8) {
        // `area` is free RAM between the image and the loader's
        // structures (layout::free_ram): no Rust object lives there, and
        // the loader identity-maps it.
        // SAFETY: by the argument just above.
        unsafe { pointer(address).write_volatile(canary_word(address)) };
    }
}

/// The first word of `area` that is not the canary's: address, value.
pub fn first_change(area: &Range<u64>) -> Option<(u64, u64)> {
    (area.start..area.end).step_by(8).find_map(|address| {
        // SAFETY: as in `fill`, reading.
        let found = unsafe { pointer(address).read_volatile() };
        (found != canary_word(address)).then_some((address, found))
    })
}

fn pointer(address: u64) -> *mut u64 {
    ptr::with_exposed_provenance_mut(address as usize)
}
