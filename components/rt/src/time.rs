//! Time, as far as a component can read it itself.

/// The CPU's time-stamp counter. Under QEMU with `-icount shift=0`, it
/// advances by one per instruction executed, so differences are
/// instruction counts (what `cargo xtask bench` reports).
#[inline(always)]
pub fn cycles() -> u64 {
    crate::syscall::read_time_stamp_counter()
}
