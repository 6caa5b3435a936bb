//! Reading and writing guest RAM by address.
//!
//! Every access is volatile: the compiler must not assume that the area
//! still holds what it wrote (the point is to find out), and the scan
//! reads memory no Rust object describes (the loader's tables, the stack).
#![allow(unsafe_code)]

use core::ops::Range;
use core::ptr;

use crate::pattern::{Pattern, foreign_partition};

/// Fills `area` (free RAM, 8-byte aligned) with `pattern`.
pub fn fill(area: &Range<u64>, pattern: &Pattern) {
    for (index, address) in words(area).enumerate() {
        // SAFETY: `area` is free RAM between the image and the loader's
        // structures (layout::free_ram): no Rust object lives there.
        unsafe { pointer(address).write_volatile(pattern.word(index as u64)) };
    }
}

/// The first word of `area` that differs from `pattern`: address, value.
pub fn first_mismatch(area: &Range<u64>, pattern: &Pattern) -> Option<(u64, u64)> {
    words(area).enumerate().find_map(|(index, address)| {
        let found = read(address);
        (found != pattern.word(index as u64)).then_some((address, found))
    })
}

/// The first word of `ram` that carries another partition's pattern.
pub fn first_foreign(ram: &Range<u64>, pattern: &Pattern) -> Option<(u64, u64)> {
    // Address 0 is the null pointer, which Rust cannot read through.
    let from_first_word = ram.start.max(8)..ram.end;
    words(&from_first_word).find_map(|address| {
        let found = read(address);
        foreign_partition(found, pattern.partition()).map(|_| (address, found))
    })
}

fn words(range: &Range<u64>) -> impl Iterator<Item = u64> {
    (range.start..range.end).step_by(8)
}

fn read(address: u64) -> u64 {
    // `address` is 8-byte aligned, non-null and inside RAM, which
    // the loader identity-maps; a volatile read makes no assumption about
    // what is there, even where the stack is changing it.
    // SAFETY: by the argument just above.
    unsafe { pointer(address).read_volatile() }
}

fn pointer(address: u64) -> *mut u64 {
    ptr::with_exposed_provenance_mut(address as usize)
}
