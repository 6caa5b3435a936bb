//! `smp`: the system test of guest SMP on the local APIC (issue 13 item 2,
//! `kernel/lapic/README.md`). VP 0 (the bootstrap processor) finds the
//! partition's other VPs by starting them with INIT and a start-up IPI,
//! one after the other, until one does not come (so the same image runs
//! on 1, 2 and 4 VPs, and the system tests' markers say how many must
//! come). Then, between all of them, with interrupts of its own
//! (`hw::install_idt`, recorded per VP by `irq`):
//!
//! - the start: an AP runs nothing before its SIPI, not on INIT alone,
//!   starts in real mode at the vector's page, and ignores a second SIPI;
//! - fixed IPIs between every ordered pair of VPs (physical destination);
//! - NMI IPIs both ways;
//! - logical destinations: flat, cluster (with the all-clusters ID), and
//!   lowest priority (exactly one VP of the set each time);
//! - the shorthands self, all-including-self, all-excluding-self;
//! - an AP halted in HLT woken by an IPI (every command an AP runs is
//!   also one: it sleeps in HLT until its doorbell);
//! - with `hv-time`: the reference TSC page and `TIME_REF_COUNT` read in
//!   turn on every VP never go back;
//! - then, in x2APIC mode: INIT/SIPI again (the AP comes back through the
//!   vector 0x09 page, its APIC reset and still in x2APIC mode), IPIs
//!   between every pair, logical x2APIC destinations, all-excluding-self.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod checks;

use smp::{ap, apic, hw};
use tessera_guest_framework::paging::DeviceWindow;
use tessera_guest_framework::{Suite, cpu};

tessera_guest_framework::entry!(main);
fn main(suite: &mut Suite) {
    hw::install_idt(cpu::code_selector());
    let mapped = suite.check("map the xAPIC page 0xFEE00000 (uncached)", || {
        DeviceWindow::map(hw::APIC_PAGE, 0x1000).map(|_| ())
    });
    if !mapped {
        return;
    }
    apic::write(apic::SVR, 0x1FF, false);
    apic::write(apic::TPR, 0, false);
    hw::prepare_start_pages(ap::entry);
    hw::sti();
    let vps = checks::bring_up(suite);
    checks::reference_time(suite, vps);
    checks::xapic(suite, vps);
    if checks::to_x2apic(suite, vps) {
        checks::x2apic(suite, vps);
    }
    hw::cli();
}
