//! The 8259 pair's interrupts through LINT0 in ExtINT mode (the MP
//! specification's virtual wire), with COM1's IRQ 4 as the source: the
//! vector the 8259 gives from its ICW2 base, the IRR→ISR move at the
//! acknowledge, EOI, the IMR, automatic EOI, nothing with LVT LINT0 masked,
//! and the 8259 straight on INTR with the APIC globally disabled. The I/O
//! APIC's pin 4 stays masked, so every interrupt here is the 8259's.

use crate::com1::{IER, IER_THR_EMPTY, IIR, IIR_THR_EMPTY, THR, quiet, wait_for};
use tessera_guest_framework::cpu::{rdmsr, wrmsr};
use tessera_guest_framework::interrupt::{self, Eoi};
use tessera_guest_framework::paging::DeviceWindow;
use tessera_guest_framework::port::{inb, outb};
use tessera_guest_framework::{Outcome, Suite, ensure, ensure_eq, fail};

/// ICW2 of the master (IRQ 0-7 at 0x20-0x27) and of the slave.
const MASTER_BASE: u8 = 0x20;
const SLAVE_BASE: u8 = 0x28;
/// COM1's IRQ on the master, and the vector the 8259 gives it.
const IRQ: u8 = 4;
const VECTOR: u8 = MASTER_BASE + IRQ;
/// LVT LINT0: ExtINT (delivery mode 111b), and its mask bit.
const LINT0: u64 = 0x350;
const EXTINT: u32 = 0x700;
const LVT_MASKED: u32 = 1 << 16;
/// OCW3: read IRR, read ISR. OCW2: non-specific EOI, specific EOI.
const READ_IRR: u8 = 0x0A;
const READ_ISR: u8 = 0x0B;
const EOI: u8 = 0x20;
const SPECIFIC_EOI: u8 = 0x60;
const IA32_APIC_BASE: u32 = 0x1B;
const APIC_GLOBAL_ENABLE: u64 = 1 << 11;

/// ICW1-4 for the cascaded pair (ICW4 `0x01`, or `0x03` for automatic
/// EOI), then every IRQ masked but IRQ 4 (and the cascade).
fn initialise(icw4: u8) {
    for (command, data, base, cascade) in [
        (0x20, 0x21, MASTER_BASE, 0x04),
        (0xA0, 0xA1, SLAVE_BASE, 0x02),
    ] {
        outb(command, 0x11);
        outb(data, base);
        outb(data, cascade);
        outb(data, icw4);
    }
    outb(0x21, !(1 << IRQ) & !(1 << 2));
    outb(0xA1, 0xFF);
}

fn master(ocw3: u8) -> u8 {
    outb(0x20, ocw3);
    inb(0x20)
}

/// COM1 raises IRQ 4 (transmit-empty, enabled with THR empty).
fn raise() {
    interrupt::reset();
    outb(IER, IER_THR_EMPTY);
}

/// The 8259's interrupt came once, and IRQ 4 is in service: reading IIR
/// ends the UART's request; `eoi` ends the 8259's.
fn taken_once(eoi: u8) -> Outcome {
    ensure_eq!(wait_for(VECTOR, 1), 1, "vector {VECTOR:#x} from the 8259");
    ensure_eq!(interrupt::total(), 1, "no other vector came");
    ensure_eq!(master(READ_ISR), 1 << IRQ, "ISR after the acknowledge");
    ensure_eq!(master(READ_IRR) & 1 << IRQ, 0, "IRR after the acknowledge");
    ensure_eq!(inb(IIR) & 0x0F, IIR_THR_EMPTY, "IIR names THR empty");
    outb(0x20, eoi);
    ensure_eq!(master(READ_ISR), 0, "ISR after the EOI");
    ensure_eq!(wait_for(VECTOR, 2), 1, "nothing more after the EOI");
    Ok(())
}

pub fn run(suite: &mut Suite, apic: &DeviceWindow) {
    interrupt::set_eoi(Eoi::Manual);
    initialise(0x01);
    apic.write32(LINT0, EXTINT);
    suite.check(
        "8259 through LINT0 (ExtINT): IRQ 4 arrives as ICW2 base + 4, in service until a non-specific EOI",
        || {
            raise();
            let outcome = taken_once(EOI);
            quiet();
            outcome
        },
    );
    suite.check(
        "8259 IMR: a masked IRQ 4 waits in IRR, arrives once unmasked; a specific EOI ends it",
        || {
            outb(0x21, 0xFF);
            raise();
            let outcome = (|| {
                ensure_eq!(wait_for(VECTOR, 1), 0, "interrupts through the masked IRQ");
                ensure_eq!(master(READ_IRR) & 1 << IRQ, 1 << IRQ, "IRR while masked");
                outb(0x21, !(1 << IRQ) & !(1 << 2));
                taken_once(SPECIFIC_EOI | IRQ)
            })();
            quiet();
            outcome
        },
    );
    suite.check(
        "LVT LINT0 masked: the 8259's request reaches nothing until LINT0 is unmasked",
        || {
            apic.write32(LINT0, LVT_MASKED | EXTINT);
            raise();
            let outcome = (|| {
                ensure_eq!(wait_for(VECTOR, 1), 0, "interrupts through a masked LINT0");
                ensure_eq!(
                    master(READ_IRR) & 1 << IRQ,
                    1 << IRQ,
                    "IRR, never acknowledged"
                );
                ensure_eq!(master(READ_ISR), 0, "ISR");
                apic.write32(LINT0, EXTINT);
                taken_once(EOI)
            })();
            quiet();
            outcome
        },
    );
    suite.check(
        "8259 automatic EOI (ICW4 AEOI): nothing stays in service after the acknowledge",
        || {
            initialise(0x03);
            raise();
            let outcome = (|| {
                ensure_eq!(wait_for(VECTOR, 1), 1, "vector {VECTOR:#x}");
                ensure_eq!(master(READ_ISR), 0, "ISR under AEOI");
                ensure_eq!(inb(IIR) & 0x0F, IIR_THR_EMPTY, "IIR");
                // A second request needs no EOI.
                outb(THR, b'\n');
                ensure_eq!(wait_for(VECTOR, 2), 2, "the next IRQ 4 without an EOI");
                Ok(())
            })();
            quiet();
            initialise(0x01);
            outcome
        },
    );
    suite.check(
        "APIC globally disabled: the 8259 drives INTR directly",
        || {
            let Ok(base) = rdmsr(IA32_APIC_BASE) else {
                return fail!("RDMSR IA32_APIC_BASE faulted");
            };
            ensure!(
                base & APIC_GLOBAL_ENABLE != 0,
                "APIC_BASE {base:#x}: not enabled"
            );
            if wrmsr(IA32_APIC_BASE, base & !APIC_GLOBAL_ENABLE).is_err() {
                return fail!("disabling the APIC faulted");
            }
            raise();
            let outcome = taken_once(EOI);
            quiet();
            // Back on: the APIC at its reset state (LINT0 masked), then
            // software-enabled as `com1` left it.
            let enabled = wrmsr(IA32_APIC_BASE, base);
            apic.write32(0xF0, 0x1FF);
            ensure!(enabled.is_ok(), "re-enabling the APIC faulted");
            ensure_eq!(apic.read32(LINT0), LVT_MASKED, "LINT0 after the re-enable");
            outcome
        },
    );
    // Leave the 8259 masked and LINT0 as reset left it.
    outb(0x21, 0xFF);
    apic.write32(LINT0, LVT_MASKED);
    interrupt::set_eoi(Eoi::XapicMmio(apic.base() + 0xB0));
}
