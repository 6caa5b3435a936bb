//! The pieces of the `smp` guest that the `smp-bench` guest shares: the
//! start code of the application processors and their command loop
//! (`hw`, `ap`), the APIC registers in both modes (`apic`), and the
//! interrupt recorder (`irq`).
#![no_std]
#![deny(unsafe_code)]

pub mod ap;
pub mod apic;
pub mod hw;
pub mod irq;

use tessera_guest_framework::cpu;

/// How long the guest waits for something that should happen, in TSC
/// ticks (seconds at any TSC rate QEMU gives; the system test's limits
/// watch progress, this only turns a hang into a failed check).
pub const PATIENCE: u64 = 1 << 35;
/// How long it waits before concluding that something did not happen.
pub const SETTLE: u64 = 1 << 27;

/// Spins until `done`, for at most [`PATIENCE`]; whether it came.
pub fn wait_for(done: impl Fn() -> bool) -> bool {
    let start = cpu::rdtsc();
    loop {
        if done() {
            return true;
        }
        if cpu::rdtsc().wrapping_sub(start) > PATIENCE {
            return done();
        }
        core::hint::spin_loop();
    }
}

/// Lets [`SETTLE`] ticks pass (interrupts on): what was sent arrives.
pub fn settle() {
    let start = cpu::rdtsc();
    while cpu::rdtsc().wrapping_sub(start) < SETTLE {
        core::hint::spin_loop();
    }
}
