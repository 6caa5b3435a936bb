//! The word that survives the reset: free RAM keeps its contents across
//! the partition manager's warm reset (only the image is reloaded), so a
//! marker there tells the second run from the first.

/// Written before the reset.
pub const RESET_ASKED: u64 = 0x7E5E_7A5C_0000_0001;

/// 9 MiB: free RAM in the 16 MiB partition, far above the image (at 1 MiB,
/// reloaded by the reset) and below the loader's tables at the top.
const MARKER: u64 = 0x0090_0000;

/// Where the reference TSC page goes in the first run, and the RAM word
/// under it: 10 MiB, free RAM as the marker.
pub const REFERENCE_TSC_PAGE: u64 = 0x00A0_0000;
/// What the first run writes under the page.
pub const UNDER_THE_PAGE: u64 = 0x5A5A_0000_7E5E_7000;
/// The reference counter just before the reset (a word after the marker).
pub const COUNT_BEFORE_RESET: u64 = MARKER + 8;

/// The word at `at`, if that is free RAM.
pub fn read_at(at: u64) -> Option<u64> {
    tessera_guest_framework::layout::read_free_word(at)
}

pub fn write_at(at: u64, value: u64) {
    tessera_guest_framework::layout::write_free_word(at, value);
}

pub fn read() -> Option<u64> {
    read_at(MARKER)
}

pub fn write(value: u64) {
    write_at(MARKER, value);
}
