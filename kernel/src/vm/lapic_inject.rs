//! Injection of a VP's APIC interrupts into its VMCB (`kernel/lapic/
//! README.md` § "Injection on SVM", step 3), shared by the entry from the
//! locked path (`lapic_entry`) and the lock-free APIC exits (`lapic_fast`).
use super::VpVmcb;
use tessera_lapic::LocalApic;
use tessera_svm::intercept::RegIndex;
use tessera_svm::{Event, Intercept};

/// Before VMRUN: the timer polled, the TPR handed to `V_TPR`, and the
/// highest deliverable vector injected through `EVENTINJ` when the guest
/// is interruptible (IF set, no interrupt shadow, no event being
/// injected), else an interrupt window requested (`V_IRQ` and the VINTR
/// intercept; at that exit the kernel comes back here). The vector moves
/// to the ISR only when it is injected. Returns the host TSC of the APIC's
/// next timer deadline, if any.
#[inline]
pub fn inject(vmcb: &mut VpVmcb, apic: &mut LocalApic) -> Option<u64> {
    let offset = vmcb.control.tsc_offset;
    let now = crate::arch::tsc::read().wrapping_add(offset);
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
            let event = Event::ExternalInterrupt { vector };
            *vmcb.event_inj_mut() = event.encode().expect("an interrupt is a valid event");
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
            request_window(vmcb, vector, true);
        }
        return deadline;
    }
    // A request the TPR alone holds back: `MOV CR8` lowers V_TPR without
    // an exit, so the processor is asked to exit (VINTR) once V_TPR is
    // below its class (APM Vol. 2 §15.21.2).
    if let Some(held) = apic.irr().highest()
        && held >> 4 > apic.isr().highest().map_or(0, |v| v >> 4)
        && apic.mode() != tessera_lapic::ApicMode::Disabled
        && !vmcb.control.v_intr.v_irq()
    {
        request_window(vmcb, held, false);
    }
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

/// `V_IRQ` for `vector` and the VINTR intercept; `ignore_tpr` sets
/// `V_IGN_TPR`.
fn request_window(vmcb: &mut VpVmcb, vector: u8, ignore_tpr: bool) {
    let v_intr = vmcb.v_intr_mut();
    v_intr.set_v_irq(true);
    v_intr.set_v_ign_tpr(ignore_tpr);
    v_intr.set_v_intr_prio(vector >> 4);
    v_intr.set_v_intr_vector(vector);
    vmcb.intercepts_mut().set(Intercept::Vintr, true);
}

/// CR8 writes exit exactly while a virtual interrupt request is pending:
/// QEMU 7.2's TCG re-evaluates the request on a CR8 write without its I/O
/// thread lock and aborts (`exits::exit_cr8_write` does the write then).
#[inline]
pub fn guard_cr8(vmcb: &mut VpVmcb) {
    let pending = vmcb.control.v_intr.v_irq();
    let cr8 = Intercept::CrWrite(RegIndex::R8);
    if vmcb.control.intercepts.is_set(cr8) != pending {
        vmcb.intercepts_mut().set(cr8, pending);
    }
}
