//! Memory regions: create one from the component's quota, map it into a
//! domain the component controls (its own is in slot 0), share it by
//! passing a capability — derive a read-only copy first to share read-only.
//! Regions are read and written here only inside the ABI's region window,
//! where nothing else lives, so these accessors are safe: an address with
//! nothing mapped faults and stops the component.

use tessera_abi::{CapTransfer, REGION_WINDOW, Syscall};

use crate::error::Error;
use crate::syscall::{invoke, read_region, write_region};

/// A region of `pages` zeroed pages; its capability goes to `slot`.
pub fn create(slot: u32, pages: u64) -> Result<(), Error> {
    invoke(
        Syscall::MemoryCreate,
        0,
        [u64::from(slot), pages, 0, 0, 0, 0],
        CapTransfer::NONE,
    )
    .map(drop)
}

/// Maps the region in `region` into the domain in `domain` at `address`
/// (`flags`: `tessera_abi::page`).
pub fn map(region: u32, domain: u32, address: u64, flags: u64) -> Result<(), Error> {
    invoke(
        Syscall::MemoryMap,
        region,
        [u64::from(domain), address, flags, 0, 0, 0],
        CapTransfer::NONE,
    )
    .map(drop)
}

fn check_window(address: u64, words: usize) {
    let end = (words as u64)
        .checked_mul(8)
        .and_then(|bytes| address.checked_add(bytes));
    assert!(
        address.is_multiple_of(8)
            && REGION_WINDOW.contains(&address)
            && end.is_some_and(|end| end <= REGION_WINDOW.end),
        "region accesses stay inside the region window"
    );
}

/// Reads `out.len()` words at `address` (in the region window).
pub fn read(address: u64, out: &mut [u64]) {
    check_window(address, out.len());
    read_region(address, out);
}

/// Writes `words` at `address` (in the region window).
pub fn write(address: u64, words: &[u64]) {
    check_window(address, words.len());
    write_region(address, words);
}
