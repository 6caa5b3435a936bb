//! The local APIC as the Hv#1 checks use it: enabled for the length of a
//! check, and self-IPIs sent through HV_X64_MSR_ICR — one with interrupts
//! enabled, which Requirements § Inter-Processor Interrupts (IPI) says
//! must be taken before the next instruction, or several while they are
//! off.
#![allow(unsafe_code)]

use tessera_guest_framework::{Caught, Failure, cpu};
use tlfs::msr::{HV_X64_MSR_ICR, HV_X64_MSR_TPR};

use crate::expect::{read, write};
use crate::memory::{self, Mapping, slot};
use crate::trap::{self, SPURIOUS_VECTOR, guarded, guarded_asm};

const APIC_BASE_ENABLE: u64 = 1 << 11;
const APIC_BASE_ADDRESS: u64 = 0x000F_FFFF_FFFF_F000;
/// Spurious-interrupt vector register: offset, and the APIC software
/// enable bit.
const SVR: u64 = 0xF0;
const SVR_ENABLE: u32 = 1 << 8;
/// The in-service register's first 32 bits (8 registers, 16 bytes apart).
const ISR: u64 = 0x100;

/// Runs `body` with the local APIC globally and software enabled (the
/// spurious vector [`SPURIOUS_VECTOR`]) and TPR 0, handing it the address
/// its xAPIC page is mapped at; puts `IA32_APIC_BASE` and the SVR back
/// afterwards, whatever `body` returned.
pub fn with_enabled_apic<T>(body: impl FnOnce(u64) -> Result<T, Failure>) -> Result<T, Failure> {
    let base = read(cpu::msr::APIC_BASE)?;
    if base & APIC_BASE_ENABLE == 0 {
        write(cpu::msr::APIC_BASE, base | APIC_BASE_ENABLE)?;
    }
    let registers = memory::map(slot::APIC, base & APIC_BASE_ADDRESS, Mapping::Device);
    let svr = memory::read_u32(registers + SVR);
    memory::write_u32(
        registers + SVR,
        (svr & !0xFF) | SVR_ENABLE | u32::from(SPURIOUS_VECTOR),
    );
    let outcome = write(HV_X64_MSR_TPR, 0).and_then(|()| body(registers));
    memory::write_u32(registers + SVR, svr);
    memory::unmap(slot::APIC);
    if base & APIC_BASE_ENABLE == 0 {
        write(cpu::msr::APIC_BASE, base)?;
    }
    outcome
}

/// Whether `vector` is in service, read from the APIC page at `registers`.
#[must_use]
pub fn in_service(registers: u64, vector: u8) -> bool {
    let word = memory::read_u32(registers + ISR + 0x10 * u64::from(vector / 32));
    word & (1 << (vector % 32)) != 0
}

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

/// With interrupts disabled, writes each of `icrs` to HV_X64_MSR_ICR in
/// turn, then enables interrupts for two instructions, so that everything
/// sent is taken at once, in the APIC's priority order.
pub fn send_all_then_take(icrs: &[u64]) -> Result<(), Caught> {
    guarded(|| {
        for &icr in icrs {
            // A WRMSR of the ICR with interrupts off (the checks run with
            // IF clear); a #GP is caught by `guarded_asm!`.
            // SAFETY: by the argument just above.
            unsafe {
                guarded_asm!(
                    "wrmsr";
                    in("ecx") HV_X64_MSR_ICR,
                    in("eax") icr as u32,
                    in("edx") (icr >> 32) as u32,
                );
            }
        }
    })?;
    take_pending()
}

/// Enables interrupts for two instructions, so that what is requested is
/// taken, in the APIC's priority order.
pub fn take_pending() -> Result<(), Caught> {
    guarded(|| {
        // The IDT has handlers for every vector the checks send.
        // SAFETY: interrupts are on for the two NOPs only.
        unsafe {
            guarded_asm!("sti", "nop", "nop", "cli";);
        }
    })
}
