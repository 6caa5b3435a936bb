//! The 8259 pair's INT output (ExtINT, the MP specification's virtual-wire
//! mode): the `platform` component reports the output's level with
//! `PartitionAssertInterrupt` in ExtINT mode; the bootstrap processor (VP
//! 0) sees it on LINT0 — or as INTR while its APIC is globally disabled or
//! the partition has none (`LocalApic::pic_output`) — and when it can take
//! the interrupt, the kernel asks the partition's interrupt controller for
//! the vector with an interrupt acknowledge (`Exit::InterruptAcknowledge`
//! to the `EOI` route), whose reply's result is the vector the kernel
//! injects.
//!
//! **Why a round trip, not a vector published with the level.** The 8259
//! fixes the vector in its acknowledge cycle: the IRR→ISR move, rotation,
//! auto-EOI and the spurious IR7 of a request that went away all happen
//! then (8259A datasheet, "Interrupt Sequence"). A vector published
//! earlier could be stale by the time the guest takes it (a device line
//! dropped, the guest masked or ended an IRQ through another path), and
//! the 8259's ISR would then disagree with what the guest received. The
//! acknowledge made at the instant of injection keeps the two equal; the
//! cost is one call per 8259 interrupt, which legacy guests pay anyway for
//! the EOI port write that follows.
//!
//! Only VP 0 is wired (QEMU's `pc` and the MP specification's virtual
//! wire deliver the 8259 to the BSP; an AP's LINT0 is masked by
//! convention).
use super::{Vp, VpState};
use crate::sched::Keep;
use crate::state::Kernel;
use tessera_abi::Status;
use tessera_abi::vm::intercept;
use tessera_capability::{PartitionId, VpId};

impl Vp {
    /// Whether this VP is to take an interrupt whose vector the 8259
    /// gives: the output's level as its LINT0 (or INTR) sees it. Keeps
    /// its APIC's LINT0 level in step (a LINT0 programmed fixed or NMI
    /// takes the rising edge there). Under the lock, on the VP's CPU or
    /// with the VP on none.
    pub fn pic_requested(&mut self) -> bool {
        let level = self.pic_level;
        match self.apic.as_mut() {
            Some(apic) if self.index == 0 => apic.pic_output(level),
            Some(_) => false,
            None => level,
        }
    }
}

impl Kernel {
    /// `PartitionAssertInterrupt` in ExtINT mode: the 8259 output of
    /// `partition` is at `level`. A rise wakes VP 0 if HLT parked it with
    /// interrupts on and it takes the interrupt, or kicks its CPU so it
    /// looks before its next entry. Returns how many VPs the wire reaches
    /// (1, or 0 before VP 0 exists).
    pub fn set_pic_output(&mut self, partition: PartitionId, level: bool) -> Result<u32, u64> {
        let target = self
            .partitions
            .get(partition)
            .ok_or(Status::InvalidArgument.code())?;
        let vps = &self.vps;
        let Some(bsp) = target
            .vps
            .iter()
            .copied()
            .find(|&vp| vps.get(vp).is_some_and(|record| record.index == 0))
        else {
            return Ok(0);
        };
        let Some(record) = self.vps.get_mut(bsp) else {
            return Ok(0);
        };
        let rising = level && !record.pic_level;
        record.pic_level = level;
        if !rising || record.destroyed {
            return Ok(1);
        }
        match record.state {
            // On no CPU: its APIC is the lock holder's.
            VpState::Parked => {
                let interrupts_on = record.vmcb.save.rflags & (1 << 9) != 0;
                // The 8259 first: a LINT0 programmed fixed takes its edge
                // into the IRR, which `apic_wakes` then sees.
                let pic = record.pic_requested();
                if interrupts_on && (pic || record.apic_wakes()) {
                    record.state = VpState::Runnable;
                    let thread = record.thread;
                    self.wake(thread);
                }
            }
            VpState::Runnable => {
                let cpu = record.cpu;
                self.sched.kick(cpu);
            }
            // Looked at before its next entry.
            VpState::Stopped | VpState::AwaitingReply(_) | VpState::WaitForSipi => {}
        }
        Ok(1)
    }

    /// Before VP `vp` enters, after the events already due were injected:
    /// if the 8259 requests an interrupt it takes, either the interrupt
    /// acknowledge goes to the `EOI` route now (the guest can take an
    /// interrupt: IF set, no shadow, no event being injected; the VP waits
    /// for the vector) or an interrupt window is asked for, whose VINTR
    /// exit comes back here. The 8259 goes before the APIC's vectors, as
    /// the processor's INTR does. Without the route nobody answers: the
    /// level is forgotten until reported again.
    pub fn acknowledge_pic(&mut self, cpu: usize, vp: VpId) -> Option<Keep> {
        let record = self.vps.get_mut(vp)?;
        if record.index != 0 || !record.pic_requested() {
            return None;
        }
        let vmcb = &mut record.vmcb;
        let interrupts_on = vmcb.save.rflags & (1 << 9) != 0;
        let shadow = vmcb.control.interrupt_state.interrupt_shadow();
        if !interrupts_on || shadow || vmcb.control.event_inj.valid() {
            if !vmcb.control.v_intr.v_irq() {
                super::lapic_inject::request_window(vmcb, WINDOW_VECTOR);
            }
            return None;
        }
        let Some(route) = self.route_of(vp, intercept::EOI, 0) else {
            log::warn!(
                "{}: the 8259 requests an interrupt, but no interrupt controller (EOI route) acknowledges it",
                self.vp_name(vp)
            );
            if let Some(record) = self.vps.get_mut(vp) {
                record.pic_level = false;
            }
            return None;
        };
        let record = self.vps.get(vp)?;
        let header = tessera_vcpu::exit_message::header(
            &record.vmcb,
            record.index,
            0,
            tlfs::intercept::HvInterceptAccessType::READ,
        );
        let exit = tessera_exit_protocol::Exit::InterruptAcknowledge;
        let pending =
            super::forward::Pending::routed(&exit, super::forward::PendingKind::Acknowledge, None);
        Some(self.send_exit(cpu, vp, route, &exit, &header, pending))
    }

    /// VP `vp`'s handler answered `pending`: an interrupt acknowledge
    /// answered without a vector (`forward::apply_reply` injects it)
    /// means the 8259 had nothing after all, so the level is forgotten
    /// (else every entry would ask again) until the controller reports it
    /// again.
    pub fn acknowledged(&mut self, vp: VpId, pending: super::forward::Pending) {
        if pending.kind != super::forward::PendingKind::Acknowledge {
            return;
        }
        if let Some(record) = self.vps.get_mut(vp)
            && !record.vmcb.control.event_inj.valid()
        {
            record.pic_level = false;
        }
    }
}

/// The vector of the virtual interrupt that only opens a window for the
/// 8259 (`V_IGN_TPR` set, so its priority does not matter; the VINTR
/// intercept takes the exit before it is delivered).
const WINDOW_VECTOR: u8 = 0x20;
