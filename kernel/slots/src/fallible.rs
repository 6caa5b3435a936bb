//! Heap allocation that fails with an error instead of ending the kernel.
//!
//! The kernel's global allocator cannot grow, and an infallible allocation
//! that fails (`Box::new`, `Vec::push`, `collect`) aborts. Everything a
//! system call allocates goes through here (or `try_reserve` directly; the
//! kernel has its own fallible `Box`), so an exhausted heap is a status for
//! the caller.

use alloc::vec::Vec;
use core::fmt;

/// The kernel heap could not hold the allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OutOfMemory;

impl fmt::Display for OutOfMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the kernel heap is exhausted")
    }
}

/// Appends `value` to `vec`, growing it fallibly.
///
/// # Errors
///
/// [`OutOfMemory`]; `vec` is unchanged and `value` dropped.
pub fn try_push<T>(vec: &mut Vec<T>, value: T) -> Result<(), OutOfMemory> {
    vec.try_reserve(1).map_err(|_| OutOfMemory)?;
    vec.push(value);
    Ok(())
}

/// An empty vector with room for `capacity` values.
///
/// # Errors
///
/// [`OutOfMemory`].
pub fn try_with_capacity<T>(capacity: usize) -> Result<Vec<T>, OutOfMemory> {
    let mut vec = Vec::new();
    vec.try_reserve_exact(capacity).map_err(|_| OutOfMemory)?;
    Ok(vec)
}
