//! The local APIC's figures (issue 13): an EOI through the x2APIC MSR,
//! and a self-IPI from the ICR write to its handler's first instructions.
//! Only where the partition has a local APIC with x2APIC offered.

use tessera_guest_framework::interrupt::{self, Eoi};
use tessera_guest_framework::{Suite, cpu, println};

use crate::{ITERATIONS, least_ticks, loops, per_iteration};

const IA32_APIC_BASE: u32 = 0x1B;
const X2APIC_ENABLE: u64 = 3 << 10;
const SVR: u32 = 0x80F;
const EOI: u32 = 0x80B;
const ICR: u32 = 0x830;
/// ICR: fixed, destination shorthand "self", this vector.
const SELF_IPI: u64 = 1 << 18 | VECTOR as u64;
const VECTOR: u8 = 0x40;

/// Whether CPUID offers x2APIC.
pub fn offered() -> bool {
    cpu::cpuid(1, 0).ecx & 1 << 21 != 0
}

pub fn run(suite: &mut Suite) {
    let ready = suite.check("x2APIC mode on, the APIC software-enabled", || {
        let base = cpu::rdmsr(IA32_APIC_BASE)?;
        cpu::wrmsr(IA32_APIC_BASE, base | X2APIC_ENABLE)?;
        cpu::wrmsr(SVR, 0x1FF)?;
        Ok(())
    });
    if !ready {
        return;
    }
    let baseline = least_ticks(|| loops::wrmsr_baseline(ITERATIONS));
    let eoi = least_ticks(|| loops::wrmsr(EOI, 0, ITERATIONS));
    println!("bench: eoi-x2apic {}", per_iteration(eoi, baseline));

    interrupt::install();
    interrupt::set_eoi(Eoi::X2apicMsr);
    interrupt::sti();
    let self_ipi = least_ticks(|| {
        let written = interrupt::wrmsr_after_rdtsc(ICR, SELF_IPI);
        interrupt::last_tsc().wrapping_sub(written)
    });
    interrupt::cli();
    let delivered = interrupt::count(VECTOR);
    suite.check("every self-IPI reached its handler", || {
        tessera_guest_framework::ensure_eq!(
            delivered,
            6,
            "self-IPIs taken (1 warm-up, 5 measured)"
        );
        Ok(())
    });
    println!("bench: self-ipi {self_ipi}");
}
