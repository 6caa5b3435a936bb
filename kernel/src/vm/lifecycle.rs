//! Creating partitions and VPs, starting and stopping VPs, asserting
//! interrupts, and what deleting their capabilities does.
use super::tables::{self, KernelTables};
use super::{Partition, PartitionVps, Vp, VpState, guest_state};
use crate::arch::user_context::UserContext;
use crate::ipc_glue::cap_status;
use crate::memory::charged::Charged;
use crate::memory::frame_box::FrameBox;
use crate::memory::heap::try_box;
use crate::state::{Kernel, Name, Thread};
use alloc::vec::Vec;
use core::fmt;
use tessera_abi::Status;
use tessera_capability::{CSpaceId, CapError, DomainId, PartitionId, ThreadId, VpId};
use tessera_gpa_space::GpaSpace;
use tessera_ipc::Priority;
use tessera_npt::NptConfig;
use tessera_svm::segment::{SegmentAttributes, VmcbSegment};
use tessera_svm::{ExceptionVector, Intercept, InterceptVector, Vmcb};
use tessera_vcpu::clean_bits::TrackedVmcb;

/// The PAT value at reset (WB, WT, UC-, UC, twice).
const PAT_RESET: u64 = 0x0007_0406_0007_0406;

fn segment(selector: u16, base: u64, attributes: u16) -> VmcbSegment {
    VmcbSegment {
        selector,
        attrib: SegmentAttributes::from_bits(attributes),
        limit: 0xFFFF,
        base,
    }
}

/// A VMCB in the x86 reset state (real mode at F000:FFF0), with the
/// partition's controls.
fn reset_vmcb(partition: &Partition, maps: tables::PermissionMaps) -> Vmcb {
    let mut vmcb = Vmcb::default();
    let control = &mut vmcb.control;
    for intercept in tessera_vcpu::intercepts::ALWAYS {
        control.intercepts.set(intercept, true);
    }
    set_exception_intercepts(&mut vmcb.control.intercepts, partition.exception_intercepts);
    let control = &mut vmcb.control;
    control.iopm_base_pa = maps.iopm;
    control.msrpm_base_pa = maps.msrpm;
    control.guest_asid = partition.asid;
    control.nested_control.set_np_enable(true);
    control.n_cr3 = partition.space.npt().root();
    control.v_intr.set_v_intr_masking(true);
    let save = &mut vmcb.save;
    // Data segments: present, writable, accessed; code: readable, accessed.
    for data in [
        &mut save.es,
        &mut save.ss,
        &mut save.ds,
        &mut save.fs,
        &mut save.gs,
    ] {
        *data = segment(0, 0, 0x93);
    }
    save.cs = segment(0xF000, 0xFFFF_0000, 0x9B);
    save.ldtr = segment(0, 0, 0x82);
    save.tr = segment(0, 0, 0x8B);
    save.gdtr.limit = 0xFFFF;
    save.idtr.limit = 0xFFFF;
    save.rip = 0xFFF0;
    save.rflags = 0x2;
    save.cr0 = 0x6000_0010;
    save.efer = tessera_vcpu::registers::EFER_SVME;
    save.dr6 = 0xFFFF_0FF0;
    save.dr7 = 0x400;
    save.g_pat = PAT_RESET;
    vmcb
}

/// Intercepts exception `vectors` (the routed ones) and those the kernel
/// always takes (`tessera_vcpu::intercepts::EXCEPTIONS`).
pub fn set_exception_intercepts(intercepts: &mut InterceptVector, vectors: u32) {
    let vectors = vectors | tessera_vcpu::intercepts::EXCEPTIONS;
    for vector in 0..32u8 {
        if let Some(vector_id) = ExceptionVector::new(vector) {
            intercepts.set(
                Intercept::Exception(vector_id),
                vectors & (1 << vector) != 0,
            );
        }
    }
}

/// "partition NAME VP n", for logs (it needs no heap).
#[derive(Debug, Clone)]
pub struct VpName {
    partition: Name,
    index: Option<u32>,
}

impl fmt::Display for VpName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(index) => write!(f, "partition {} VP {index}", self.partition),
            None => f.write_str("a destroyed VP"),
        }
    }
}

impl Kernel {
    /// A new partition named `name`, its frames charged to `payer`.
    pub fn create_partition(
        &mut self,
        name: &str,
        payer: CSpaceId,
        apic: super::lapic::ApicChoice,
    ) -> Result<PartitionId, u64> {
        let out_of_memory = cap_status(CapError::OutOfMemory);
        self.partitions.reserve(1).map_err(|_| out_of_memory)?;
        let mut fast = try_box(super::fast::FastPartition::default()).map_err(|_| out_of_memory)?;
        fast.apic_leaves = apic != super::lapic::ApicChoice::None;
        let asid = tables::allocate_asid().ok_or(out_of_memory)?;
        let config = NptConfig {
            max_gpa_bits: 40,
            max_hpa_bits: NptConfig::MAX_HPA_BITS,
        };
        let mut tables = KernelTables::charged(Charged::to(&mut self.caps, payer));
        let space = match GpaSpace::new(&mut tables, config) {
            Ok(space) => space,
            Err(_) => {
                let status = tables.status();
                tables::free_asid(asid);
                return Err(status);
            }
        };
        let partition = Partition {
            name: crate::state::name(name),
            payer,
            space,
            asid,
            routes: Vec::new(),
            vps: PartitionVps::new(),
            fast,
            exception_intercepts: 0,
            destroyed: false,
            hv1: None,
            apic,
            log_budget: Default::default(),
            exit_stats: Default::default(),
        };
        match self.partitions.insert(partition) {
            Ok(id) => {
                component_log!(
                    self,
                    payer,
                    log::Level::Info,
                    "partition {name}: created (ASID {asid})"
                );
                Ok(id)
            }
            Err(partition) => {
                let mut tables = KernelTables::charged(Charged::to(&mut self.caps, payer));
                // A new space holds no overlay.
                let _ = partition.space.destroy(&mut tables);
                tables::free_asid(asid);
                Err(out_of_memory)
            }
        }
    }

    /// VP number `index` of `partition`, run by a new thread of `domain`
    /// on `cpu` at `priority`; its VMCB and message buffer are charged to
    /// the domain.
    pub fn create_vp(
        &mut self,
        partition: PartitionId,
        domain: DomainId,
        index: u32,
        cpu: usize,
        priority: Priority,
    ) -> Result<VpId, u64> {
        let out_of_memory = cap_status(CapError::OutOfMemory);
        let target = self
            .partitions
            .get(partition)
            .ok_or(Status::InvalidArgument.code())?;
        if u64::from(index) >= tessera_abi::vm::MAX_VPS
            || cpu >= self.sched.cpus()
            || target
                .vps
                .iter()
                .any(|&vp| self.vps.get(vp).is_some_and(|v| v.index == index))
        {
            return Err(Status::InvalidArgument.code());
        }
        if target.vps.is_full() {
            return Err(out_of_memory);
        }
        let vmcb = reset_vmcb(target, tables::permission_maps());
        let exceptions = target.exception_intercepts;
        let apic = target.apic.new_apic(index);
        let payer = self
            .domains
            .get(domain)
            .ok_or(Status::InvalidArgument.code())?
            .cspace;
        let context = try_box(UserContext::default()).map_err(|_| out_of_memory)?;
        self.vps.reserve(1).map_err(|_| out_of_memory)?;
        let mut charged = Charged::to(&mut self.caps, payer);
        let Some(vmcb_frame) = charged.take() else {
            return Err(charged.status());
        };
        let Some(message_buffer) = charged.take() else {
            charged.give(vmcb_frame);
            return Err(charged.status());
        };
        let give_back = |kernel: &mut Self| {
            let mut charged = Charged::to(&mut kernel.caps, payer);
            charged.give(vmcb_frame);
            charged.give(message_buffer);
        };
        let thread = match self.add_ipc_thread(domain, priority, cpu) {
            Ok(thread) => thread,
            Err(status) => {
                give_back(self);
                return Err(status);
            }
        };
        if self.threads.reserve(thread).is_err() {
            let _ = self.ipc.remove_thread(thread, &mut |_| {});
            give_back(self);
            return Err(out_of_memory);
        }
        let mut record = Vp {
            partition,
            index,
            thread,
            cpu,
            vmcb: TrackedVmcb::new(
                FrameBox::new(vmcb_frame, vmcb),
                crate::svm::features().vmcb_clean_bits,
            ),
            payer,
            gprs: Default::default(),
            guest_state: Default::default(),
            state: VpState::Stopped,
            stop_requested: false,
            stop_waiter: None,
            destroyed: false,
            pending_interrupt: None,
            pending_nmi: false,
            seen_tlb_generation: 0,
            hv1_msrs: tessera_hv1::VpMsrs::new(index),
            ever_started: false,
            run_ticks: 0,
            exception_intercepts: exceptions,
            message_buffer,
            reply: None,
            tsc_aux: 0,
            skip_failed_at: None,
            fetch_cache: Default::default(),
            exit_counts: Default::default(),
            fixed_cpuid: super::guest_cpu::fixed_cpuid_of(index),
            apic,
            exit_rip: None,
        };
        record.refresh_apic_cpuid();
        // Room for the slot was reserved above; the box may still fail.
        let vp = match try_box(record) {
            Ok(record) => self.vps.insert(record).map_err(|record| *record),
            Err(record) => Err(record),
        };
        let vp = match vp {
            Ok(vp) => vp,
            Err(record) => {
                let _ = record.vmcb.into_storage().into_frame();
                let _ = self.ipc.remove_thread(thread, &mut |_| {});
                give_back(self);
                return Err(out_of_memory);
            }
        };
        // Room was made for both above.
        if let Some(target) = self.partitions.get_mut(partition) {
            let _ = target.vps.push(vp);
        }
        let _ = self.threads.insert(
            thread,
            Thread {
                domain,
                cspace: payer,
                cpu,
                context,
                message_buffer,
                started: true,
                dead: false,
                vp: Some(vp),
            },
        );
        Ok(vp)
    }

    /// "partition NAME VP n", for logs.
    pub fn vp_name(&self, vp: VpId) -> VpName {
        let record = self.vps.get(vp);
        let partition = record.and_then(|r| self.partitions.get(r.partition));
        VpName {
            partition: partition.map_or_else(|| crate::state::name("?"), |p| p.name.clone()),
            index: record.map(|r| r.index),
        }
    }

    /// Stops VP `vp` where it is (its thread leaves the run queues), and
    /// checks that the guest left the host's MSRs alone.
    pub fn stop_vp(&mut self, vp: VpId) {
        let Some(record) = self.vps.get_mut(vp) else {
            return;
        };
        record.state = VpState::Stopped;
        record.stop_requested = false;
        let (thread, cpu) = (record.thread, record.cpu);
        self.sched.forget_queued(thread);
        log::info!("{}: stopped", self.vp_name(vp));
        self.wake_stop_waiter(vp);
        if crate::percpu::current_index() as usize == cpu {
            crate::vm::host_msrs::check(cpu);
        }
        self.reap_vp(vp);
    }

    /// A reply that stops its VP (`capture_reply_to_vp`) takes effect as the
    /// kernel accepts it, here on the handler's CPU (the VP is blocked, so
    /// nothing of it runs), not when the VP's CPU next takes it up: once
    /// the handler's `Reply` returns, the VP is stopped and its registers
    /// are the reply's. So a handler can act on the stopped VP at once —
    /// issue 12: the partition manager answered a reset request STOP and
    /// at once reset the Hv#1 state, which the kernel refused while the VP
    /// had not yet stopped on its own CPU. Returns whether it did (the VP's
    /// thread is then not to be woken).
    pub fn stop_on_reply(&mut self, caller: ThreadId, stops: bool) -> bool {
        if !stops {
            return false;
        }
        let Some(vp) = self.threads.get(&caller).and_then(|thread| thread.vp) else {
            return false;
        };
        let Some(VpState::AwaitingReply(pending)) = self.vps.get(vp).map(|v| v.state) else {
            return false;
        };
        self.stop_with_answer(vp, caller, pending);
        true
    }

    /// Applies the answer VP `vp` (whose thread is `thread`) was woken
    /// with, here, and stops it.
    fn stop_with_answer(&mut self, vp: VpId, thread: ThreadId, pending: super::forward::Pending) {
        crate::ipc_glue::deliver_wakeup(self, thread);
        let cpu = crate::percpu::current_index() as usize;
        if self.complete_exit(cpu, vp, pending).is_none() {
            // The answer did not say STOP, but the VP was to stop anyway.
            self.stop_vp(vp);
        }
    }

    /// `VpStart`: the VP runs when its state is one VMRUN accepts and its
    /// partition has a lifecycle route.
    pub fn start_vp(&mut self, vp: VpId) -> Result<(), u64> {
        let record = self.vps.get(vp).ok_or(Status::InvalidArgument.code())?;
        if record.destroyed {
            return Err(Status::InvalidArgument.code());
        }
        if record.state != VpState::Stopped {
            return Err(Status::VpRunning.code());
        }
        let partition = self
            .partitions
            .get(record.partition)
            .ok_or(Status::InvalidArgument.code())?;
        if partition.destroyed {
            return Err(Status::InvalidArgument.code());
        }
        if partition
            .route(tessera_abi::vm::intercept::LIFECYCLE, 0)
            .is_none()
        {
            return Err(Status::NoLifecycleRoute.code());
        }
        if let Err(error) =
            tessera_vcpu::checks::runnable(&record.vmcb, super::guest_cpu::guest_cpu())
        {
            log::info!("{}: not started: {error:?}", self.vp_name(vp));
            return Err(Status::InvalidArgument.code());
        }
        let thread = record.thread;
        if let Some(record) = self.vps.get_mut(vp) {
            record.state = VpState::Runnable;
            record.ever_started = true;
        }
        log::info!("{}: started", self.vp_name(vp));
        self.wake(thread);
        Ok(())
    }

    /// `VpStop`: at once if the VP is not on a CPU (queued or halted);
    /// when its handler's answer is accepted if it waits for one; else (in
    /// its guest) at its next exit, which an interrupt makes soon —
    /// `Ok(false)` then, and `waiter`'s call returns when it has stopped
    /// (`wake_stop_waiter`). So the caller knows the VP has stopped when
    /// its call returns, without polling (issue 12).
    pub fn request_stop(&mut self, vp: VpId, waiter: ThreadId) -> Result<bool, u64> {
        let record = self.vps.get(vp).ok_or(Status::InvalidArgument.code())?;
        let (thread, cpu, state) = (record.thread, record.cpu, record.state);
        let on_a_cpu = (0..self.sched.cpus()).any(|c| self.sched.running(c) == Some(thread));
        let answered = self.ipc.state(thread) == Ok(tessera_ipc::ThreadState::Runnable);
        match state {
            VpState::Stopped => Ok(true),
            _ if on_a_cpu => {
                // In its guest (or taking up its handler's answer): it stops
                // on its CPU, at once; the caller waits for that.
                let record = self.vps.get_mut(vp).ok_or(Status::InvalidArgument.code())?;
                if record.stop_waiter.is_some_and(|other| other != waiter) {
                    return Err(Status::Busy.code());
                }
                record.stop_requested = true;
                record.stop_waiter = Some(waiter);
                self.sched.kick(cpu);
                Ok(false)
            }
            VpState::AwaitingReply(pending) if answered => {
                // Answered, and the answer not yet taken up: it is, here.
                self.stop_with_answer(vp, thread, pending);
                Ok(true)
            }
            VpState::AwaitingReply(_) => {
                // It stops with its handler's answer, as the kernel accepts
                // it (`stop_on_reply`).
                if let Some(record) = self.vps.get_mut(vp) {
                    record.stop_requested = true;
                }
                Ok(true)
            }
            VpState::Parked | VpState::Runnable => {
                self.stop_vp(vp);
                Ok(true)
            }
        }
    }

    /// The VP stopped (or went): a `VpStop` waiting for it returns.
    fn wake_stop_waiter(&mut self, vp: VpId) {
        let Some(waiter) = self
            .vps
            .get_mut(vp)
            .and_then(|record| record.stop_waiter.take())
        else {
            return;
        };
        if let Some(thread) = self.threads.get_mut(&waiter) {
            thread.context.rax = Status::Success.code();
            self.wake(waiter);
        }
    }

    /// A VP asked to stop took an exit in its guest: it stops there, before
    /// the exit is handled (whose instruction runs again when it is
    /// restarted; an event the exit interrupted is delivered then).
    /// Whether it did.
    pub fn stop_at_exit(&mut self, vp: VpId) -> bool {
        let Some(record) = self.vps.get_mut(vp) else {
            return false;
        };
        if !record.stop_requested {
            return false;
        }
        let control = &record.vmcb.control;
        if control.exit_int_info.valid() && !control.event_inj.valid() {
            let interrupted = control.exit_int_info;
            *record.vmcb.event_inj_mut() = interrupted;
        }
        self.stop_vp(vp);
        true
    }

    /// `VpAssertInterrupt`.
    pub fn assert_interrupt(&mut self, vp: VpId, event: u64) -> Result<(), u64> {
        use tessera_abi::vm::event as ev;
        if event & !(ev::VECTOR_MASK | (0b111 << ev::TYPE_SHIFT)) != 0 {
            return Err(Status::InvalidArgument.code());
        }
        let kind = (event >> ev::TYPE_SHIFT) & 0b111;
        let record = self.vps.get_mut(vp).ok_or(Status::InvalidArgument.code())?;
        match kind {
            ev::TYPE_NMI if event & ev::VECTOR_MASK == 2 => record.pending_nmi = true,
            ev::TYPE_EXTERNAL if event & ev::VECTOR_MASK >= 32 => {
                if record.pending_interrupt.is_some() {
                    return Err(Status::Busy.code());
                }
                record.pending_interrupt = Some(event);
            }
            _ => return Err(Status::InvalidArgument.code()),
        }
        let (thread, cpu) = (record.thread, record.cpu);
        if record.state == VpState::Parked {
            record.state = VpState::Runnable;
            self.wake(thread);
        } else {
            self.sched.kick(cpu);
        }
        Ok(())
    }

    /// Routes exceptions `vectors` too: every VP of the partition
    /// intercepts them from its next entry (a running VP's VMCB is its
    /// CPU's alone, so each VP applies the change itself, `sync_intercepts`).
    pub fn add_exception_intercepts(&mut self, partition: PartitionId, vectors: u32) {
        let Some(target) = self.partitions.get_mut(partition) else {
            return;
        };
        target.exception_intercepts |= vectors;
        for &vp in &target.vps {
            if let Some(record) = self.vps.get(vp) {
                self.sched.kick(record.cpu);
            }
        }
    }

    /// The last capability to a VP went (or its partition's, or the
    /// component whose thread runs it died): it stops and never runs
    /// again, and its record, VMCB and message buffer go once no CPU runs
    /// it. A VP waiting for a handler leaves the call at once (the
    /// handler's reply then finds no caller), so a handler that never
    /// answers, or answers after the capabilities are gone, cannot keep
    /// it, its partition and the partition's ASID alive (issue 9 finding 4).
    pub fn destroy_vp(&mut self, vp: VpId) {
        let Some(record) = self.vps.get_mut(vp) else {
            return;
        };
        record.destroyed = true;
        let (thread, state) = (record.thread, record.state);
        let on_a_cpu = (0..self.sched.cpus()).any(|cpu| self.sched.running(cpu) == Some(thread));
        match state {
            VpState::Stopped => {}
            // Not on a CPU (blocked, halted, or only queued): nothing of it
            // runs while it stops here.
            VpState::AwaitingReply(_) | VpState::Parked | VpState::Runnable if !on_a_cpu => {
                let Some(record) = self.vps.get_mut(vp) else {
                    return;
                };
                record.state = VpState::Stopped;
                record.stop_requested = false;
                let _ = self.ipc.thread_died(thread, &mut |_| {});
                self.sched.forget_queued(thread);
                log::info!("{}: stopped", self.vp_name(vp));
                self.wake_stop_waiter(vp);
            }
            _ => {
                // On its CPU (in its guest, or about to be): it stops
                // there, at its next exit (`prepare_entry`,
                // `settle_destroyed`), which reaps it.
                let Some(record) = self.vps.get_mut(vp) else {
                    return;
                };
                record.stop_requested = true;
                let cpu = record.cpu;
                self.sched.kick(cpu);
                return;
            }
        }
        self.reap_vp(vp);
    }

    /// After a destroyed VP's exit left it blocked (on a handler, or in
    /// HLT) instead of stopped: it goes now.
    pub fn settle_destroyed(&mut self, vp: VpId) {
        if self
            .vps
            .get(vp)
            .is_some_and(|v| v.destroyed && v.state != VpState::Stopped)
        {
            self.destroy_vp(vp);
        }
    }

    /// The last capability to a partition went: its VPs go, its memory
    /// mappings go (the regions' frames belong to the regions), and the
    /// partition itself once its last VP has left its CPU.
    pub fn destroy_partition(&mut self, partition: PartitionId, cpu: usize) {
        let Some(target) = self.partitions.get_mut(partition) else {
            return;
        };
        target.destroyed = true;
        let vps = target.vps.clone();
        for vp in vps {
            self.destroy_vp(vp);
        }
        self.unmap_gpa_where(partition, cpu, |_| true);
        if let Some(target) = self.partitions.get(partition) {
            let (name, payer) = (target.name.clone(), target.payer);
            component_log!(self, payer, log::Level::Info, "partition {name}: destroyed");
        }
        self.reap_partition(partition);
    }

    /// A destroyed, stopped VP that no other CPU runs gives back its
    /// record, thread, VMCB and message buffer (refunded to its creator);
    /// its partition, if destroyed and now without VPs, follows.
    fn reap_vp(&mut self, vp: VpId) {
        let this_cpu = crate::percpu::current_index() as usize;
        let Some(record) = self.vps.get(vp) else {
            return;
        };
        let elsewhere = (0..self.sched.cpus())
            .any(|cpu| cpu != this_cpu && self.sched.running(cpu) == Some(record.thread));
        // A CPU that still runs it reaps it when it stops it there.
        if !record.destroyed || record.state != VpState::Stopped || elsewhere {
            return;
        }
        let Some(record) = self.vps.remove(vp) else {
            return;
        };
        let record = *record;
        guest_state::forget(record.cpu, vp);
        self.sched.forget(record.thread);
        let _ = self.ipc.remove_thread(record.thread, &mut |_| {});
        self.threads.remove(&record.thread);
        let mut charged = Charged::to(&mut self.caps, record.payer);
        charged.give(record.vmcb.into_storage().into_frame());
        charged.give(record.message_buffer);
        if let Some(target) = self.partitions.get_mut(record.partition) {
            target.vps.retain(|&v| v != vp);
            target.exit_stats.vp_gone(&record.exit_counts);
        }
        self.reap_partition(record.partition);
        // The VP may have been the last thing of an ended domain.
        self.reap_domains();
    }

    /// A destroyed partition whose VPs are all gone gives back what it
    /// holds: its overlay pages, its nested page tables (refunded to its
    /// creator) and its ASID.
    fn reap_partition(&mut self, partition: PartitionId) {
        let Some(target) = self.partitions.get(partition) else {
            return;
        };
        if !target.destroyed || !target.vps.is_empty() {
            return;
        }
        let Some(target) = self.partitions.remove(partition) else {
            return;
        };
        super::exit_stats::partition_gone(&target);
        let mut tables = KernelTables::charged(Charged::to(&mut self.caps, target.payer));
        for overlay in target.space.destroy(&mut tables) {
            tables.give_frame(x86_64::PhysAddr::new(overlay.frame));
        }
        tables::free_asid(target.asid);
        component_log!(
            self,
            target.payer,
            log::Level::Info,
            "partition {}: its VPs, tables and ASID are returned",
            target.name
        );
    }
}
