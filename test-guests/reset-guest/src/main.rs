//! `reset-guest`: asks for a partition reset through `HV_X64_MSR_RESET`
//! (TLFS md `partition-properties.md` § Partition Reset) and checks that
//! the reset cleared the Hv#1 state.
//!
//! First run: sets the guest OS ID, enables and locks the hypercall page,
//! leaves a marker in free RAM, and writes 1 to the reset MSR (the host
//! must not let it return). Second run (the marker is there): the guest OS
//! ID reads 0 and the hypercall MSR reads 0 — enable and lock clear, which
//! only a reset may do ("Once set, only a system reset can clear the bit",
//! TLFS md `hypercall-interface.md`) — then it passes.
//!
//! With `hv-time` and `hv-tsc-invariant` it also enables the reference TSC
//! page and sets the invariant-TSC control before the reset; after it the
//! reference TSC MSR reads 0 and the RAM under the page shows again (TLFS
//! md `timers.md`: 0 "at the guest partition creation time"), the control
//! reads 0 with CPUID 0x80000007 EDX[8] hidden again, and the reference
//! counter has kept counting ("set to 0 when a partition is created", not
//! on a reset).
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod marker;

use tessera_guest_framework::{Suite, cpu, ensure, ensure_eq, fail, failure, println};

tessera_guest_framework::entry!(main);

const GUEST_OS_ID: u32 = 0x4000_0000;
const HYPERCALL: u32 = 0x4000_0001;
const RESET: u32 = 0x4000_0003;
/// Enable (bit 0) and Locked (bit 1).
const ENABLE_AND_LOCK: u64 = 0b11;
/// A page of free RAM for the hypercall page (the GPA is what matters).
const HYPERCALL_PAGE: u64 = 0x0080_0000;
const TIME_REF_COUNT: u32 = 0x4000_0020;
const REFERENCE_TSC: u32 = 0x4000_0021;
const TSC_INVARIANT_CONTROL: u32 = 0x4000_0118;

/// Privileges AccessPartitionReferenceTsc (9) and
/// AccessTscInvariantControls (15), CPUID 0x40000003 EAX.
fn time_granted() -> (bool, bool) {
    let eax = cpu::cpuid(0x4000_0003, 0).eax;
    (eax & 1 << 9 != 0, eax & 1 << 15 != 0)
}

fn main(suite: &mut Suite) {
    if marker::read() == Some(marker::RESET_ASKED) {
        println!("# reset-guest: second run, after the reset");
        suite.check("after the reset the guest OS ID reads 0", || {
            let id = cpu::rdmsr(GUEST_OS_ID).map_err(|c| failure!("{c}"))?;
            ensure_eq!(id, 0, "guest OS ID");
            Ok(())
        });
        suite.check(
            "after the reset the hypercall page is disabled and unlocked",
            || {
                let msr = cpu::rdmsr(HYPERCALL).map_err(|c| failure!("{c}"))?;
                ensure_eq!(
                    msr & ENABLE_AND_LOCK,
                    0,
                    "hypercall MSR enable and lock bits"
                );
                Ok(())
            },
        );
        let (page, control) = time_granted();
        if page {
            suite.check(
                "after the reset the reference TSC page is disabled, the RAM under it shows, and the reference counter kept counting",
                || {
                    let msr = cpu::rdmsr(REFERENCE_TSC).map_err(|c| failure!("{c}"))?;
                    ensure_eq!(msr, 0, "HV_X64_MSR_REFERENCE_TSC");
                    let under = marker::read_at(marker::REFERENCE_TSC_PAGE).unwrap_or(0);
                    ensure_eq!(under, marker::UNDER_THE_PAGE, "the RAM word under the page");
                    let count = cpu::rdmsr(TIME_REF_COUNT).map_err(|c| failure!("{c}"))?;
                    let before = marker::read_at(marker::COUNT_BEFORE_RESET).unwrap_or(0);
                    ensure!(before > 0 && count > before, "count {count} after {before}");
                    Ok(())
                },
            );
        }
        if control {
            suite.check(
                "after the reset the invariant-TSC control reads 0 and CPUID 0x80000007 EDX[8] is hidden",
                || {
                    let msr = cpu::rdmsr(TSC_INVARIANT_CONTROL).map_err(|c| failure!("{c}"))?;
                    ensure_eq!(msr, 0, "HV_X64_MSR_TSC_INVARIANT_CONTROL");
                    ensure_eq!(cpu::cpuid(0x8000_0007, 0).edx & 1 << 8, 0, "invariant TSC bit");
                    Ok(())
                },
            );
        }
        marker::write(0);
        return;
    }
    let ready = suite.check(
        "the reset MSR is advertised (privilege AccessResetReg)",
        || {
            let ebx_eax = cpu::cpuid(0x4000_0003, 0);
            ensure!(
                ebx_eax.eax & (1 << 7) != 0,
                "EAX {:#x}: give the partition hv-reset",
                ebx_eax.eax
            );
            Ok(())
        },
    );
    let armed = ready
        && suite.check(
            "the guest OS ID is set and the hypercall page enabled and locked",
            || {
                cpu::wrmsr(GUEST_OS_ID, 0x8000_0000_0000_0001).map_err(|c| failure!("{c}"))?;
                cpu::wrmsr(HYPERCALL, HYPERCALL_PAGE | ENABLE_AND_LOCK)
                    .map_err(|c| failure!("{c}"))?;
                let msr = cpu::rdmsr(HYPERCALL).map_err(|c| failure!("{c}"))?;
                ensure_eq!(msr & 1, 1, "hypercall MSR enable bit");
                Ok(())
            },
        );
    if !armed {
        return;
    }
    let (page, control) = time_granted();
    if page
        && !suite.check(
            "the reference TSC page is enabled over a RAM word, which it covers",
            || {
                marker::write_at(marker::REFERENCE_TSC_PAGE, marker::UNDER_THE_PAGE);
                cpu::wrmsr(REFERENCE_TSC, marker::REFERENCE_TSC_PAGE | 1)
                    .map_err(|c| failure!("{c}"))?;
                let sequence = marker::read_at(marker::REFERENCE_TSC_PAGE).unwrap_or(0);
                ensure!(
                    sequence != marker::UNDER_THE_PAGE,
                    "the page does not cover the RAM"
                );
                let count = cpu::rdmsr(TIME_REF_COUNT).map_err(|c| failure!("{c}"))?;
                marker::write_at(marker::COUNT_BEFORE_RESET, count);
                Ok(())
            },
        )
    {
        return;
    }
    if control
        && !suite.check("the invariant-TSC control is set", || {
            cpu::wrmsr(TSC_INVARIANT_CONTROL, 1).map_err(|c| failure!("{c}"))?;
            ensure_eq!(
                cpu::rdmsr(TSC_INVARIANT_CONTROL).map_err(|c| failure!("{c}"))?,
                1,
                "HV_X64_MSR_TSC_INVARIANT_CONTROL"
            );
            Ok(())
        })
    {
        return;
    }
    marker::write(marker::RESET_ASKED);
    println!("# reset-guest: asking for a reset");
    let _ = cpu::wrmsr(RESET, 1);
    suite.check("the reset MSR write does not return", || {
        fail!("it returned")
    });
}
