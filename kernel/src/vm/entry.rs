//! Everything before VMRUN that needs the lock: the reply a VP waited for
//! applied, then either the full entry (timers, posted interrupts, stops,
//! injection, lazy EOI, the CR8 guard) or, after a reply that leaves none
//! of it anything to do, the settled entry (`tessera_vcpu::entry_work`).
//! Both end in [`Kernel::finish_entry`], which every entry does.
use super::fast::FastPartition;
use super::{Partition, Vp, VpState, VpVmcb, guest_state};
use crate::sched::Keep;
use crate::state::Kernel;
use core::sync::atomic::Ordering;
use tessera_capability::{PartitionId, ThreadId, VpId};
use tessera_svm::controls::TlbControl;
use tessera_svm::intercept::RegIndex;
use tessera_svm::{Event, Intercept};
use tessera_vcpu::GuestGprs;
use tessera_vcpu::entry_work::{self, EntryInputs};
use tessera_vcpu::exit_stats::{ExitCounts, Injected};

/// What `prepare_entry` hands the lock-free part of the loop: everything
/// the exits it answers need, decided once per entry rather than per exit.
pub(super) struct Entry {
    pub(super) vmcb: *mut VpVmcb,
    pub(super) vmcb_address: u64,
    pub(super) gprs: *mut GuestGprs,
    pub(super) seen_tlb_generation: *mut u64,
    pub(super) run_ticks: *mut u64,
    pub(super) fetch_cache: *mut tessera_vcpu::fetch_cache::FetchCache,
    pub(super) fast: *const FastPartition,
    pub(super) partition: PartitionId,
    pub(super) vp_index: u32,
    /// The partition's nested table root (fixed for its life).
    pub(super) npt_root: u64,
    /// Whether the CPU saves the next RIP on exits (else the instruction
    /// is fetched and measured).
    pub(super) nrip_save: bool,
    pub(super) fixed_cpuid: *const super::guest_cpu::FixedCpuid,
    pub(super) exit_counts: *const ExitCounts,
    pub(super) apic: *mut Option<tessera_lapic::LocalApic>,
    pub(super) published_priority: *const core::sync::atomic::AtomicU16,
    /// Its SynIC registers as published (`Vp::synic_published`).
    pub(super) synic: *const tessera_synic::fast_signal::PublishedVp,
    /// Whether the VP is its partition's only one (`Unlocked::solo`).
    pub(super) solo: bool,
    /// The partition takes EOI broadcasts (an `EOI` route): the EOI of a
    /// level-triggered vector goes to the locked path, which forwards it
    /// (`device_interrupt::eoi_broadcast`).
    pub(super) eoi_routed: bool,
    /// The assist page's "No EOI required" bit is set: the lock-free path
    /// leaves the APIC to the locked one, which reconciles it first
    /// (`lapic_hv.rs`).
    pub(super) lazy_eoi_armed: bool,
    /// The 8259's output is high for this VP (`extint.rs`): its APIC
    /// exits take the locked path, whose entry looks at LINT0 again.
    pub(super) pic_level: bool,
}

/// What an entry reads of the VP's partition.
struct PartitionView {
    id: PartitionId,
    fast: *const FastPartition,
    /// The partition's TLB generation, read under the lock.
    generation: u64,
    serial: u64,
    npt_root: u64,
    solo: bool,
    eoi_routed: bool,
}

impl PartitionView {
    #[inline(always)]
    fn of(target: &Partition, record: &Vp) -> Self {
        Self {
            id: record.partition,
            fast: &*target.fast,
            generation: target.fast.tlb_generation.load(Ordering::SeqCst),
            serial: target.fast.serial,
            npt_root: target.space.npt().root(),
            solo: target.vps.len() <= 1,
            // With its SynIC enabled, the VP's APIC EOIs and injections
            // are the locked path's too: they end SINT vectors
            // (`synic_eois`) and perform AutoEOI (`synic_auto_eoi`).
            eoi_routed: target.apic != super::lapic::ApicChoice::None
                && (target.route(tessera_abi::vm::intercept::EOI, 0).is_some()
                    || (record.in_synic && super::synic::synic_enabled(target, record.index))),
        }
    }
}

impl Kernel {
    /// Everything before VMRUN, under the lock: the VMCB's physical
    /// address, the registers' home and the partition index, or why the VP
    /// does not run now.
    pub(super) fn prepare_entry(&mut self, cpu: usize, thread: ThreadId) -> Result<Entry, Keep> {
        let record = self.threads.get(&thread).ok_or(Keep::Blocked)?;
        if record.dead {
            return Err(Keep::Blocked);
        }
        let vp = record.vp.ok_or(Keep::Blocked)?;
        let (state, in_synic) = self
            .vps
            .get(vp)
            .map(|v| (v.state, v.in_synic))
            .ok_or(Keep::Blocked)?;
        if let VpState::AwaitingReply(pending) = state {
            if let Some(keep) = self.complete_exit(cpu, vp, pending) {
                return Err(keep);
            }
            self.acknowledged(vp, pending);
            if let Some(view) = self.settled_view(vp) {
                let record = self.vps.get_mut(vp).ok_or(Keep::Blocked)?;
                record.end_shadow_past();
                return self.finish_entry(cpu, vp, &view);
            }
        }
        // Its synthetic timers (`synic.rs`): what expired is posted to its
        // APIC, taken just below.
        let synic_deadline = if in_synic {
            self.poll_synic_timers(vp)
        } else {
            None
        };
        // Interrupts other VPs posted (`lapic_ipi`): INIT may put the VP
        // into wait-for-SIPI, which it leaves the CPU for.
        let state = self.vps.get_mut(vp).ok_or(Keep::Blocked)?;
        state.take_posted();
        let state = self.vps.get(vp).ok_or(Keep::Blocked)?;
        let target = self.partitions.get(state.partition);
        let destroyed = target.is_none_or(|p| p.destroyed);
        if state.stop_requested || state.destroyed || destroyed {
            self.stop_vp(vp);
            return Err(Keep::Blocked);
        }
        if state.state != VpState::Runnable {
            return Err(Keep::Blocked);
        }
        let Some(target) = target else {
            return Err(Keep::Blocked);
        };
        let lazy_eoi_page = super::lapic_hv::lazy_eoi_page(target, state);
        let exceptions = target.exception_intercepts;
        let view = PartitionView::of(target, state);
        let vp_record = self.vps.get_mut(vp).ok_or(Keep::Blocked)?;
        if vp_record.exception_intercepts != exceptions {
            super::lifecycle::set_exception_intercepts(vp_record.vmcb.intercepts_mut(), exceptions);
            vp_record.exception_intercepts = exceptions;
        }
        vp_record.end_shadow_past();
        vp_record.inject_pending();
        // The 8259 (virtual wire) before the APIC's vectors (`extint.rs`).
        if let Some(keep) = self.acknowledge_pic(cpu, vp) {
            return Err(keep);
        }
        let vp_record = self.vps.get_mut(vp).ok_or(Keep::Blocked)?;
        let apic_deadline = vp_record.inject_apic();
        let deadline = match (apic_deadline, synic_deadline) {
            (Some(a), Some(s)) => Some(a.min(s)),
            (a, s) => a.or(s),
        };
        if let Some(deadline) = deadline {
            crate::arch::apic::interrupt_by(cpu, deadline);
        }
        // AutoEOI ends an injected vector: with none injected, the SynIC's
        // records are not looked up.
        if in_synic && vp_record.vmcb.control.event_inj.valid() {
            self.synic_auto_eoi(vp);
        }
        let vp_record = self.vps.get_mut(vp).ok_or(Keep::Blocked)?;
        vp_record.arm_lazy_eoi(lazy_eoi_page);
        vp_record.guard_cr8();
        self.finish_entry(cpu, vp, &view)
    }

    /// After a reply was applied: VP `vp`'s partition, if none of the full
    /// entry's steps has anything to do (`entry_work::settled`, whose
    /// inputs are read here from the same fields those steps read).
    #[inline]
    fn settled_view(&self, vp: VpId) -> Option<PartitionView> {
        let record = self.vps.get(vp)?;
        // The 8259's output high: the full entry's acknowledge may act
        // (`extint.rs`).
        if record.pic_level {
            return None;
        }
        let target = self.partitions.get(record.partition)?;
        let apic = record.apic.as_ref();
        let control = &record.vmcb.control;
        let inputs = EntryInputs {
            runnable: record.state == VpState::Runnable,
            stopping: record.stop_requested || record.destroyed || target.destroyed,
            posted: !record.posted.is_empty(),
            pending_event: record.pending_nmi || record.pending_interrupt.is_some(),
            event_injected: control.event_inj.valid(),
            apic_requested: apic.is_some_and(|a| !a.irr().is_empty()),
            apic_in_service: apic.is_some_and(|a| !a.isr().is_empty()),
            apic_timer_armed: apic.is_some_and(|a| a.next_timer_deadline().is_some()),
            tpr_stale: apic.is_some_and(|a| control.v_intr.v_tpr() != a.tpr() >> 4),
            window_requested: control.v_intr.v_irq(),
            cr8_intercepted: control.intercepts.is_set(Intercept::CrWrite(RegIndex::R8)),
            lazy_eoi_armed: record.lazy_eoi.armed().is_some(),
            synic_timer_armed: record.in_synic
                && super::synic_timers::synic_timer_armed(target, record.index),
            exceptions_changed: record.exception_intercepts != target.exception_intercepts,
        };
        entry_work::settled(&inputs).then(|| PartitionView::of(target, record))
    }

    /// What every entry does last: the guest's processor state on this
    /// CPU, the barrier between partitions, the priority senders read, the
    /// injection counted, the TLB flushed if the partition's translations
    /// changed, the state VMRUN is given remembered.
    #[inline(always)]
    fn finish_entry(&mut self, cpu: usize, vp: VpId, view: &PartitionView) -> Result<Entry, Keep> {
        guest_state::switch_to(self, cpu, vp);
        super::barrier::entering(cpu, view.serial);
        let vp_record = self.vps.get_mut(vp).ok_or(Keep::Blocked)?;
        // Only senders of its own partition arbitrate over it.
        if !view.solo {
            vp_record.publish_priority();
        }
        if let Some(kind) = Injected::of(vp_record.vmcb.control.event_inj) {
            vp_record.exit_counts.injected(kind);
        }
        let flush = vp_record.seen_tlb_generation != view.generation;
        vp_record.seen_tlb_generation = view.generation;
        vp_record.vmcb.set_tlb_control(if flush {
            TlbControl::guest_flush(crate::svm::features().flush_by_asid)
        } else {
            TlbControl::DO_NOTHING
        });
        super::entry_state::remember(cpu, &vp_record.vmcb.save);
        Ok(Entry {
            vmcb_address: vp_record.vmcb_address(),
            vmcb: &mut vp_record.vmcb,
            gprs: &mut vp_record.gprs,
            seen_tlb_generation: &mut vp_record.seen_tlb_generation,
            run_ticks: &mut vp_record.run_ticks,
            fetch_cache: &mut vp_record.fetch_cache,
            fast: view.fast,
            partition: view.id,
            vp_index: vp_record.index,
            npt_root: view.npt_root,
            nrip_save: crate::svm::features().nrip_save,
            fixed_cpuid: &vp_record.fixed_cpuid,
            exit_counts: &vp_record.exit_counts,
            lazy_eoi_armed: vp_record.lazy_eoi.armed().is_some(),
            pic_level: vp_record.pic_level,
            apic: &mut vp_record.apic,
            published_priority: &vp_record.published_priority,
            synic: &vp_record.synic_published,
            solo: view.solo,
            eoi_routed: view.eoi_routed,
        })
    }
}

impl super::Vp {
    /// Delivers an asserted interrupt when the guest can take one, and
    /// otherwise asks for an exit when it can (the interrupt window).
    fn inject_pending(&mut self) {
        let vmcb = &mut self.vmcb;
        if vmcb.control.event_inj.valid() {
            return;
        }
        if self.pending_nmi && self.nmi_deliverable() {
            self.pending_nmi = false;
            *self.vmcb.event_inj_mut() = Event::Nmi.encode().expect("an NMI is a valid event");
            self.nmi_injected();
            return;
        }
        let vmcb = &mut self.vmcb;
        let Some(event) = self.pending_interrupt else {
            return;
        };
        let interrupts_on = vmcb.save.rflags & (1 << 9) != 0;
        let shadow = vmcb.control.interrupt_state.interrupt_shadow();
        if interrupts_on && !shadow {
            if let Ok(injection) = tessera_vcpu::reply::event_injection(event) {
                *vmcb.event_inj_mut() = injection;
            }
            self.pending_interrupt = None;
            vmcb.v_intr_mut().set_v_irq(false);
            vmcb.intercepts_mut().set(Intercept::Vintr, false);
        } else {
            // A virtual interrupt request makes the CPU exit (VINTR) as
            // soon as the guest could take it; the kernel then injects
            // the real one.
            let v_intr = vmcb.v_intr_mut();
            v_intr.set_v_irq(true);
            v_intr.set_v_ign_tpr(true);
            v_intr.set_v_intr_vector((event & 0xFF) as u8);
            vmcb.intercepts_mut().set(Intercept::Vintr, true);
        }
    }
}
