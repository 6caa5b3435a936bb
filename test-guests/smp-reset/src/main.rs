//! `smp-reset`: a partition reset on 2 VPs (system test `vm-smp-reset`,
//! issue 13). A reset is the whole machine's: every VP stops, and the
//! application processors go back to the state power-on gives them —
//! waiting for INIT/SIPI, their APICs reset (SDM Vol. 3A §10.4.7.1).
//!
//! First run: VP 0 starts VP 1 with the `smp` guest's start code
//! (INIT/SIPI), moves both VPs to x2APIC mode, sets VP 1 spinning in its
//! guest, leaves a marker in free RAM and asks for the reset through
//! `HV_X64_MSR_RESET` (TLFS md `partition-properties.md` § Partition
//! Reset). Second run (the marker is there):
//!
//! - VP 1 has not run in the reloaded image (no arrival, no HLT, no
//!   wake-up), and INIT alone does not start it;
//! - INIT/SIPI start it in real mode as at power-on (CS 0x0800, CR0
//!   0x60000010), its APIC as at power-on: xAPIC mode, enabled, not the
//!   BSP, software-disabled (before the reset it was in x2APIC mode, which
//!   INIT alone would have kept).
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use core::sync::atomic::Ordering;
use smp::apic::{ASSERT, INIT, STARTUP};
use smp::hw::START_PAGES;
use smp::{ap, apic, hw, irq, settle, wait_for};
use tessera_guest_framework::layout::{read_free_word, write_free_word};
use tessera_guest_framework::paging::DeviceWindow;
use tessera_guest_framework::{Outcome, Suite, cpu, ensure, ensure_eq, fail};

tessera_guest_framework::entry!(main);

/// 9 MiB: free RAM in the 16 MiB partition, above the image (reloaded by
/// the reset) and below the loader's tables.
const MARKER: u64 = 0x0090_0000;
/// What the first run leaves there before it asks for the reset.
const RESET_ASKED: u64 = 0x7E5E_75AF_0000_0001;
const HV_X64_MSR_RESET: u32 = 0x4000_0003;
/// CR0 after RESET: CD, NW, ET.
const CR0_RESET: u32 = 0x6000_0010;
/// `IA32_APIC_BASE` of an AP at power-on: the default page, enabled
/// (bit 11), xAPIC mode, not the BSP.
const AP_APIC_BASE_AT_RESET: u64 = 0xFEE0_0800;

fn main(suite: &mut Suite) {
    hw::install_idt(cpu::code_selector());
    if read_free_word(MARKER) == Some(RESET_ASKED) {
        write_free_word(MARKER, 0);
        after_reset(suite);
    } else {
        before_reset(suite);
    }
}

/// VP 0's APIC software-enabled (its page mapped), the start code in
/// place and VP 1 started by INIT/SIPI at vector 0x08.
fn start_vp1() -> Outcome {
    apic::write(apic::SVR, 0x1FF, false);
    hw::prepare_start_pages(ap::entry);
    hw::sti();
    hw::clear_seen();
    hw::set_next_stack(1);
    apic::send(INIT | ASSERT, 1, false);
    settle();
    apic::send(STARTUP | 0x08, 1, false);
    ensure!(
        wait_for(|| ap::ARRIVALS[1].count.load(Ordering::SeqCst) == 1),
        "VP 1 did not come after INIT/SIPI"
    );
    Ok(())
}

fn before_reset(suite: &mut Suite) {
    let ready = suite.check(
        "before the reset: VP 1 started, both VPs in x2APIC mode, VP 1 spinning in its guest",
        || {
            DeviceWindow::map(hw::APIC_PAGE, 0x1000)?;
            start_vp1()?;
            ensure!(
                ap::command(1, ap::Operation::ToX2apic, 0),
                "VP 1 did not move to x2APIC mode"
            );
            hw::wrmsr(0x1B, hw::rdmsr(0x1B) | 1 << 10);
            irq::set_x2apic(true);
            let spin = ap::post(1, ap::Operation::Spin, 0);
            ensure!(wait_for(|| ap::busy_with(1, spin)), "VP 1 did not spin");
            Ok(())
        },
    );
    if !ready {
        return;
    }
    suite.check("the reset MSR does not return", || {
        write_free_word(MARKER, RESET_ASKED);
        hw::wrmsr(HV_X64_MSR_RESET, 1);
        write_free_word(MARKER, 0);
        fail!("the write of 1 to HV_X64_MSR_RESET returned")
    });
}

fn after_reset(suite: &mut Suite) {
    suite.check(
        "after the reset VP 1 waits for INIT/SIPI: it has not run in the reloaded image, and INIT alone does not start it",
        || {
            settle();
            let arrivals = ap::ARRIVALS[1].count.load(Ordering::SeqCst);
            ensure_eq!(arrivals, 0, "VP 1 arrivals since the reset");
            ensure_eq!(ap::HALTED[1].load(Ordering::SeqCst), 0, "VP 1 halted since the reset");
            ensure_eq!(ap::WAKES[1].load(Ordering::SeqCst), 0, "VP 1 wake-ups since the reset");
            DeviceWindow::map(hw::APIC_PAGE, 0x1000)?;
            apic::write(apic::SVR, 0x1FF, false);
            apic::send(INIT | ASSERT, 1, false);
            settle();
            ensure_eq!(
                ap::ARRIVALS[1].count.load(Ordering::SeqCst),
                0,
                "VP 1 arrivals after INIT alone"
            );
            Ok(())
        },
    );
    suite.check(
        "after the reset INIT/SIPI start VP 1 as at power-on (CS 0x0800, CR0 0x60000010), its APIC at power-on (xAPIC mode, SVR 0xFF)",
        || {
            start_vp1()?;
            let arrival = &ap::ARRIVALS[1];
            let (cs, cr0, _) = hw::seen(START_PAGES[0]);
            ensure_eq!(cs, 0x0800, "CS");
            ensure_eq!(cr0, CR0_RESET, "CR0");
            ensure_eq!(
                arrival.apic_base.load(Ordering::SeqCst),
                AP_APIC_BASE_AT_RESET,
                "IA32_APIC_BASE"
            );
            ensure_eq!(arrival.svr.load(Ordering::SeqCst), 0xFF, "SVR");
            Ok(())
        },
    );
}
