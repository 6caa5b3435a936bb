//! The SynIC and the synthetic timers of a partition in the running system
//! (issue 14; the design is `kernel/synic/README.md`): the kernel holds
//! every VP's registers, timers and SIM/SIEF frames in one
//! `tessera_synic::Synic` per partition, answers the STIMER MSRs, runs the
//! timers off the host timer the APIC timer uses, stores the SynIC
//! registers the `synic` component validated (`PartitionSynicWrite`), lays
//! the SIM and SIEF frames over the guest's RAM as overlays, and asserts
//! what they deliver through the VPs' local APICs.
use super::exits::Next;
use crate::memory::charged::Charged;
use crate::memory::physical_to_virtual;
use crate::state::Kernel;
use core::sync::atomic::{AtomicU64, Ordering};
use tessera_abi::Status;
use tessera_capability::{PartitionId, VpId};
use tessera_gpa_space::OverlayId as SpaceOverlay;
use tessera_lapic::{DeliveryMode, Message, Target, Trigger, VectorSet};
use tessera_synic::pages::{PAGE_WORDS, SynicPage, SynicPages};
use tessera_synic::registers::RegisterPolicy;
use tessera_synic::timer::StimerPolicy;
use tessera_synic::{
    Deliveries, OverlayId, OverlayRequest, PartitionPolicy, PartitionRef, StimerMsr, Synic,
    SynicMsr,
};

/// Each partition's `Synic` holds that one partition.
pub(super) const ONLY: PartitionRef = PartitionRef(0);

/// A partition's SynIC state.
pub type PartitionSynic = Synic<SynicFrames>;

/// A VP's SIM and SIEF frames (host physical addresses; 0: none), held
/// for the VP's life and charged to its payer. The guest reaches them
/// while SIMP and SIEFP lay them over its GPA space; the kernel writes
/// them by atomic words (`tessera_synic::pages`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynicFrames {
    pub message: u64,
    pub event_flags: u64,
}

impl SynicFrames {
    fn frame(&self, page: SynicPage) -> u64 {
        match page {
            SynicPage::Message => self.message,
            SynicPage::EventFlags => self.event_flags,
        }
    }

    fn word(&self, page: SynicPage, word: usize) -> Option<&AtomicU64> {
        let frame = self.frame(page);
        if frame == 0 || word >= PAGE_WORDS {
            return None;
        }
        let address = physical_to_virtual(frame + 8 * word as u64);
        // `frame` is a page the kernel took for this VP and gives back only
        // after `Synic::take_pages` removed it from the model
        // (`release_vp`), reached through the physical map; `word` is
        // inside the page and 8-byte aligned. The guest writes the page
        // concurrently, which is why every access is atomic.
        // SAFETY: by the argument just above.
        Some(unsafe { &*address.as_ptr::<AtomicU64>() })
    }
}

impl SynicPages for SynicFrames {
    fn load(&self, page: SynicPage, word: usize) -> u64 {
        self.word(page, word)
            .map_or(0, |w| w.load(Ordering::SeqCst))
    }

    fn store(&mut self, page: SynicPage, word: usize, value: u64) {
        if let Some(w) = self.word(page, word) {
            w.store(value, Ordering::SeqCst);
        }
    }

    fn compare_exchange(
        &mut self,
        page: SynicPage,
        word: usize,
        current: u64,
        new: u64,
    ) -> Result<u64, u64> {
        match self.word(page, word) {
            Some(w) => w.compare_exchange(current, new, Ordering::SeqCst, Ordering::SeqCst),
            None => Err(0),
        }
    }

    fn fetch_or(&mut self, page: SynicPage, word: usize, bits: u64) -> u64 {
        self.word(page, word)
            .map_or(0, |w| w.fetch_or(bits, Ordering::SeqCst))
    }
}

/// Clears one of a VP's SynIC frames (0: none).
fn zero_frame(frame: u64) {
    if frame == 0 {
        return;
    }
    // A page the kernel holds for a VP's SynIC, through the physical
    // map; the guest may write it meanwhile, which only races with a page
    // it is being told is cleared.
    // SAFETY: by the argument just above.
    unsafe {
        core::ptr::write_bytes(physical_to_virtual(frame).as_mut_ptr::<u8>(), 0, 4096);
    }
}

/// Whether overlay `id` is a SynIC page: its frame belongs to the VP's
/// SynIC, not to the overlay, so removing the overlay keeps it.
pub fn is_synic_overlay(id: SpaceOverlay) -> bool {
    matches!(
        id,
        SpaceOverlay::SynicMessagePage(_) | SpaceOverlay::SynicEventFlagsPage(_)
    )
}

fn space_overlay(id: OverlayId) -> SpaceOverlay {
    match id {
        OverlayId::SynicMessagePage(vp) => SpaceOverlay::SynicMessagePage(vp),
        OverlayId::SynicEventFlagsPage(vp) => SpaceOverlay::SynicEventFlagsPage(vp),
    }
}

/// Whether VP `index` of `partition` has its SynIC enabled (SCONTROL):
/// only then can a SINT's vector reach its APIC, so only then do its APIC
/// exits need the locked path (`synic_eois`, `synic_auto_eoi`). Only the
/// VP's own exits change SCONTROL (forwarded, so the VP re-enters through
/// `prepare_entry`), or a partition reset with every VP stopped.
pub fn synic_enabled(partition: &super::Partition, index: u32) -> bool {
    partition
        .synic
        .as_ref()
        .and_then(|s| s.registers(ONLY, index))
        .is_some_and(|r| r.scontrol.enable())
}

/// Whether one of VP `index`'s synthetic timers in `partition` is armed
/// (what `Kernel::poll_synic_timers` would poll).
pub fn synic_timer_armed(partition: &super::Partition, index: u32) -> bool {
    partition
        .synic
        .as_ref()
        .is_some_and(|s| s.next_deadline(ONLY, index).is_some())
}

impl Kernel {
    /// `PartitionSetHv1` gave `partition` AccessSynicRegs: its SynIC, with
    /// the frames of the VPs it already has. The SynIC delivers through
    /// local APICs, so a partition without them is refused.
    pub(super) fn create_synic(&mut self, partition: PartitionId) -> Result<(), u64> {
        let target = self
            .partitions
            .get_mut(partition)
            .ok_or(Status::InvalidArgument.code())?;
        let Some(hv1) = target.hv1.as_ref() else {
            return Ok(());
        };
        if !hv1.config.privileges.access_synic_regs() {
            return Ok(());
        }
        if target.apic == super::lapic::ApicChoice::None {
            return Err(Status::NoApic.code());
        }
        let policy = PartitionPolicy {
            registers: RegisterPolicy::from_config(&hv1.config, tessera_abi::vm::GPA_LIMIT),
            timers: StimerPolicy::from_config(&hv1.config),
        };
        let mut synic = alloc::boxed::Box::new(PartitionSynic::new());
        synic.add_partition(policy, alloc::vec::Vec::new());
        // Port serials unique to this partition slot's generation: a
        // connection to a port of a partition gone never reaches a port of
        // the one that takes its slot (`synic_ipc::port_of`).
        synic.set_serial_base(u64::from(partition.generation()) << 32);
        target.synic = Some(synic);
        for vp in target.vps.clone() {
            self.synic_add_vp(vp)?;
        }
        Ok(())
    }

    /// VP `vp` joins its partition's SynIC (if it has one): two zeroed
    /// frames, charged to the VP's payer.
    pub(super) fn synic_add_vp(&mut self, vp: VpId) -> Result<(), u64> {
        let Some(record) = self.vps.get(vp) else {
            return Ok(());
        };
        let (partition, index, payer) = (record.partition, record.index, record.payer);
        let Kernel {
            partitions, caps, ..
        } = self;
        let Some(synic) = partitions.get_mut(partition).and_then(|p| p.synic.as_mut()) else {
            return Ok(());
        };
        let mut charged = Charged::to(caps, payer);
        let Some(message) = charged.take() else {
            return Err(charged.status());
        };
        let Some(event_flags) = charged.take() else {
            charged.give(message);
            return Err(charged.status());
        };
        // `Charged::take` gives zeroed frames ("Upon virtual processor
        // creation ... the SIM page is cleared to zero").
        let frames = SynicFrames {
            message: message.as_u64(),
            event_flags: event_flags.as_u64(),
        };
        // An index a reaped VP had gave its frames back then.
        synic.add_vp(ONLY, index, frames);
        if let Some(record) = self.vps.get_mut(vp) {
            record.in_synic = true;
        }
        Ok(())
    }

    /// VP `vp` is being reaped: its SIM and SIEF pages leave the guest's
    /// view (the flush included) and their frames go back to its payer.
    pub(super) fn synic_release_vp(
        &mut self,
        partition: PartitionId,
        index: u32,
        payer: tessera_capability::CSpaceId,
    ) {
        let cpu = crate::percpu::current_index() as usize;
        if self
            .partitions
            .get(partition)
            .is_none_or(|p| p.synic.is_none())
        {
            return;
        }
        self.remove_overlay(partition, SpaceOverlay::SynicMessagePage(index), cpu);
        self.remove_overlay(partition, SpaceOverlay::SynicEventFlagsPage(index), cpu);
        let Some(frames) = self
            .synic_of_mut(partition)
            .and_then(|s| s.take_pages(ONLY, index))
        else {
            return;
        };
        let mut charged = Charged::to(&mut self.caps, payer);
        for frame in [frames.message, frames.event_flags] {
            if frame != 0 {
                charged.give(x86_64::PhysAddr::new(frame));
            }
        }
    }

    /// A partition reset (`reset_hv1`): every VP's SynIC registers and
    /// timers at their reset values, its pages cleared ("Upon virtual
    /// processor creation and reset, the SIM page is cleared to zero");
    /// the caller removes every overlay.
    pub(super) fn reset_synic(&mut self, partition: PartitionId) {
        let Some(synic) = self.synic_of_mut(partition) else {
            return;
        };
        for index in 0..synic.vp_count(ONLY) {
            let Some(frames) = synic.pages(ONLY, index).copied() else {
                continue;
            };
            zero_frame(frames.message);
            zero_frame(frames.event_flags);
            synic.add_vp(ONLY, index, frames);
        }
    }

    /// `partition`'s SynIC goes (its configuration was refused): the
    /// frames its VPs got go back.
    pub(super) fn drop_synic(&mut self, partition: PartitionId) {
        let vps = match self.partitions.get(partition) {
            Some(target) if target.synic.is_some() => target.vps.clone(),
            _ => return,
        };
        for vp in vps {
            if let Some(record) = self.vps.get_mut(vp) {
                record.in_synic = false;
                let (index, payer) = (record.index, record.payer);
                self.synic_release_vp(partition, index, payer);
            }
        }
        if let Some(target) = self.partitions.get_mut(partition) {
            target.synic = None;
        }
    }

    pub(super) fn synic_of(&self, partition: PartitionId) -> Option<&PartitionSynic> {
        self.partitions.get(partition)?.synic.as_deref()
    }

    pub(super) fn synic_of_mut(&mut self, partition: PartitionId) -> Option<&mut PartitionSynic> {
        self.partitions.get_mut(partition)?.synic.as_deref_mut()
    }

    /// The frames the SynICs hold (the audit).
    pub fn synic_frames(&self) -> u64 {
        let mut held = 0;
        for (_, partition) in self.partitions.iter() {
            let Some(synic) = partition.synic.as_ref() else {
                continue;
            };
            for vp in 0..synic.vp_count(ONLY) {
                if let Some(frames) = synic.pages(ONLY, vp) {
                    held += u64::from(frames.message != 0) + u64::from(frames.event_flags != 0);
                }
            }
        }
        held
    }

    /// `partition`'s reference time now (100 ns units).
    pub(super) fn reference_now(&self, partition: PartitionId) -> u64 {
        self.partitions
            .get(partition)
            .and_then(|p| p.hv1.as_ref())
            .map_or(0, |hv1| hv1.msrs.reference_time(crate::arch::tsc::read()))
    }

    /// RDMSR/WRMSR of `STIMERn_CONFIG`/`COUNT` (the privilege was checked
    /// by `tessera_hv1::synthetic_msr`): answered here, since expiry
    /// changes the configuration (README § "Who handles each exit").
    /// `None`: not a timer MSR, or no SynIC.
    pub(super) fn stimer_msr(
        &mut self,
        vp: VpId,
        msr: u32,
        write: Option<u64>,
        next_rip: u64,
    ) -> Option<Next> {
        let timer = StimerMsr::from_msr(msr)?;
        let record = self.vps.get(vp)?;
        let (partition, index) = (record.partition, record.index);
        let now = self.reference_now(partition);
        let synic = self.synic_of_mut(partition)?;
        let result = match write {
            None => synic.read_timer(ONLY, index, timer).map(|value| {
                let record = self.vps.get_mut(vp);
                if let Some(record) = record {
                    *record.vmcb.rax_mut() = value & 0xFFFF_FFFF;
                    record.gprs.rdx = value >> 32;
                }
                Deliveries::new()
            }),
            Some(value) => synic.write_timer(ONLY, index, timer, value, now),
        };
        let Ok(deliveries) = result else {
            return Some(self.fault(vp));
        };
        self.deliver_synic(partition, &deliveries);
        if let Some(record) = self.vps.get_mut(vp) {
            *record.vmcb.rip_mut() = next_rip;
        }
        Some(Next::Resume)
    }

    /// `PartitionSynicWrite`: a SynIC register of VP `index` that the
    /// `synic` component validated, checked again and stored; then the
    /// overlay it asks for and what it delivers.
    pub fn synic_write(
        &mut self,
        partition: PartitionId,
        index: u32,
        msr: u32,
        value: u64,
        cpu: usize,
    ) -> Result<(), u64> {
        let msr = SynicMsr::from_msr(msr).ok_or(Status::InvalidArgument.code())?;
        let now = self.reference_now(partition);
        let target = self
            .partitions
            .get_mut(partition)
            .ok_or(Status::InvalidArgument.code())?;
        let synic = target.synic.as_mut().ok_or(Status::NoSynic.code())?;
        if index >= synic.vp_count(ONLY) || synic.pages(ONLY, index).is_none_or(|f| f.message == 0)
        {
            return Err(Status::InvalidArgument.code());
        }
        let applied = synic
            .write_synic(ONLY, index, msr, value, now)
            .map_err(|_| Status::InvalidArgument.code())?;
        if let Some(request) = applied.overlay {
            self.apply_synic_overlay(partition, index, request, cpu);
        }
        self.deliver_synic(partition, &applied.deliveries);
        Ok(())
    }

    /// `PartitionSynicRead`: VP `index`'s SynIC registers and the
    /// partition's register policy, for the `synic` component's copy
    /// (`tessera_abi::vm::synic`).
    pub fn synic_read(
        &self,
        partition: PartitionId,
        index: u32,
    ) -> Result<[u64; tessera_abi::vm::synic::STATE_WORDS], u64> {
        use tessera_abi::vm::synic as abi;
        let target = self
            .partitions
            .get(partition)
            .ok_or(Status::InvalidArgument.code())?;
        let synic = target.synic.as_ref().ok_or(Status::NoSynic.code())?;
        let registers = synic
            .registers(ONLY, index)
            .filter(|_| synic.pages(ONLY, index).is_some_and(|f| f.message != 0))
            .ok_or(Status::InvalidArgument.code())?;
        let policy = synic.policy(ONLY).ok_or(Status::NoSynic.code())?.registers;
        let mut words = [0; abi::STATE_WORDS];
        words[abi::POLICY] = abi::policy_word(policy.polling, policy.auto_eoi);
        words[abi::GPA_LIMIT] = policy.gpa_limit;
        words[abi::SCONTROL] = registers.read(SynicMsr::Scontrol);
        words[abi::SIEFP] = registers.read(SynicMsr::Siefp);
        words[abi::SIMP] = registers.read(SynicMsr::Simp);
        for sint in tessera_synic::Sint::ALL {
            words[abi::SINT0 + sint.index()] = registers.read(SynicMsr::Sint(sint));
        }
        Ok(words)
    }

    /// Lays VP `index`'s SIM or SIEF frame over the GPA `request` names,
    /// or takes it out of the guest's view (the RAM under it shows again).
    fn apply_synic_overlay(
        &mut self,
        partition: PartitionId,
        index: u32,
        request: OverlayRequest,
        cpu: usize,
    ) {
        let id = space_overlay(request.id());
        match request {
            OverlayRequest::Remove { .. } => self.remove_overlay(partition, id, cpu),
            OverlayRequest::Place { id: which, gpa } => {
                let Some(frames) = self
                    .synic_of(partition)
                    .and_then(|s| s.pages(ONLY, index).copied())
                else {
                    return;
                };
                let frame = match which {
                    OverlayId::SynicMessagePage(_) => frames.message,
                    OverlayId::SynicEventFlagsPage(_) => frames.event_flags,
                };
                self.place_overlay_frame(
                    partition,
                    id,
                    gpa,
                    frame,
                    tessera_npt::GuestRights::READ_WRITE,
                    cpu,
                );
            }
        }
    }

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

    /// VP `vp`'s timers at reference time now: what expired is delivered.
    /// Returns the host TSC of its next timer deadline.
    /// Without a SynIC or an armed timer it reads no clock (it runs at
    /// every locked entry).
    pub(super) fn poll_synic_timers(&mut self, vp: VpId) -> Option<u64> {
        let record = self.vps.get(vp)?;
        let (partition, index) = (record.partition, record.index);
        self.synic_of(partition)?.next_deadline(ONLY, index)?;
        let now = self.reference_now(partition);
        let synic = self.synic_of_mut(partition)?;
        let deliveries = synic.poll_timers(ONLY, index, now);
        if !deliveries.is_empty() {
            self.deliver_synic(partition, &deliveries);
        }
        self.synic_deadline(vp)
    }

    /// The host TSC of VP `vp`'s next synthetic timer deadline.
    pub(super) fn synic_deadline(&self, vp: VpId) -> Option<u64> {
        let record = self.vps.get(vp)?;
        let target = self.partitions.get(record.partition)?;
        let deadline = target.synic.as_ref()?.next_deadline(ONLY, record.index)?;
        // Never early: `ReferenceCounter::tsc_after` (host-tested).
        Some(
            target
                .hv1
                .as_ref()?
                .msrs
                .reference_counter()
                .tsc_after(deadline),
        )
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
