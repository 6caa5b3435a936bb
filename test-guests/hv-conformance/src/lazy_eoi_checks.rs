//! Lazy EOI through the VP assist page (TLFS md `virtual-interrupts.md`
//! § EOI Assist): the host sets "No EOI required" when it injects an
//! edge-triggered interrupt with nothing of lower priority pending; the
//! guest then ends the interrupt by clearing the bit, and the host must
//! have done the EOI by the time the guest looks at its APIC again.
//! Checked when the partition grants AccessIntrCtrlRegs (`hv-vapic`),
//! whose EOI MSR is the other way to end an interrupt.

use core::sync::atomic::Ordering;

use tessera_guest_framework::{Failure, Suite, ensure, ensure_eq, failure};
use tlfs::msr::{self as m, HvVpAssistPageMsr};

use crate::apic::{self, in_service, self_ipi_icr};
use crate::config::Config;
use crate::expect::write;
use crate::memory::{self, PAGE};
use crate::pages::Pages;
use crate::trap::{IPI_COUNT, IPI_VECTOR, LAZY_ASSIST, LAZY_COUNT, LAZY_SKIPPED, LAZY_VECTOR};

/// Bit 0 of the EOI Assist field, the assist page's first 32 bits.
const NO_EOI_REQUIRED: u32 = 1;

pub fn run(suite: &mut Suite, config: &Config, pages: &Pages) {
    if !config.privileges.access_intr_ctrl_regs() {
        suite.note(format_args!(
            "skipped: lazy EOI (AccessIntrCtrlRegs, whose EOI MSR it stands in for, is not advertised)"
        ));
        return;
    }
    let field = pages.vp_assist;
    suite.check(
        "lazy EOI: a lone interrupt comes with \"No EOI required\", and the EOI the guest skips is done by the host",
        || {
            with_assist_page(pages, |registers| {
                let (taken, skipped) = (counted(&LAZY_COUNT), counted(&LAZY_SKIPPED));
                send(&[self_ipi_icr(LAZY_VECTOR)])?;
                ensure_eq!(counted(&LAZY_COUNT) - taken, 1, "interrupts taken");
                ensure_eq!(
                    counted(&LAZY_SKIPPED) - skipped,
                    1,
                    "EOIs the host let the guest skip"
                );
                ensure_eq!(
                    memory::read_u32(field) & NO_EOI_REQUIRED,
                    0,
                    "No EOI required after the guest cleared it"
                );
                // Reading the APIC page exits to the host, which has to see
                // the guest's EOI first.
                ensure!(
                    !in_service(registers, LAZY_VECTOR),
                    "vector {LAZY_VECTOR:#x} is still in service after its lazy EOI"
                );
                // Were it still in service, its class would hold it back.
                send(&[self_ipi_icr(LAZY_VECTOR)])?;
                ensure_eq!(counted(&LAZY_COUNT) - taken, 2, "interrupts taken");
                Ok(())
            })
        },
    );
    suite.check(
        "lazy EOI: with another interrupt pending at the injection, \"No EOI required\" stays clear",
        || {
            with_assist_page(pages, |registers| {
                let (taken, skipped) = (counted(&LAZY_COUNT), counted(&LAZY_SKIPPED));
                let plain = counted(&IPI_COUNT);
                // Both requested while interrupts are off: the higher vector
                // is injected first with the lower one still requested.
                send(&[self_ipi_icr(IPI_VECTOR), self_ipi_icr(LAZY_VECTOR)])?;
                ensure_eq!(counted(&LAZY_COUNT) - taken, 1, "interrupts taken on the lazy vector");
                ensure_eq!(counted(&IPI_COUNT) - plain, 1, "interrupts taken on the plain vector");
                ensure_eq!(
                    counted(&LAZY_SKIPPED) - skipped,
                    0,
                    "EOIs skipped while a lower-priority interrupt was pending"
                );
                ensure!(
                    !in_service(registers, LAZY_VECTOR) && !in_service(registers, IPI_VECTOR),
                    "an interrupt is still in service"
                );
                Ok(())
            })
        },
    );
    suite.check(
        "lazy EOI: an EOI through HV_X64_MSR_EOI while \"No EOI required\" is set ends the interrupt and clears the bit",
        || {
            with_assist_page(pages, |registers| {
                let plain = counted(&IPI_COUNT);
                // The 0x40 handler always writes the EOI MSR.
                send(&[self_ipi_icr(IPI_VECTOR)])?;
                ensure_eq!(counted(&IPI_COUNT) - plain, 1, "interrupts taken");
                ensure_eq!(
                    memory::read_u32(field) & NO_EOI_REQUIRED,
                    0,
                    "No EOI required after a conventional EOI"
                );
                ensure!(
                    !in_service(registers, IPI_VECTOR),
                    "vector {IPI_VECTOR:#x} is still in service"
                );
                Ok(())
            })
        },
    );
}

fn counted(counter: &core::sync::atomic::AtomicU64) -> u64 {
    counter.load(Ordering::SeqCst)
}

fn send(icrs: &[u64]) -> Result<(), Failure> {
    apic::send_all_then_take(icrs)
        .map_err(|caught| failure!("WRMSR HV_X64_MSR_ICR raised {caught}"))
}

/// Runs `body` with the APIC enabled and the VP assist page enabled at
/// `pages.vp_assist` (its EOI Assist field zero at the start), handing
/// the lazy handler the field; disables both afterwards.
fn with_assist_page(
    pages: &Pages,
    body: impl FnOnce(u64) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let enable = HvVpAssistPageMsr::new()
        .with_enable(true)
        .with_gpn(pages.vp_assist / PAGE);
    write(m::HV_X64_MSR_VP_ASSIST_PAGE, enable.into_bits())?;
    let field = memory::read_u32(pages.vp_assist);
    LAZY_ASSIST.store(pages.vp_assist, Ordering::SeqCst);
    let outcome = if field == 0 {
        apic::with_enabled_apic(body)
    } else {
        Err(failure!(
            "the EOI Assist field of a new assist page is {field:#x}, not 0"
        ))
    };
    LAZY_ASSIST.store(0, Ordering::SeqCst);
    write(m::HV_X64_MSR_VP_ASSIST_PAGE, 0)?;
    outcome
}
