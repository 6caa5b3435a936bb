//! The synthetic timer's figure (issue 14): a direct-mode timer's expiry
//! to its handler. Only where the partition offers direct-mode synthetic
//! timers (leaf 0x40000003: AccessSyntheticTimerRegs, DirectSyntheticTimers).
//!
//! The guest spins reading the TSC until the timer's interrupt came; the
//! figure is the handler's first TSC read minus the last one the loop took
//! before the interrupt (at most one loop iteration, a few instructions,
//! more than the path itself): the host timer's interrupt ending the
//! guest, the kernel's timer poll, the post to the APIC and the injection,
//! the entry, and the guest's interrupt delivery.

use tessera_guest_framework::interrupt::{self, Eoi};
use tessera_guest_framework::{Suite, cpu, ensure_eq, println};

use crate::least_ticks;

const STIMER0_CONFIG: u32 = 0x4000_00B0;
const STIMER0_COUNT: u32 = 0x4000_00B1;
const TIME_REF_COUNT: u32 = 0x4000_0020;
/// Enable, direct mode, the vector.
const DIRECT: u64 = 1 | 1 << 12 | (VECTOR as u64) << 4;
/// Not the self-IPI's (0x40) or the APIC timer's (0x41) (`apic.rs`).
const VECTOR: u8 = 0x42;
/// 200 µs ahead: past the kernel's timer floor (50 µs).
const AHEAD: u64 = 2_000;

/// Whether the partition offers direct-mode synthetic timers.
pub fn offered() -> bool {
    let leaf = cpu::cpuid(0x4000_0003, 0);
    leaf.eax & 1 << 3 != 0 && leaf.edx & 1 << 19 != 0
}

/// The TSC of the last loop iteration before `vector`'s interrupt came
/// (its count was `before` when the timer was set).
fn spin_until_interrupt(vector: u8, before: u32) -> u64 {
    let mut last = cpu::rdtsc();
    loop {
        let now = cpu::rdtsc();
        if interrupt::count(vector) != before {
            return last;
        }
        last = now;
    }
}

pub fn run(suite: &mut Suite) {
    interrupt::install();
    interrupt::set_eoi(Eoi::X2apicMsr);
    let mut taken = 0;
    let expiry = least_ticks(|| {
        let before = interrupt::count(VECTOR);
        let Ok(now) = cpu::rdmsr(TIME_REF_COUNT) else {
            return 0;
        };
        if cpu::wrmsr(STIMER0_COUNT, now + AHEAD).is_err()
            || cpu::wrmsr(STIMER0_CONFIG, DIRECT).is_err()
        {
            return 0;
        }
        interrupt::sti();
        let last = spin_until_interrupt(VECTOR, before);
        interrupt::cli();
        taken += 1;
        interrupt::last_tsc().wrapping_sub(last)
    });
    suite.check("every timer expiry reached its handler", || {
        ensure_eq!(
            interrupt::count(VECTOR),
            taken,
            "direct-mode timer interrupts"
        );
        ensure_eq!(taken, 6, "expiries measured (1 warm-up, 5 measured)");
        Ok(())
    });
    println!("bench: stimer-direct {expiry}");
}
