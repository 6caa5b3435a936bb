//! The APIC exits a VP answers without the kernel lock: RDMSR and WRMSR of
//! the x2APIC registers (`0x800`-`0x8FF`) and `IA32_TSC_DEADLINE`. A VP's
//! APIC is its CPU's alone while the VP runs (like its VMCB): nothing else
//! touches it but the locked path on the same CPU, and other CPUs only
//! while it is halted off every CPU (`lapic_entry`). So EOI, TPR, SELF IPI,
//! a fixed ICR to itself and the timer registers are answered here, and
//! the interrupt a write makes deliverable is injected before the guest
//! runs again — a self-IPI before the next instruction (Requirements for
//! Implementing the Microsoft Hypervisor Interface, § "APIC").
//!
//! Left to the locked path: `IA32_APIC_BASE` (a mode change changes CPUID
//! and the page), an ICR write of any other delivery mode (NMI, INIT,
//! start-up reach more than the APIC) or that may reach another VP
//! (`lapic_ipi`), and any exit while an event is being delivered.
use super::VpVmcb;
use super::skip::{Unlocked, next_rip_past};
use tessera_lapic::icr::{self, IcrCommand};
use tessera_lapic::{DeliveryMode, Effect, IA32_TSC_DEADLINE};
use tessera_svm::EventInjection;
use tessera_vcpu::GuestGprs;
use tessera_vcpu::instruction::Skipped;

/// The x2APIC MSRs (SDM Vol. 3A §10.12.1.2).
const X2APIC_MSRS: core::ops::RangeInclusive<u32> = 0x800..=0x8FF;
/// The x2APIC ICR.
const X2APIC_ICR: u32 = 0x830;

/// Answers the MSR exit in `vmcb` if it is one of the VP's APIC's
/// (`unlocked.apic`; see the module comment); `false` leaves it, untouched,
/// to the locked path. Not inlined into the exit loop: its size there
/// costs the CPUID and hypercall paths registers (measured: 3 instructions).
#[inline(never)]
pub fn answer_msr(vmcb: &mut VpVmcb, gprs: &mut GuestGprs, unlocked: &mut Unlocked<'_>) -> bool {
    let number = gprs.rcx as u32;
    if unlocked.apic.is_none() || (!X2APIC_MSRS.contains(&number) && number != IA32_TSC_DEADLINE) {
        return false;
    }
    let write = vmcb.control.exit_info1 == 1;
    let value = (vmcb.save.rax & 0xFFFF_FFFF) | gprs.rdx << 32;
    if write && number == X2APIC_ICR && !fixed_to_self(value, unlocked.solo) {
        return false;
    }
    let skipped = if write {
        Skipped::Wrmsr
    } else {
        Skipped::Rdmsr
    };
    let Some(next_rip) = next_rip_past(skipped, vmcb, unlocked) else {
        return false;
    };
    let Some(apic) = unlocked.apic.as_deref_mut() else {
        return false;
    };
    super::lapic_inject::tpr_from_vmcb(vmcb, apic);
    let now = crate::arch::tsc::read().wrapping_add(vmcb.control.tsc_offset);
    let mut timer_changed = false;
    let answer = if write {
        apic.write_msr(number, value, now).map(|effect| {
            match effect {
                Effect::Send(message) => {
                    super::lapic::deliver_own(apic, &message);
                }
                Effect::TimerChanged => timer_changed = true,
                // No I/O APIC yet to take an EOI broadcast.
                Effect::EoiBroadcast(_) | Effect::None => {}
            }
            None
        })
    } else {
        apic.read_msr(number, now).map(Some)
    };
    match answer {
        // #GP with RIP on the instruction.
        Err(_) => *vmcb.event_inj_mut() = super::exits::general_protection(),
        Ok(read) => {
            if let Some(read) = read {
                *vmcb.rax_mut() = read & 0xFFFF_FFFF;
                gprs.rdx = read >> 32;
            }
            *vmcb.rip_mut() = next_rip;
            *vmcb.event_inj_mut() = EventInjection::NONE;
            // The instruction completed: an interrupt shadow it was in
            // ended (`lapic_entry::end_shadow_past`).
            if vmcb.control.interrupt_state.interrupt_shadow() {
                vmcb.interrupt_state_mut().set_interrupt_shadow(false);
            }
        }
    }
    let deadline = super::lapic_inject::inject(vmcb, apic);
    super::lapic_inject::guard_cr8(vmcb, Some(apic));
    if let (true, Some(deadline)) = (timer_changed, deadline) {
        let cpu = crate::percpu::current_index() as usize;
        crate::arch::apic::interrupt_by(cpu, deadline);
    }
    true
}

/// Whether an x2APIC ICR value sends a fixed interrupt that can reach
/// only the sender (the self shorthand, or any destination when the VP is
/// its partition's only one), or nothing at all (an illegal vector, which
/// only sets an ESR bit). Other IPIs go to the locked path (`lapic_ipi`).
fn fixed_to_self(value: u64, solo: bool) -> bool {
    match icr::decode(value, true) {
        IcrCommand::Send(message) => {
            message.mode == DeliveryMode::Fixed
                && (solo || message.target == tessera_lapic::Target::SelfOnly)
        }
        IcrCommand::Unsent(_) => true,
    }
}
