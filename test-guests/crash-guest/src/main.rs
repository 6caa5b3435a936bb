//! `crash-guest`: reports a crash the way Windows and Linux do on Hyper-V,
//! through the guest crash MSRs (TLFS md `partition-properties.md` § Guest
//! Crash Enlightenment Interface), and expects the host to stop it there.
//!
//! It needs the Hv#1 interface with `hv-crash` (CPUID `0x40000003` EDX
//! bit 10, `GuestCrashMsrsAvailable`). It writes P0-P2, points P3 (GPA)
//! and P4 (length) at [`MESSAGE`], and writes `HV_X64_MSR_CRASH_CTL` with
//! CrashMessage (bit 62) and CrashNotify (bit 63). The host must stop the
//! partition (a `TESSERA_GUEST_CRASH` lifecycle exit; its log names P0-P4
//! and the message). If the guest runs on, it fails.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use tessera_guest_framework::{Suite, cpu, ensure, fail};
use tlfs::cpuid::HvFeatureIdentificationEdx;
use tlfs::msr::{self as m, HvCrashCtlRegContents};

tessera_guest_framework::entry!(main);

/// The crash message: the kernel logs it as `guest crash message: …`.
pub const MESSAGE: &str = "crash-guest: the crash MSRs work";
/// P0, the bug check code of a Windows crash; here a recognisable value.
pub const P0: u64 = 0xC0FF_EE00_DEAD_BEEF;
pub const P1: u64 = 0x1;
pub const P2: u64 = 0x2;

fn main(suite: &mut Suite) {
    let advertised = suite.check(
        "CPUID 0x40000003 EDX bit 10: the crash MSRs are available",
        || {
            let edx = cpu::cpuid(0x4000_0003, 0).edx;
            ensure!(
                HvFeatureIdentificationEdx::from_bits(edx).guest_crash_msrs_available(),
                "EDX {edx:#x}: give the partition hv = [\"hv-crash\"]"
            );
            Ok(())
        },
    );
    if !advertised {
        return;
    }
    let ctl = HvCrashCtlRegContents::new()
        .with_crash_message(true)
        .with_crash_notify(true);
    let written = suite.check(
        "HV_X64_MSR_CRASH_P0-P4 take the parameters and the message's GPA and length",
        || {
            // The guest's image is identity-mapped: the address is the GPA.
            let gpa = MESSAGE.as_ptr() as u64;
            for (msr, value) in [
                (m::HV_X64_MSR_CRASH_P0, P0),
                (m::HV_X64_MSR_CRASH_P1, P1),
                (m::HV_X64_MSR_CRASH_P2, P2),
                (m::HV_X64_MSR_CRASH_P3, gpa),
                (m::HV_X64_MSR_CRASH_P4, MESSAGE.len() as u64),
            ] {
                if let Err(caught) = cpu::wrmsr(msr, value) {
                    return fail!("WRMSR {msr:#x}: {caught:?}");
                }
            }
            Ok(())
        },
    );
    if !written {
        return;
    }
    suite.note(format_args!(
        "crash-guest: writing HV_X64_MSR_CRASH_CTL {:#x} (CrashNotify, CrashMessage); the host should stop the partition now",
        ctl.into_bits()
    ));
    let result = cpu::wrmsr(m::HV_X64_MSR_CRASH_CTL, ctl.into_bits());
    suite.check("the host stops the partition on CrashNotify", || {
        fail!("WRMSR HV_X64_MSR_CRASH_CTL returned {result:?}")
    });
}
