//! Time: what a component can read itself (the TSC) and the time of day
//! the kernel keeps.
use crate::error::Error;
use crate::syscall::invoke;
use tessera_abi::{CapTransfer, NO_SELECTOR, Syscall};

/// The CPU's time-stamp counter. Under QEMU with `-icount shift=0`, it
/// advances by one per instruction executed, so differences are
/// instruction counts (what `cargo xtask bench` reports).
#[inline(always)]
pub fn cycles() -> u64 {
    crate::syscall::read_time_stamp_counter()
}

/// Nanoseconds since the Unix epoch (UTC), from the host's real-time
/// clock (`Syscall::WallClock`); an error if the host's clock could not
/// be read at boot.
pub fn wall_clock_ns() -> Result<u64, Error> {
    invoke(Syscall::WallClock, NO_SELECTOR, [0; 6], CapTransfer::NONE).map(|out| out.words[0])
}
