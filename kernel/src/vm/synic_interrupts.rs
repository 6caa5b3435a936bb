//! What the SynIC raises, and what ends it: a SynIC step's deliveries
//! posted to the VPs' local APICs, the EOIs of SINT vectors seen by the
//! in-service set before and after an exit, and AutoEOI at injection
//! (TLFS md `inter-partition-communication.md` § SINTx Registers).
use super::synic::{ONLY, synic_enabled};
use crate::state::Kernel;
use tessera_capability::{PartitionId, VpId};
use tessera_lapic::{DeliveryMode, Message, Target, Trigger, VectorSet};
use tessera_synic::Deliveries;

impl Kernel {
    /// Asserts what a SynIC step delivered: a fixed, edge-triggered
    /// interrupt at each VP's local APIC, posted and the VP woken or
    /// kicked as for an IPI (`lapic_ipi::post_to`).
    pub(super) fn deliver_synic(&mut self, partition: PartitionId, deliveries: &Deliveries) {
        for delivery in deliveries {
            let Some(target) = self.partitions.get(partition) else {
                return;
            };
            let vp = target
                .vps
                .iter()
                .copied()
                .find(|&vp| self.vps.get(vp).is_some_and(|r| r.index == delivery.vp));
            if let Some(vp) = vp {
                let message = Message {
                    mode: DeliveryMode::Fixed,
                    vector: delivery.interrupt.vector,
                    trigger: Trigger::Edge,
                    target: Target::SelfOnly,
                };
                self.post_to(vp, &message);
            }
        }
    }

    /// The in-service vectors of VP `vp`'s APIC, if its partition has a
    /// SynIC: taken before an exit is handled, so that
    /// [`synic_eois`](Self::synic_eois) sees which vectors it ended.
    pub fn synic_isr(&self, vp: VpId) -> Option<VectorSet> {
        let record = self.vps.get(vp)?;
        if !synic_enabled(self.partitions.get(record.partition)?, record.index) {
            return None;
        }
        Some(*record.apic.as_ref()?.isr())
    }

    /// The vectors in `before` that VP `vp`'s APIC no longer has in
    /// service were ended (an EOI by any of its paths: x2APIC, the Hv#1
    /// EOI MSR, the xAPIC page, lazy EOI): the SINTs using them deliver
    /// what waits (`Synic::eoi`).
    pub fn synic_eois(&mut self, vp: VpId, before: Option<VectorSet>) {
        let Some(before) = before else {
            return;
        };
        let Some(record) = self.vps.get(vp) else {
            return;
        };
        let Some(after) = record.apic.as_ref().map(|apic| *apic.isr()) else {
            return;
        };
        if before == after {
            return;
        }
        let (partition, index) = (record.partition, record.index);
        for vector in before.iter() {
            if !after.contains(vector) {
                self.synic_eoi(partition, index, vector);
            }
        }
    }

    fn synic_eoi(&mut self, partition: PartitionId, index: u32, vector: u8) {
        let now = self.reference_now(partition);
        let Some(synic) = self.synic_of_mut(partition) else {
            return;
        };
        let deliveries = synic.eoi(ONLY, index, vector, now);
        self.deliver_synic(partition, &deliveries);
    }

    /// Right after VP `vp`'s entry injected an interrupt: a vector of an
    /// unmasked SINT with AutoEOI ends in the APIC at once, since the guest
    /// will not end it (TLFS md `inter-partition-communication.md` § SINTx
    /// Registers), and its SINTs deliver what waits.
    pub(super) fn synic_auto_eoi(&mut self, vp: VpId) {
        let Some(record) = self.vps.get(vp) else {
            return;
        };
        let injected = record.vmcb.control.event_inj;
        if !injected.valid() || injected.event_type() != tessera_svm::event::EventType::INTR {
            return;
        }
        let vector = injected.vector();
        // The published copy of the set below answers most injections
        // (no AutoEOI SINT has the vector) without the SynIC's look-ups.
        if !record.synic_published.auto_eoi(vector) {
            return;
        }
        let (partition, index) = (record.partition, record.index);
        let Some(registers) = self
            .synic_of(partition)
            .and_then(|s| s.registers(ONLY, index))
        else {
            return;
        };
        let set = registers.auto_eoi_vectors();
        if set[usize::from(vector / 64)] & (1 << (vector % 64)) == 0 {
            return;
        }
        let Some(apic) = self.vps.get_mut(vp).and_then(|r| r.apic.as_mut()) else {
            return;
        };
        if apic.isr().highest() == Some(vector) {
            let _ = apic.eoi();
            self.synic_eoi(partition, index, vector);
        }
    }
}
