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
//!
//! With a local APIC in x2APIC mode it switches to x2APIC, raises the TPR
//! software-enables it, and leaves a periodic timer firing (interrupts stay disabled, so its
//! vector waits in the IRR); after the reset `IA32_APIC_BASE` is back at
//! its power-on value (xAPIC, enabled, BSP) and, in x2APIC mode again, the
//! APIC is software-disabled, the timer masked and stopped, the TPR 0 and nothing is pending (SDM
//! Vol. 3A §10.4.7.1, "Local APIC State After Power-Up or Reset").
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
const APIC_BASE: u32 = 0x1B;
/// `IA32_APIC_BASE` after power-on: the default page, enabled (bit 11),
/// the BSP (bit 8), xAPIC mode (bit 10 clear).
const APIC_BASE_AT_RESET: u64 = 0xFEE0_0000 | 1 << 11 | 1 << 8;
const APIC_BASE_X2APIC: u64 = 1 << 10;
const X2APIC_TPR: u32 = 0x808;
const X2APIC_SVR: u32 = 0x80F;
/// Software-enabled (bit 8), spurious vector 0xFF.
const SVR_ENABLED: u64 = 0x1FF;
/// After reset: software-disabled, spurious vector 0xFF.
const SVR_AT_RESET: u64 = 0xFF;
/// The IRR's 32 vectors from 64 on (vector 0x40 is its bit 0).
const X2APIC_IRR_64: u32 = 0x822;
const X2APIC_LVT_TIMER: u32 = 0x832;
const X2APIC_TIMER_INITIAL: u32 = 0x838;
/// Loop rounds the VP must get through under a 10 us periodic timer.
const STARVATION_WORK: u64 = 40_000_000;
/// The first run's timer: vector 0x40, periodic (bit 17), unmasked.
const PERIODIC_VECTOR_64: u64 = 0x40 | 1 << 17;
/// An LVT entry after reset: masked (bit 16), all else 0.
const LVT_MASKED: u64 = 1 << 16;

/// CPUID 1 ECX[21]: the partition offers x2APIC mode.
fn x2apic_offered() -> bool {
    cpu::cpuid(1, 0).ecx & 1 << 21 != 0
}

/// Switches the enabled xAPIC to x2APIC mode.
fn enter_x2apic() -> Result<(), tessera_guest_framework::Failure> {
    let base = cpu::rdmsr(APIC_BASE).map_err(|c| failure!("{c}"))?;
    cpu::wrmsr(APIC_BASE, base | APIC_BASE_X2APIC).map_err(|c| failure!("{c}"))
}

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
        if x2apic_offered() {
            suite.check(
                "after the reset the local APIC is in its power-on state: xAPIC mode, software-disabled, TPR 0, timer masked and stopped, nothing pending",
                || {
                    let base = cpu::rdmsr(APIC_BASE).map_err(|c| failure!("{c}"))?;
                    ensure_eq!(base, APIC_BASE_AT_RESET, "IA32_APIC_BASE");
                    enter_x2apic()?;
                    let read = |msr| cpu::rdmsr(msr).map_err(|c| failure!("{c}"));
                    ensure_eq!(read(X2APIC_SVR)?, SVR_AT_RESET, "spurious-interrupt vector register");
                    ensure_eq!(read(X2APIC_TPR)?, 0, "TPR");
                    ensure_eq!(read(X2APIC_LVT_TIMER)?, LVT_MASKED, "LVT timer");
                    ensure_eq!(read(X2APIC_TIMER_INITIAL)?, 0, "timer initial count");
                    ensure_eq!(read(X2APIC_IRR_64)? & 1, 0, "IRR bit of vector 0x40");
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
    if x2apic_offered()
        && !suite.check(
            "the local APIC is in x2APIC mode, software-enabled, with TPR 0x20 and a 10 us periodic timer whose vector waits in the IRR, and the VP keeps running",
            || {
                enter_x2apic()?;
                let write = |msr, value| cpu::wrmsr(msr, value).map_err(|c| failure!("{c}"));
                write(X2APIC_SVR, SVR_ENABLED)?;
                write(X2APIC_TPR, 0x20)?;
                write(X2APIC_LVT_TIMER, PERIODIC_VECTOR_64)?;
                // 1000 APIC ticks: a period of a few microseconds.
                write(X2APIC_TIMER_INITIAL, 1000)?;
                let mut spins = 0u64;
                while cpu::rdmsr(X2APIC_IRR_64).map_err(|c| failure!("{c}"))? & 1 == 0 {
                    spins += 1;
                    ensure!(spins < 10_000_000, "the timer's vector never reached the IRR");
                    core::hint::spin_loop();
                }
                // A timer this fast must not starve the VP: its host
                // interrupts may not turn every VMRUN into an exit before
                // the guest gets anywhere (`arch::apic::GUEST_TIMER_FLOOR_US`).
                // The work is plain instructions, no exits of its own.
                let mut sum = 0u64;
                for i in 0..STARVATION_WORK {
                    sum = core::hint::black_box(sum.wrapping_add(i));
                }
                ensure!(sum != 0, "the loop ran");
                Ok(())
            },
        )
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
