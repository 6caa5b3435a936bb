//! The word that survives the reset: free RAM keeps its contents across
//! the partition manager's warm reset (only the image is reloaded), so a
//! marker there tells the second run from the first.
#![allow(unsafe_code)]

/// Written before the reset.
pub const RESET_ASKED: u64 = 0x7E5E_7A5C_0000_0001;

/// 9 MiB: free RAM in the 16 MiB partition, far above the image (at 1 MiB,
/// reloaded by the reset) and below the loader's tables at the top.
const MARKER: u64 = 0x0090_0000;

fn address() -> Option<*mut u64> {
    tessera_guest_framework::layout::free_ram()
        .filter(|ram| ram.contains(&MARKER))
        .map(|_| MARKER as *mut u64)
}

pub fn read() -> Option<u64> {
    // SAFETY: the address is free RAM (layout::free_ram), 8-byte aligned,
    // where no Rust object lives.
    address().map(|at| unsafe { at.read_volatile() })
}

pub fn write(value: u64) {
    if let Some(at) = address() {
        // SAFETY: as in `read`.
        unsafe { at.write_volatile(value) };
    }
}
