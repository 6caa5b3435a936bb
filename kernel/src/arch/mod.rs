//! x86-64 specifics: descriptor tables, exceptions, the local APIC, timing,
//! the time of day, and the few privileged instructions the rest of the kernel uses.
pub mod apic;
pub mod clock;
pub mod exceptions;
pub mod gdt;
pub mod host_events;
pub mod ioapic;
pub mod legacy_pic;
pub mod msr;
pub mod port;
pub mod syscall_msrs;
pub mod tsc;
pub mod user_context;
pub mod wall_clock;

/// Stops this CPU for good: interrupts off, then halt (an NMI would wake it,
/// hence the loop).
pub fn halt_forever() -> ! {
    x86_64::instructions::interrupts::disable();
    loop {
        x86_64::instructions::hlt();
    }
}
