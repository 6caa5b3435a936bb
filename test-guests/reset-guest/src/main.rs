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
    marker::write(marker::RESET_ASKED);
    println!("# reset-guest: asking for a reset");
    let _ = cpu::wrmsr(RESET, 1);
    suite.check("the reset MSR write does not return", || {
        fail!("it returned")
    });
}
