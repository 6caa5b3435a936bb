//! Delivery: self-IPIs before the next instruction (the Requirements'
//! rule), at STI when interrupts were off, TPR masking through the
//! register and CR8, ISR nesting by priority class, EOI.

use tessera_guest_framework::interrupt::{self, Eoi};
use tessera_guest_framework::paging::DeviceWindow;
use tessera_guest_framework::{Outcome, Suite, cpu, ensure, ensure_eq};

use crate::registers::{SELF_IPI, msr, offset};

/// ICR destination shorthand "self" (bits 19:18 = 01b).
const ICR_SELF: u64 = 1 << 18;

/// `check` with the interrupt records cleared and interrupts on, then off.
fn with_interrupts(check: impl FnOnce() -> Outcome) -> Outcome {
    interrupt::reset();
    interrupt::sti();
    let outcome = check();
    interrupt::cli();
    outcome
}

/// The vector of the `index`th interrupt, or 0xFFFF for none.
fn nth(index: usize) -> u32 {
    interrupt::nth(index).map_or(0xFFFF, u32::from)
}

/// One interrupt of `vector` came, and it interrupted `next`.
fn delivered_at(vector: u8, next: u64) -> Outcome {
    ensure_eq!(interrupt::total(), 1, "interrupts taken");
    ensure_eq!(nth(0), u32::from(vector), "vector");
    ensure_eq!(
        interrupt::last_rip(),
        next,
        "interrupted RIP (the instruction after the write)"
    );
    Ok(())
}

pub fn xapic(suite: &mut Suite, page: &DeviceWindow) {
    interrupt::set_eoi(Eoi::XapicMmio(page.base() + offset::EOI));
    suite.check(
        "xAPIC: an ICR write with the self shorthand is taken before the next instruction",
        || {
            // TPR 0x35 from the register checks: vector 0x41 is above it.
            with_interrupts(|| {
                let icr = page.base() + offset::ICR_LOW;
                let next = interrupt::write32_marking_next(icr, (ICR_SELF | 0x41) as u32);
                delivered_at(0x41, next)?;
                ensure_eq!(
                    page.read32(offset::ISR + 0x20),
                    0,
                    "ISR of 0x40-0x5F after the EOI"
                );
                Ok(())
            })
        },
    );
}

pub fn x2apic(suite: &mut Suite) {
    interrupt::set_eoi(Eoi::X2apicMsr);
    suite.check(
        "x2APIC: a SELF IPI is taken before the next instruction",
        || {
            cpu::wrmsr(msr(offset::TPR), 0)?;
            with_interrupts(|| delivered_at(0x42, interrupt::wrmsr_marking_next(SELF_IPI, 0x42)))
        },
    );
    suite.check(
        "x2APIC: ICR with the self shorthand, and with its own ID, before the next instruction",
        || {
            with_interrupts(|| {
                let next = interrupt::wrmsr_marking_next(msr(offset::ICR_LOW), ICR_SELF | 0x43);
                delivered_at(0x43, next)
            })?;
            // Physical destination 0 (its own x2APIC ID) in bits 63:32.
            with_interrupts(|| delivered_at(0x44, interrupt::wrmsr_marking_next(0x830, 0x44)))
        },
    );
    suite.check(
        "with IF clear a SELF IPI waits in the IRR and is taken right after STI",
        || {
            interrupt::reset();
            cpu::wrmsr(SELF_IPI, 0x45)?;
            ensure_eq!(interrupt::total(), 0, "interrupts taken with IF clear");
            ensure_eq!(
                cpu::rdmsr(msr(offset::IRR) + 2)?,
                1 << 5,
                "IRR of 0x40-0x5F"
            );
            // STI's shadow covers one instruction; the interrupt is taken
            // before the second.
            interrupt::window();
            ensure_eq!(interrupt::count(0x45), 1, "0x45 taken after STI");
            ensure_eq!(cpu::rdmsr(msr(offset::IRR) + 2)?, 0, "IRR after");
            Ok(())
        },
    );
    suite.check(
        "TPR 0x50 holds back classes 4 and 5, not 6; lowering it delivers them highest first",
        || {
            with_interrupts(|| {
                cpu::wrmsr(msr(offset::TPR), 0x50)?;
                cpu::wrmsr(SELF_IPI, 0x48)?;
                cpu::wrmsr(SELF_IPI, 0x58)?;
                ensure_eq!(interrupt::total(), 0, "taken under TPR 0x50");
                cpu::wrmsr(SELF_IPI, 0x68)?;
                ensure_eq!(nth(0), 0x68, "class 6 through TPR 0x50");
                cpu::wrmsr(msr(offset::TPR), 0)?;
                ensure_eq!(interrupt::total(), 3, "taken after TPR 0");
                ensure_eq!(nth(1), 0x58, "second");
                ensure_eq!(nth(2), 0x48, "third");
                Ok(())
            })
        },
    );
    suite.check(
        "CR8 masks as the TPR does, and lowering CR8 delivers at once",
        || {
            with_interrupts(|| {
                interrupt::set_cr8(5);
                cpu::wrmsr(SELF_IPI, 0x49)?;
                ensure_eq!(interrupt::total(), 0, "taken under CR8 5");
                ensure_eq!(cpu::rdmsr(msr(offset::TPR))?, 0x50, "TPR under CR8 5");
                interrupt::set_cr8(0);
                core::hint::spin_loop();
                ensure_eq!(interrupt::count(0x49), 1, "0x49 taken after CR8 0");
                Ok(())
            })
        },
    );
    interrupt::set_eoi(Eoi::Manual);
    suite.check(
        "ISR nesting: a higher class interrupts an in-service vector, the same class waits; \
         EOI ends the highest in service",
        || with_interrupts(nesting),
    );
    interrupt::set_eoi(Eoi::X2apicMsr);
    suite.check(
        "a self NMI sent from the NMI handler waits for its IRET, then is taken",
        nmi_masked_until_iret,
    );
}

/// The CPU blocks NMIs from an NMI's delivery to the IRET that ends its
/// handler (AMD APM vol. 2 § 8.2.2 "NMI"; Intel SDM vol. 3A §6.7.1).
fn nmi_masked_until_iret() -> Outcome {
    interrupt::install_nmi();
    interrupt::reset();
    interrupt::resend_nmi_from_handler();
    cpu::wrmsr(msr(offset::ICR_LOW), 0b100 << 8 | ICR_SELF)?;
    ensure_eq!(
        interrupt::nmis_at_resend().unwrap_or(0),
        1,
        "NMIs taken when the handler's own NMI request returned"
    );
    // The second comes once the IRET has run: wait for it while the count
    // moves on nothing else (a bounded number of looks, not a time).
    for _ in 0..50_000_000u64 {
        if interrupt::count(interrupt::NMI_VECTOR) >= 2 {
            break;
        }
        core::hint::spin_loop();
    }
    ensure_eq!(
        interrupt::count(interrupt::NMI_VECTOR),
        2,
        "NMIs taken after the handler's IRET"
    );
    Ok(())
}

fn isr_bit(vector: u8) -> Result<bool, tessera_guest_framework::Failure> {
    let word = cpu::rdmsr(msr(offset::ISR) + u32::from(vector / 32))?;
    Ok(word & 1 << (vector % 32) != 0)
}

fn nesting() -> Outcome {
    let eoi = || cpu::wrmsr(msr(offset::EOI), 0);
    cpu::wrmsr(SELF_IPI, 0x50)?;
    ensure_eq!(interrupt::total(), 1, "0x50 taken");
    ensure!(isr_bit(0x50)?, "0x50 not in service");
    ensure_eq!(
        cpu::rdmsr(msr(offset::PPR))?,
        0x50,
        "PPR with 0x50 in service"
    );
    cpu::wrmsr(SELF_IPI, 0x5A)?;
    ensure_eq!(interrupt::total(), 1, "0x5A (same class) waits behind 0x50");
    cpu::wrmsr(SELF_IPI, 0x61)?;
    ensure_eq!(nth(1), 0x61, "0x61 (higher class) nests");
    ensure!(isr_bit(0x61)? && isr_bit(0x50)?, "0x61 and 0x50 in service");
    eoi()?;
    ensure!(
        !isr_bit(0x61)? && isr_bit(0x50)?,
        "the EOI ended 0x61, not 0x50"
    );
    ensure_eq!(interrupt::total(), 2, "0x5A still waits");
    eoi()?;
    ensure_eq!(nth(2), 0x5A, "0x5A once 0x50 ended");
    ensure!(isr_bit(0x5A)? && !isr_bit(0x50)?, "0x5A in service alone");
    eoi()?;
    ensure_eq!(
        cpu::rdmsr(msr(offset::ISR) + 2)?,
        0,
        "ISR of 0x40-0x5F at the end"
    );
    ensure_eq!(cpu::rdmsr(msr(offset::PPR))?, 0, "PPR at the end");
    Ok(())
}
