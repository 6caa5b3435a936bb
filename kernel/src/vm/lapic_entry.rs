//! A VP's local APIC at the edges of the guest: before each entry its
//! timer catches up and its interrupt is injected or a window asked for
//! (`kernel/lapic/README.md` § "Injection on SVM", step 3), and the host
//! timer is armed for its next deadline; a VP halted by HLT sleeps until
//! its deadline, when the CPU it belongs to wakes it (§ "Timers and HLT").
use super::{Vp, VpState};
use crate::state::Kernel;
use core::sync::atomic::{AtomicBool, Ordering};
use tessera_capability::VpId;

/// Per CPU: a VP of this CPU may be halted with an APIC deadline (cleared
/// when a look finds none), so idle CPUs without any skip the look.
static HALTED_WITH_DEADLINE: [AtomicBool; crate::tlb::MAX_CPUS] =
    [const { AtomicBool::new(false) }; crate::tlb::MAX_CPUS];

impl Vp {
    /// The APIC's share of what happens before VMRUN, after the
    /// interrupts `VpAssertInterrupt` posted (`inject_pending`): see
    /// `lapic_inject::inject`. Returns the host TSC of the APIC's next
    /// timer deadline, if any.
    pub fn inject_apic(&mut self) -> Option<u64> {
        let apic = self.apic.as_mut()?;
        let now = crate::arch::tsc::read().wrapping_add(self.vmcb.control.tsc_offset);
        super::lapic_inject::inject(&mut self.vmcb, apic, now)
    }

    /// The kernel completed the instruction of the last exit (RIP moved
    /// on): an interrupt shadow it was in (STI; HLT, MOV SS; ...) ended
    /// with it, though the VMCB still shows it — without this, an
    /// interrupt for `STI; HLT` would wait behind the instruction after
    /// the HLT, and behind a CLI there for good.
    pub fn end_shadow_past(&mut self) {
        let Some(exit_rip) = self.exit_rip.take() else {
            return;
        };
        let state = self.vmcb.control.interrupt_state;
        if exit_rip != self.vmcb.save.rip && state.interrupt_shadow() {
            self.vmcb.interrupt_state_mut().set_interrupt_shadow(false);
        }
    }

    /// CR8 writes exit exactly while a virtual interrupt request is
    /// pending or the APIC's TPR holds one back (`lapic_inject::guard_cr8`);
    /// called last before VMRUN.
    pub fn guard_cr8(&mut self) {
        super::lapic_inject::guard_cr8(&mut self.vmcb, self.apic.as_ref());
    }

    /// Whether HLT ends at once for this VP's APIC: an interrupt it would
    /// take is pending (after the timer caught up) or an NMI.
    pub fn apic_wakes(&mut self) -> bool {
        let offset = self.vmcb.control.tsc_offset;
        let Some(apic) = self.apic.as_mut() else {
            return false;
        };
        apic.poll_timer(crate::arch::tsc::read().wrapping_add(offset));
        if apic.take_nmi() {
            self.pending_nmi = true;
        }
        self.pending_nmi || apic.pending_vector().is_some()
    }

    /// Whether an NMI waits for this VP (one its APIC took included): what
    /// ends a HLT executed with interrupts off.
    pub fn nmi_wakes(&mut self) -> bool {
        if let Some(apic) = self.apic.as_mut()
            && apic.take_nmi()
        {
            self.pending_nmi = true;
        }
        self.pending_nmi
    }

    /// The host TSC of this VP's next APIC timer deadline.
    pub fn apic_deadline(&self) -> Option<u64> {
        let deadline = self.apic.as_ref()?.next_timer_deadline()?;
        Some(deadline.wrapping_sub(self.vmcb.control.tsc_offset))
    }
}

impl Kernel {
    /// VP `vp` halts (HLT with interrupts enabled, nothing to take): it
    /// stays off the CPU until an interrupt is posted to it or its APIC
    /// timer's deadline, for which its CPU's timer is armed.
    pub fn halt_until_deadline(&mut self, vp: VpId) {
        let Some(record) = self.vps.get_mut(vp) else {
            return;
        };
        record.state = VpState::Parked;
        let cpu = record.cpu;
        if let Some(deadline) = self.vp_deadline(vp) {
            HALTED_WITH_DEADLINE[cpu].store(true, Ordering::Relaxed);
            crate::arch::apic::interrupt_by(cpu, deadline);
        }
    }

    /// The host TSC of VP `vp`'s next timer deadline: its APIC timer's or
    /// its synthetic timers' (`synic.rs`), whichever comes first.
    pub fn vp_deadline(&self, vp: VpId) -> Option<u64> {
        let apic = self.vps.get(vp)?.apic_deadline();
        match (apic, self.synic_deadline(vp)) {
            (Some(a), Some(s)) => Some(a.min(s)),
            (a, s) => a.or(s),
        }
    }

    /// At a deployment stall: each parked VP's APIC as the stall found
    /// it (what it has requested and in service, its TPR, its timer), so
    /// the log says why nothing woke it.
    pub fn log_parked_vps(&self) {
        for (id, vp) in self.vps.iter() {
            if vp.state != VpState::Parked {
                continue;
            }
            let Some(apic) = vp.apic.as_ref() else {
                continue;
            };
            log::error!(
                "{}: parked, APIC requested {:?} in service {:?} TPR {:#x}, timer deadline {:?}, \
                 RFLAGS {:#x}",
                self.vp_name(id),
                apic.irr().highest(),
                apic.isr().highest(),
                apic.tpr(),
                self.vp_deadline(id),
                vp.vmcb.save.rflags
            );
        }
    }

    /// Whether a VP halted in HLT waits for its APIC timer: its CPU's
    /// timer will wake it, so the deployment is not stalled.
    pub fn vp_waits_for_timer(&self) -> bool {
        self.vps
            .iter()
            .any(|(id, vp)| vp.state == VpState::Parked && self.vp_deadline(id).is_some())
    }

    /// On `cpu`, about to pick a thread: wakes its halted VPs whose APIC
    /// now has an interrupt for them, and arms the timer for the earliest
    /// deadline of those still halted.
    pub fn wake_halted_at_deadline(&mut self, cpu: usize) {
        if !HALTED_WITH_DEADLINE[cpu].load(Ordering::Relaxed) {
            return;
        }
        let now = crate::arch::tsc::read();
        let mut due = heapless::Vec::<VpId, 16>::new();
        let mut earliest: Option<u64> = None;
        let mut waiting = false;
        for (id, record) in self.vps.iter() {
            if record.cpu != cpu || record.state != VpState::Parked {
                continue;
            }
            let Some(deadline) = self.vp_deadline(id) else {
                continue;
            };
            waiting = true;
            if deadline <= now {
                // More than fit wait for the next look.
                let _ = due.push(id);
            } else {
                earliest = Some(earliest.map_or(deadline, |e| e.min(deadline)));
            }
        }
        HALTED_WITH_DEADLINE[cpu].store(waiting, Ordering::Relaxed);
        for id in due {
            // Its synthetic timers post what expired, which wakes it.
            self.poll_synic_timers(id);
            let Some(record) = self.vps.get_mut(id) else {
                continue;
            };
            if record.state != VpState::Parked {
                continue;
            }
            if record.apic_wakes() {
                record.state = VpState::Runnable;
                let thread = record.thread;
                self.wake(thread);
            } else if let Some(deadline) = self.vp_deadline(id) {
                // A masked expiry: the next period's deadline.
                earliest = Some(earliest.map_or(deadline, |e| e.min(deadline)));
            }
        }
        if let Some(deadline) = earliest {
            crate::arch::apic::interrupt_by(cpu, deadline);
        }
    }
}
