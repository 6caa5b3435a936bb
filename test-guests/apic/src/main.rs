//! `apic`: the system test of the local APIC the kernel gives a VP
//! (issue 13 item 1, `kernel/lapic/README.md`). It starts in xAPIC mode
//! (the page at `0xFEE00000`), then moves to x2APIC mode (the manifest
//! offers it) and checks, with interrupts of its own (gates for vectors
//! 32-255, `tessera_guest_framework::interrupt`):
//!
//! - CPUID and `IA32_APIC_BASE`: the APIC, x2APIC and TSC-deadline bits,
//!   the BSP flag, the legal and illegal transitions;
//! - that the page and the MSRs show the same registers, and that misuse
//!   of the MSRs is #GP and illegal vectors set ESR bits;
//! - self-IPIs (ICR self shorthand, own ID, SELF IPI) delivered before the
//!   next instruction when IF is set, and at STI when it is not;
//! - TPR masking (through the register and CR8), ISR nesting by priority
//!   class, EOI;
//! - the timer in one-shot, periodic and TSC-deadline modes, never early,
//!   periodic without drift, each waited for in HLT.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

mod delivery;
mod registers;
mod timer;

use tessera_guest_framework::{Suite, interrupt};

tessera_guest_framework::entry!(main);

fn main(suite: &mut Suite) {
    interrupt::install();
    registers::cpuid(suite);
    let Some(page) = registers::xapic(suite) else {
        return;
    };
    delivery::xapic(suite, &page);
    if !registers::to_x2apic(suite, &page) {
        return;
    }
    registers::x2apic_misuse(suite);
    delivery::x2apic(suite);
    timer::run(suite);
}
