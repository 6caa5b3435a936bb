//! Capability operations on the component's own capability space.
//!
//! A selector is a slot number, `0..64`. Rights are the bits of
//! [`crate::rights`] (`CALL`, `GRANT`, `WRITE`, ...).

use tessera_abi::{CapTransfer, Syscall};

use crate::error::Error;
use crate::syscall::invoke;

/// Derives the capability in `src` into the empty slot `dst`, holding
/// `rights` (a subset of the source's) and, for an unbadged endpoint
/// capability, `badge` (0: none). The source needs the `DERIVE` right.
pub fn derive(src: u32, dst: u32, rights: u32, badge: u64) -> Result<(), Error> {
    invoke(
        Syscall::CapDerive,
        src,
        [u64::from(dst), u64::from(rights), badge, 0, 0, 0],
        CapTransfer::NONE,
    )
    .map(drop)
}

/// Deletes the capability in `slot` (the slot becomes empty).
pub fn delete(slot: u32) -> Result<(), Error> {
    invoke(Syscall::CapDelete, slot, [0; 6], CapTransfer::NONE).map(drop)
}

/// Deletes every capability derived from the one in `slot` (in any
/// component it was passed to), keeping that one.
pub fn revoke(slot: u32) -> Result<(), Error> {
    invoke(Syscall::CapRevoke, slot, [0; 6], CapTransfer::NONE).map(drop)
}
