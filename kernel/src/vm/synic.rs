//! The SynIC and the synthetic timers of a partition in the running system
//! (issue 14; the design is `kernel/synic/README.md`): the kernel holds
//! every VP's registers, timers and SIM/SIEF frames in one
//! `tessera_synic::Synic` per partition, answers the STIMER MSRs, runs the
//! timers off the host timer the APIC timer uses, stores the SynIC
//! registers the `synic` component validated (`PartitionSynicWrite`), lays
//! the SIM and SIEF frames over the guest's RAM as overlays, and asserts
//! what they deliver through the VPs' local APICs (`synic_interrupts.rs`);
//! the timers are `synic_timers.rs`, messages and events between
//! partitions `synic_ipc.rs`.
use crate::memory::charged::Charged;
use crate::state::Kernel;
use tessera_abi::Status;
use tessera_capability::{PartitionId, VpId};
use tessera_gpa_space::OverlayId as SpaceOverlay;
use tessera_synic::registers::RegisterPolicy;
use tessera_synic::timer::StimerPolicy;
use tessera_synic::{OverlayId, OverlayRequest, PartitionPolicy, PartitionRef, Synic, SynicMsr};

/// Each partition's `Synic` holds that one partition.
pub(super) const ONLY: PartitionRef = PartitionRef(0);

/// A partition's SynIC state.
pub type PartitionSynic = Synic<SynicFrames>;
pub use super::synic_frames::SynicFrames;
use super::synic_frames::zero_frame;

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
        // Its connections' routes, published where the lock-free
        // `HvSignalEvent` reads them (`synic_fast.rs`).
        let routes = target
            .fast
            .synic
            .attach(partition.index(), partition.generation());
        synic.add_partition_with_routes(policy, alloc::vec::Vec::new(), routes);
        target.fast.synic_changed();
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
        self.publish_synic_vp(partition, index);
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
        let taken = self
            .synic_of_mut(partition)
            .and_then(|s| s.take_pages(ONLY, index));
        // Withdrawn before the frames go back (the pages are gone now).
        self.publish_synic_vp(partition, index);
        let Some(frames) = taken else {
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
        let count = synic.vp_count(ONLY);
        for index in 0..count {
            self.publish_synic_vp(partition, index);
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
            target.fast.synic.detach();
            target.fast.synic_changed();
        }
    }

    /// Publishes VP `index`'s SynIC registers for the lock-free
    /// `HvSignalEvent` (`Vp::synic_published`), or withdraws them when the
    /// VP has no SynIC frames: after every change to them, under the lock.
    pub(super) fn publish_synic_vp(&self, partition: PartitionId, index: u32) {
        let Some(target) = self.partitions.get(partition) else {
            return;
        };
        let Some(record) = target
            .vps
            .iter()
            .filter_map(|&vp| self.vps.get(vp))
            .find(|record| record.index == index)
        else {
            return;
        };
        let state = target
            .synic
            .as_ref()
            .and_then(|s| Some((s.registers(ONLY, index)?, s.pages(ONLY, index)?)));
        match state {
            Some((registers, frames)) if frames.event_flags != 0 => record
                .synic_published
                .publish(registers, frames.event_flags),
            _ => record.synic_published.withdraw(),
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
        self.publish_synic_vp(partition, index);
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
}
