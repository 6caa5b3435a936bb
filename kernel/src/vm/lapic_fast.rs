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
//! (`lapic_ipi`), the EOI of a level-triggered vector where the partition
//! routes EOI broadcasts (`device_interrupt`), and any exit while an
//! event is being delivered.
use super::VpVmcb;
use super::skip::{Unlocked, next_rip_past};
use tessera_lapic::icr::{self, IcrCommand};
use tessera_lapic::{ApicMode, DeliveryMode, Effect, IA32_TSC_DEADLINE};
use tessera_svm::EventInjection;
use tessera_vcpu::GuestGprs;
use tessera_vcpu::instruction::Skipped;

/// The x2APIC MSRs (SDM Vol. 3A §10.12.1.2).
const X2APIC_MSRS: core::ops::RangeInclusive<u32> = 0x800..=0x8FF;
/// The x2APIC EOI register.
const X2APIC_EOI: u32 = 0x80B;
/// The x2APIC ICR.
const X2APIC_ICR: u32 = 0x830;

/// Answers the MSR exit in `vmcb` if it is one of the VP's APIC's
/// (`unlocked.apic`; see the module comment); `false` leaves it, untouched,
/// to the locked path. An EOI, the hottest, has a path of its own
/// ([`answer_eoi`]); the test that picks it is all this adds to the exit
/// loop (the rest stays out of line: inlined, their size costs the CPUID
/// and hypercall paths registers, measured: 3 instructions).
#[inline(always)]
pub fn answer_msr(vmcb: &mut VpVmcb, gprs: &mut GuestGprs, unlocked: &mut Unlocked<'_>) -> bool {
    if gprs.rcx as u32 == X2APIC_EOI && vmcb.control.exit_info1 == 1 {
        return answer_eoi(vmcb, gprs, unlocked);
    }
    answer_register(vmcb, gprs, unlocked)
}

/// WRMSR of the x2APIC EOI register: the highest in-service vector ends
/// (SDM Vol. 3A §10.8.5), and injection runs only if a vector is requested,
/// which the lower processor priority may now let through. With nothing
/// requested an EOI changes nothing else injection or the CR8 guard look
/// at: the IRR is as the last entry left it (only APIC exits, which each
/// run them, change it), `V_TPR` is the TPR the guest set, and the timer
/// needs no poll here (the host timer ends the guest at its deadline,
/// `interrupt_by`, and the entry after that polls it).
///
/// Left to the locked path, untouched: a value other than 0 or an APIC
/// not in x2APIC mode (its #GP), and the EOI of a level-triggered vector
/// when the partition routes EOI broadcasts (its I/O APIC's remote IRR,
/// `device_interrupt::eoi_broadcast`).
#[inline(never)]
fn answer_eoi(vmcb: &mut VpVmcb, gprs: &GuestGprs, unlocked: &mut Unlocked<'_>) -> bool {
    let Some(apic) = unlocked.apic.as_deref() else {
        return false;
    };
    // WRMSR writes EDX:EAX; the upper halves of RAX and RDX are ignored.
    if vmcb.save.rax as u32 | gprs.rdx as u32 != 0 || apic.mode() != ApicMode::X2apic {
        return false;
    }
    let end = apic.next_eoi();
    if unlocked.eoi_routed && end.is_some_and(|end| end.broadcast) {
        return false;
    }
    let Some(next_rip) = next_rip_past(Skipped::Wrmsr, vmcb, unlocked) else {
        return false;
    };
    let Some(apic) = unlocked.apic.as_deref_mut() else {
        return false;
    };
    if let Some(end) = end {
        apic.end(end);
    }
    completed(vmcb, next_rip);
    if !apic.irr().is_empty() {
        super::lapic_inject::tpr_from_vmcb(vmcb, apic);
        let now = crate::arch::tsc::read().wrapping_add(vmcb.control.tsc_offset);
        super::lapic_inject::inject(vmcb, apic, now);
        super::lapic_inject::guard_cr8(vmcb, Some(apic));
    }
    // Alone in its partition, no sender arbitrates over it. (The TPR the
    // guest set by `MOV CR8` counts in the PPR it publishes.)
    if !unlocked.solo {
        super::lapic_inject::tpr_from_vmcb(vmcb, apic);
        publish(unlocked.published_priority, apic);
    }
    true
}

/// The APIC's PPR for senders' lowest-priority arbitration (`lapic_ipi`).
#[inline]
fn publish(published: &core::sync::atomic::AtomicU16, apic: &tessera_lapic::LocalApic) {
    published.store(
        apic.published_priority(),
        core::sync::atomic::Ordering::Relaxed,
    );
}

/// The instruction at RIP completed: RIP past it, no event to inject, and
/// an interrupt shadow it was in ended (`lapic_entry::end_shadow_past`).
#[inline(always)]
pub(super) fn completed(vmcb: &mut VpVmcb, next_rip: u64) {
    *vmcb.rip_mut() = next_rip;
    *vmcb.event_inj_mut() = EventInjection::NONE;
    if vmcb.control.interrupt_state.interrupt_shadow() {
        vmcb.interrupt_state_mut().set_interrupt_shadow(false);
    }
}

/// Asserts fixed, edge-triggered `vector` at the VP's own APIC, as a
/// self-IPI does, and injects what is now deliverable before the guest
/// runs again (the lock-free `HvSignalEvent`: `synic_fast`). The caller
/// completed the instruction and checked that `unlocked.apic` is there;
/// `false` (nothing done) if it is not.
pub(super) fn raise_own(vmcb: &mut VpVmcb, unlocked: &mut Unlocked<'_>, vector: u8) -> bool {
    let Some(apic) = unlocked.apic.as_deref_mut() else {
        return false;
    };
    let message = tessera_lapic::Message {
        mode: DeliveryMode::Fixed,
        vector,
        trigger: tessera_lapic::Trigger::Edge,
        target: tessera_lapic::Target::SelfOnly,
    };
    super::lapic::deliver_own(apic, &message);
    super::lapic_inject::tpr_from_vmcb(vmcb, apic);
    let now = crate::arch::tsc::read().wrapping_add(vmcb.control.tsc_offset);
    super::lapic_inject::inject(vmcb, apic, now);
    super::lapic_inject::guard_cr8(vmcb, Some(apic));
    if !unlocked.solo {
        publish(unlocked.published_priority, apic);
    }
    true
}

/// Every APIC MSR exit but an EOI ([`answer_msr`]).
#[inline(never)]
fn answer_register(vmcb: &mut VpVmcb, gprs: &mut GuestGprs, unlocked: &mut Unlocked<'_>) -> bool {
    let number = gprs.rcx as u32;
    if unlocked.apic.is_none() || (!X2APIC_MSRS.contains(&number) && number != IA32_TSC_DEADLINE) {
        return false;
    }
    let write = vmcb.control.exit_info1 == 1;
    let value = (vmcb.save.rax & 0xFFFF_FFFF) | gprs.rdx << 32;
    if write && number == X2APIC_ICR && !fixed_to_self(value, unlocked.solo) {
        return false;
    }
    // An EOI broadcast the partition routes is the locked path's
    // (`answer_eoi` takes the others).
    if write && number == X2APIC_EOI && unlocked.eoi_routed {
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
                // Without an EOI route a broadcast reaches no I/O APIC.
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
            completed(vmcb, next_rip);
        }
    }
    let deadline = super::lapic_inject::inject(vmcb, apic, now);
    super::lapic_inject::guard_cr8(vmcb, Some(apic));
    if !unlocked.solo {
        publish(unlocked.published_priority, apic);
    }
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
    // The self shorthand (bits 19:18 = 01) with fixed delivery (bits 10:8
    // = 000), the common self-IPI, told without the decode (which says
    // the same: sent to the sender, or unsent for an illegal vector).
    const SHORTHAND_AND_MODE: u64 = 0b11 << 18 | 0b111 << 8;
    if value & SHORTHAND_AND_MODE == 1 << 18 {
        return true;
    }
    match icr::decode(value, true) {
        IcrCommand::Send(message) => {
            message.mode == DeliveryMode::Fixed
                && (solo || message.target == tessera_lapic::Target::SelfOnly)
        }
        IcrCommand::Unsent(_) => true,
    }
}
