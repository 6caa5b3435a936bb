//! Injection of a VP's APIC interrupts into its VMCB (`kernel/lapic/
//! README.md` § "Injection on SVM", step 3), shared by the entry from the
//! locked path (`lapic_entry`) and the lock-free APIC exits (`lapic_fast`).
use super::VpVmcb;
use tessera_lapic::LocalApic;
use tessera_svm::Intercept;
use tessera_svm::intercept::RegIndex;

/// Before VMRUN: the timer polled, the TPR handed to `V_TPR`, and the
/// highest deliverable vector injected through `EVENTINJ` when the guest
/// is interruptible (IF set, no interrupt shadow, no event being
/// injected), else an interrupt window requested (`V_IRQ` and the VINTR
/// intercept; at that exit the kernel comes back here). The vector moves
/// to the ISR only when it is injected. Returns the host TSC of the APIC's
/// next timer deadline, if any.
///
/// `now` is the guest TSC (the caller's read, which it may share with the
/// register access it just made).
#[inline]
pub fn inject(vmcb: &mut VpVmcb, apic: &mut LocalApic, now: u64) -> Option<u64> {
    let offset = vmcb.control.tsc_offset;
    apic.poll_timer(now);
    let tpr_class = apic.tpr() >> 4;
    if vmcb.control.v_intr.v_tpr() != tpr_class {
        vmcb.v_intr_mut().set_v_tpr(tpr_class);
    }
    let deadline = apic.next_timer_deadline().map(|d| d.wrapping_sub(offset));
    // Nothing requested (most exits): neither an injection nor a window,
    // and no 256-bit scan.
    if apic.irr().is_empty() {
        return deadline;
    }
    let interrupts_on = vmcb.save.rflags & (1 << 9) != 0;
    let shadow = vmcb.control.interrupt_state.interrupt_shadow();
    if interrupts_on && !shadow && !vmcb.control.event_inj.valid() {
        // `acknowledge` finds the deliverable vector itself: one scan.
        if let Some(vector) = apic.acknowledge() {
            *vmcb.event_inj_mut() = tessera_svm::EventInjection::external_interrupt(vector);
            if vmcb.control.v_intr.v_irq() {
                vmcb.v_intr_mut().set_v_irq(false);
                vmcb.intercepts_mut().set(Intercept::Vintr, false);
            }
            return deadline;
        }
    } else if let Some(vector) = apic.pending_vector() {
        // The APIC has already weighed TPR and ISR: the window opens on
        // IF and the shadow alone, and the choice is made again at its
        // exit (a CR8 write meanwhile is seen then).
        if !vmcb.control.v_intr.v_irq() {
            request_window(vmcb, vector);
        }
    }
    // A request the TPR alone holds back is not a window: `guard_cr8`
    // makes the guest's `MOV CR8` exit instead, the moment that could
    // release it (as KVM does). A window weighed by the processor against
    // V_TPR (`V_IGN_TPR` clear) is not portable: QEMU's SVM, and KVM
    // nested on it, take it when V_INTR_PRIO *equals* V_TPR, and with
    // the APIC still holding the vector the VP looped on VINTR exits.
    deadline
}

/// `MOV CR8` changes `V_TPR` without an exit (`V_INTR_MASKING`): at an
/// exit the APIC's TPR follows it when its priority class differs (a TPR
/// written through the APIC keeps its low bits).
#[inline]
pub fn tpr_from_vmcb(vmcb: &VpVmcb, apic: &mut LocalApic) {
    let v_tpr = vmcb.control.v_intr.v_tpr() & 0xF;
    if apic.tpr() >> 4 != v_tpr {
        apic.set_tpr(v_tpr << 4);
    }
}

/// `V_IRQ` for `vector`, with `V_IGN_TPR` (the APIC has weighed the
/// TPR), and the VINTR intercept.
pub(super) fn request_window(vmcb: &mut VpVmcb, vector: u8) {
    let v_intr = vmcb.v_intr_mut();
    v_intr.set_v_irq(true);
    v_intr.set_v_ign_tpr(true);
    v_intr.set_v_intr_prio(vector >> 4);
    v_intr.set_v_intr_vector(vector);
    vmcb.intercepts_mut().set(Intercept::Vintr, true);
}

/// CR8 writes exit exactly while a virtual interrupt request is pending
/// (QEMU 7.2's TCG re-evaluates the request on a CR8 write without its
/// I/O thread lock and aborts) or `apic` holds a vector back only by its
/// TPR (lowering CR8 delivers it: `exits::exit_cr8_write` does the write,
/// and the entry after it injects).
#[inline]
pub fn guard_cr8(vmcb: &mut VpVmcb, apic: Option<&LocalApic>) {
    let pending = vmcb.control.v_intr.v_irq() || apic.is_some_and(held_by_tpr);
    let cr8 = Intercept::CrWrite(RegIndex::R8);
    if vmcb.control.intercepts.is_set(cr8) != pending {
        vmcb.intercepts_mut().set(cr8, pending);
    }
}

/// Whether the APIC has a requested vector that only its TPR keeps from
/// being delivered (its class above the highest in service, not above
/// the TPR's).
fn held_by_tpr(apic: &LocalApic) -> bool {
    if apic.irr().is_empty() {
        return false;
    }
    let in_service = apic.isr().highest().map_or(0, |v| v >> 4);
    apic.mode() != tessera_lapic::ApicMode::Disabled
        && apic.pending_vector().is_none()
        && apic.irr().highest().is_some_and(|v| v >> 4 > in_service)
}
