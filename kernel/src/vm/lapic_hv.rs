//! The Hv#1 APIC enlightenments of a VP with a local APIC (`hv-vapic`,
//! privilege `AccessIntrCtrlRegs`): the EOI, ICR and TPR MSRs
//! `0x40000070`-`0x40000072` (TLFS md `virtual-interrupts.md` § Local
//! APIC MSR Accesses) answered by the VP's APIC model
//! (`tessera_lapic::hv`), and lazy EOI through the VP assist page's
//! "No EOI required" bit (§ EOI Assist).
//!
//! Lazy EOI is armed at an entry through the locked path, for the highest
//! vector in service when nothing else is requested, and reconciled at the
//! next exit that reaches the locked path, before anything reads the APIC. While it is armed the
//! lock-free path leaves the APIC's MSRs alone (`run.rs` hands it no
//! APIC), so no register is read with an EOI the guest did but the APIC
//! has not seen. An interrupt requested for the VP meanwhile makes it exit
//! (that is how it gets injected), so the bit is cleared before a lower
//! priority interrupt could be taken, as the TLFS asks.
use super::Vp;
use super::lapic::guest_tsc;
use crate::memory::physical_to_virtual;
use crate::state::Kernel;
use core::sync::atomic::{AtomicU32, Ordering};
use tessera_capability::VpId;
use tessera_gpa_space::OverlayId;
use tessera_hv1::dispatch::{ClusterIpi, ProcessorSet};
use tessera_lapic::hv::is_hv_apic_msr;
use tessera_lapic::{DeliveryMode, Message, Target, Trigger};

/// The EOI Assist field's "No EOI required" bit; the field is the 32 bits
/// at offset 0 of the VP assist page (TLFS md `virtual-interrupts.md`
/// § EOI Assist).
const NO_EOI_REQUIRED: u32 = 1;

impl Kernel {
    /// RDMSR/WRMSR of `HV_X64_MSR_EOI`/`ICR`/`TPR` by a VP with a local
    /// APIC; `None` for other MSRs and for VPs without one (the synthetic
    /// MSR path answers those with #GP).
    pub fn hv_apic_msr(
        &mut self,
        cpu: usize,
        vp: VpId,
        number: u32,
        write: Option<u64>,
        next_rip: u64,
    ) -> Option<super::exits::Next> {
        if !is_hv_apic_msr(number) {
            return None;
        }
        let record = self.vps.get(vp)?;
        record.apic.as_ref()?;
        let granted = self
            .partitions
            .get(record.partition)
            .and_then(|p| p.hv1.as_ref())
            .is_some_and(|hv1| hv1.config.privileges.access_intr_ctrl_regs());
        let solo = self.solo(vp);
        let record = self.vps.get_mut(vp)?;
        let now = guest_tsc(record);
        let apic = record.apic.as_mut()?;
        let mut followup = super::lapic::Followup::None;
        let answer = match write {
            None => apic.read_hv_msr(number, granted, now).map(Some),
            Some(value) => apic
                .write_hv_msr(number, value, granted, now)
                .map(|effect| {
                    followup = record.apply_effect(effect, solo);
                    None
                }),
        };
        let next = record.complete_apic_msr(answer, next_rip);
        // An ICR write through HV_X64_MSR_ICR is an IPI like any other;
        // HV_X64_MSR_EOI of a level-triggered vector broadcasts, as the
        // APIC's own EOI register does.
        Some(self.follow_up(cpu, vp, followup, next))
    }

    /// `HvCallSendSyntheticClusterIpi(Ex)` by VP `vp`: `ipi.vector` as a
    /// fixed, edge-triggered interrupt to each named VP of its partition
    /// with an APIC (TLFS md `virtual-interrupts.md` § Synthetic Cluster
    /// IPI), posted as any IPI is (`lapic_ipi`); indices of VPs that do
    /// not exist are skipped, as the TLFS names no error for them.
    pub fn send_cluster_ipi(&mut self, vp: VpId, ipi: &ClusterIpi) {
        let Some(partition) = self.vps.get(vp).map(|record| record.partition) else {
            return;
        };
        let Some(vps) = self.partitions.get(partition).map(|p| p.vps.clone()) else {
            return;
        };
        let message = Message {
            mode: DeliveryMode::Fixed,
            vector: ipi.vector,
            trigger: Trigger::Edge,
            target: Target::SelfOnly,
        };
        for target in vps {
            let named = self.vps.get(target).is_some_and(|record| {
                record.apic.is_some()
                    && match &ipi.targets {
                        ProcessorSet::All => true,
                        ProcessorSet::Set(set) => set.iter().any(|index| index == record.index),
                    }
            });
            if named {
                self.post_to(target, &message);
            }
        }
    }

    /// At an exit the locked path handles, before anything reads VP `vp`'s
    /// APIC: if "No EOI required" was set for it, the bit is cleared, and
    /// the EOI the guest did by clearing it first is performed.
    pub fn reconcile_lazy_eoi(&mut self, vp: VpId) {
        let Some(record) = self.vps.get_mut(vp) else {
            return;
        };
        if record.lazy_eoi.armed().is_none() {
            return;
        }
        let frame = self
            .partitions
            .get(record.partition)
            .and_then(|p| assist_frame(p, record.index));
        // No page (it was removed with the bit set): nothing says the
        // guest did its EOI, so none is done for it.
        let was_set = frame.is_none_or(|frame| {
            apic_assist(frame, |field| {
                field.fetch_and(!NO_EOI_REQUIRED, Ordering::SeqCst)
            }) & NO_EOI_REQUIRED
                != 0
        });
        if let Some(apic) = record.apic.as_mut() {
            // Edge-triggered only, so never an EOI broadcast.
            let _ = record.lazy_eoi.reconcile(apic, was_set);
        }
    }
}

impl Vp {
    /// After the entry's injection, with `page` the frame of the VP's
    /// assist page if lazy EOI applies ([`lazy_eoi_page`]): sets "No EOI
    /// required" for the highest vector in service when the model allows
    /// it (edge-triggered, nothing else requested). Not only right after
    /// the vector's injection: an exit between the injection and the
    /// guest's lazy EOI cleared the bit (`reconcile_lazy_eoi`), and the
    /// entry after it sets it again, as KVM's PV EOI does, so that the
    /// handler still finds it.
    pub fn arm_lazy_eoi(&mut self, page: Option<u64>) {
        if self.lazy_eoi.armed().is_some() {
            self.keep_lazy_eoi_alone(page);
            return;
        }
        let (Some(frame), Some(apic)) = (page, self.apic.as_ref()) else {
            return;
        };
        let Some(vector) = apic.isr().highest() else {
            return;
        };
        if self.lazy_eoi.after_injection(apic, vector, true) {
            apic_assist(frame, |field| {
                field.fetch_or(NO_EOI_REQUIRED, Ordering::SeqCst)
            });
        }
    }
}

impl Vp {
    /// Still armed at an entry that followed no exit (the entry was
    /// prepared again): the bit stays only while nothing else is
    /// requested; otherwise it is cleared, as the TLFS asks when "a lower
    /// priority interrupt is requested", and the guest's EOI, if it did
    /// one, is performed.
    fn keep_lazy_eoi_alone(&mut self, page: Option<u64>) {
        let Some(apic) = self.apic.as_mut() else {
            return;
        };
        if apic.irr().is_empty() && page.is_some() {
            return;
        }
        let was_set = page.is_none_or(|frame| {
            apic_assist(frame, |field| {
                field.fetch_and(!NO_EOI_REQUIRED, Ordering::SeqCst)
            }) & NO_EOI_REQUIRED
                != 0
        });
        let _ = self.lazy_eoi.reconcile(apic, was_set);
    }
}

/// The frame of VP `index`'s assist page when lazy EOI applies to it: the
/// partition grants `AccessIntrCtrlRegs`, the VP has an APIC, and its
/// assist page is placed.
pub fn lazy_eoi_page(partition: &super::Partition, vp: &Vp) -> Option<u64> {
    vp.apic.as_ref()?;
    let granted = partition
        .hv1
        .as_ref()
        .is_some_and(|hv1| hv1.config.privileges.access_intr_ctrl_regs());
    if !granted {
        return None;
    }
    assist_frame(partition, vp.index)
}

fn assist_frame(partition: &super::Partition, index: u32) -> Option<u64> {
    partition
        .space
        .overlay(OverlayId::VpAssistPage(index))
        .map(|overlay| overlay.frame)
}

/// Runs `f` on the EOI Assist field of the assist page in `frame`.
fn apic_assist(frame: u64, f: impl FnOnce(&AtomicU32) -> u32) -> u32 {
    let field = physical_to_virtual(frame).as_ptr::<AtomicU32>();
    // The frame is an overlay's, the kernel's own, and stays allocated
    // while the overlay is placed (it was just looked up under the kernel
    // lock, which its removal needs). The guest reaches the same word
    // through its mapping of the page, so it is only touched atomically
    // here; offset 0 of a page is aligned for it.
    // SAFETY: a live, aligned, kernel-owned u32 accessed atomically.
    f(unsafe { &*field })
}
