//! The local APIC's figures (issue 13): an EOI through the x2APIC MSR,
//! a self-IPI from the ICR write to its handler's first instructions, and
//! what a timer interrupt costs the guest it interrupts. Only where the
//! partition has a local APIC with x2APIC offered.

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
const LVT_TIMER: u32 = 0x832;
/// LVT timer bits 18:17 = 10b: TSC-deadline mode.
const TSC_DEADLINE_MODE: u64 = 2 << 17;
const LVT_MASKED: u64 = 1 << 16;
const IA32_TSC_DEADLINE: u32 = 0x6E0;
const TIMER_VECTOR: u8 = 0x41;
/// The timer's deadline, in TSC ticks after its arming: past the WRMSR's
/// own exit, well inside the window.
const TIMER_DELAY: u64 = 2_000;
/// Rounds of the timer window's loop (two instructions each): beyond the
/// least delay the kernel gives a host timer for a guest's (50 µs, which
/// is 50,000 ticks at the 1 GHz TSC of `-icount shift=0`), with room.
const TIMER_WINDOW: u64 = 100_000;

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
    timer(suite);
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

/// The cost of one APIC timer interrupt to the guest it interrupts: a
/// window of guest work with a TSC deadline armed inside it, minus the
/// same window with the timer disarmed by the same WRMSR. The difference
/// is everything the expiry took from the guest — the host timer's exit,
/// the kernel's injection and entry, the handler (its recorder and its
/// x2APIC EOI) and the IRET back — however late after the deadline the
/// host timer fired (that waiting is guest work in both windows).
fn timer(suite: &mut Suite) {
    let armed = suite.check("the timer in TSC-deadline mode", || {
        cpu::wrmsr(LVT_TIMER, TSC_DEADLINE_MODE | u64::from(TIMER_VECTOR))?;
        Ok(())
    });
    if !armed {
        return;
    }
    let before = interrupt::count(TIMER_VECTOR);
    interrupt::sti();
    let quiet = least_ticks(|| loops::wrmsr_then_spin(IA32_TSC_DEADLINE, 0, TIMER_WINDOW));
    let interrupted = least_ticks(|| {
        let deadline = cpu::rdtsc() + TIMER_DELAY;
        loops::wrmsr_then_spin(IA32_TSC_DEADLINE, deadline, TIMER_WINDOW)
    });
    interrupt::cli();
    let taken = interrupt::count(TIMER_VECTOR) - before;
    let _ = cpu::wrmsr(LVT_TIMER, LVT_MASKED);
    let counted = suite.check("every armed deadline interrupted its window once", || {
        tessera_guest_framework::ensure_eq!(
            taken,
            6,
            "timer interrupts taken (1 warm-up, 5 measured)"
        );
        Ok(())
    });
    if counted {
        println!(
            "bench: timer-interrupt {}",
            interrupted.saturating_sub(quiet)
        );
    }
}
