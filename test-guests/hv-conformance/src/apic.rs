//! The self-IPI of Requirements § Inter-Processor Interrupts (IPI): sent
//! through HV_X64_MSR_ICR with interrupts enabled, it must be taken before
//! the next instruction.
#![allow(unsafe_code)]

use tessera_guest_framework::Caught;
use tlfs::msr::HV_X64_MSR_ICR;

use crate::trap::{self, guarded, guarded_asm};

/// ICR low: fixed delivery, assert, destination shorthand "self" (bits
/// 19:18 = 01), vector `vector`.
#[must_use]
pub fn self_ipi_icr(vector: u8) -> u64 {
    u64::from(vector) | 1 << 14 | 1 << 18
}

/// Enables interrupts, writes `icr` to HV_X64_MSR_ICR and reads the IPI
/// counter as the very next instruction, then disables interrupts again.
/// Returns what that instruction saw.
pub fn send_and_look(icr: u64) -> Result<u64, Caught> {
    guarded(|| {
        let seen: u64;
        // The IDT has a handler for the IPI vector (it counts and
        // sends EOI) and the spurious vector; interrupts are on only for
        // the WRMSR and the load after it, and off again at the end (also
        // after a #GP, see `trap`).
        // SAFETY: by the argument just above.
        unsafe {
            guarded_asm!(
                "mov qword ptr [rip + {count}], 0",
                "sti",
                "nop",
                "wrmsr",
                "mov {seen}, qword ptr [rip + {count}]",
                "cli";
                count = sym trap::IPI_COUNT,
                seen = out(reg) seen,
                in("ecx") HV_X64_MSR_ICR,
                in("eax") icr as u32,
                in("edx") (icr >> 32) as u32,
            );
        }
        seen
    })
}
