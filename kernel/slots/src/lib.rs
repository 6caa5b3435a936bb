//! Where the kernel keeps its objects: generation-checked slot tables, and
//! heap allocation that fails with a status instead of ending the kernel.
//!
//! Pure logic with no hardware access, tested on the host.
//!
//! - [`Arena`] stores values in slots addressed by [`RawId`] (index plus
//!   generation) and reuses freed slots first: a table whose objects come
//!   and go never grows past its largest live population.
//! - [`Slots`] is an arena addressed by one typed id ([`SlotId`]), so a
//!   partition id cannot look up a VP; every access returns an `Option`
//!   that the caller handles (a destroyed object's id finds nothing).
//! - [`fallible`] has the allocations a system call may make: each returns
//!   [`OutOfMemory`] rather than aborting.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod arena;
pub mod fallible;
mod id;
mod table;

#[cfg(test)]
mod tests;

pub use arena::Arena;
pub use fallible::OutOfMemory;
pub use id::{RawId, SlotId};
pub use table::Slots;
