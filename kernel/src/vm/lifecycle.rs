//! Creating partitions and VPs, starting and stopping VPs, asserting
//! interrupts, and what deleting their capabilities does.
use super::tables::{self, KernelTables};
use super::{Partition, PartitionVps, Vp, VpState, guest_state};
use crate::arch::user_context::UserContext;
use crate::ipc_glue::cap_status;
use crate::memory::frames;
use crate::memory::heap::try_box;
use crate::state::{Kernel, Name, Thread};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use tessera_abi::Status;
use tessera_capability::{CapError, DomainId, PartitionId, VpId};
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
fn reset_vmcb(partition: &Partition, maps: tables::PermissionMaps) -> Option<Box<Vmcb>> {
    let mut vmcb = try_box(Vmcb::default()).ok()?;
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
    Some(vmcb)
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
    /// A new partition named `name`.
    pub fn create_partition(&mut self, name: &str) -> Result<PartitionId, u64> {
        let out_of_memory = cap_status(CapError::OutOfMemory);
        self.partitions.reserve(1).map_err(|_| out_of_memory)?;
        let fast = try_box(super::fast::FastPartition::default()).map_err(|_| out_of_memory)?;
        let asid = tables::allocate_asid().ok_or(out_of_memory)?;
        let config = NptConfig {
            max_gpa_bits: 40,
            max_hpa_bits: NptConfig::MAX_HPA_BITS,
        };
        let space = match GpaSpace::new(&mut KernelTables::default(), config) {
            Ok(space) => space,
            Err(_) => {
                tables::free_asid(asid);
                return Err(out_of_memory);
            }
        };
        let partition = Partition {
            name: crate::state::name(name),
            space,
            asid,
            routes: Vec::new(),
            vps: PartitionVps::new(),
            fast,
            exception_intercepts: 0,
            destroyed: false,
            hv1: None,
        };
        match self.partitions.insert(partition) {
            Ok(id) => {
                log::info!("partition {name}: created (ASID {asid})");
                Ok(id)
            }
            Err(partition) => {
                partition.space.destroy(&mut KernelTables::default());
                tables::free_asid(asid);
                Err(out_of_memory)
            }
        }
    }

    /// VP number `index` of `partition`, run by a new thread of `domain`
    /// on `cpu` at `priority`.
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
        let cspace = self
            .domains
            .get(domain)
            .ok_or(Status::InvalidArgument.code())?
            .cspace;
        let vmcb = reset_vmcb(target, tables::permission_maps()).ok_or(out_of_memory)?;
        let exceptions = target.exception_intercepts;
        let context = try_box(UserContext::default()).map_err(|_| out_of_memory)?;
        self.vps.reserve(1).map_err(|_| out_of_memory)?;
        let message_buffer = frames::allocate_zeroed().ok_or(out_of_memory)?;
        let thread = match self.add_ipc_thread(domain, priority, cpu) {
            Ok(thread) => thread,
            Err(status) => {
                frames::free(message_buffer);
                return Err(status);
            }
        };
        let record = Vp {
            partition,
            index,
            thread,
            cpu,
            vmcb: TrackedVmcb::new(vmcb, crate::svm::features().vmcb_clean_bits),
            gprs: Default::default(),
            guest_state: Default::default(),
            state: VpState::Stopped,
            stop_requested: false,
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
        };
        let undo = |kernel: &mut Self| {
            let _ = kernel.ipc.remove_thread(thread, &mut |_| {});
            frames::free(message_buffer);
            out_of_memory
        };
        let Ok(record) = try_box(record) else {
            return Err(undo(self));
        };
        // Room was reserved above.
        let Ok(vp) = self.vps.insert(record) else {
            return Err(undo(self));
        };
        let thread_record = Thread {
            domain,
            cspace,
            cpu,
            context,
            message_buffer,
            started: true,
            dead: false,
            vp: Some(vp),
        };
        let listed = match self.partitions.get_mut(partition) {
            Some(target) => target.vps.push(vp).is_ok(),
            None => false,
        };
        if !listed || self.threads.insert(thread, thread_record).is_err() {
            if let Some(target) = self.partitions.get_mut(partition) {
                target.vps.retain(|&v| v != vp);
            }
            self.vps.remove(vp);
            return Err(undo(self));
        }
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
        let (thread, cpu, partition) = (record.thread, record.cpu, record.partition);
        self.sched.forget_queued(thread);
        log::info!("{}: stopped", self.vp_name(vp));
        let this_cpu = crate::percpu::current_index() as usize;
        if this_cpu == cpu {
            crate::vm::host_msrs::check(cpu);
        }
        self.reap_partition(partition, this_cpu);
    }

    /// `VpStart`: the VP runs when its state is one VMRUN accepts and its
    /// partition has a lifecycle route.
    pub fn start_vp(&mut self, vp: VpId) -> Result<(), u64> {
        let record = self.vps.get(vp).ok_or(Status::InvalidArgument.code())?;
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

    /// `VpStop`: at once if the VP is not on a CPU, else at its next exit
    /// (it is sent an interrupt to make that soon).
    pub fn request_stop(&mut self, vp: VpId) {
        let Some(record) = self.vps.get_mut(vp) else {
            return;
        };
        match record.state {
            VpState::Stopped => {}
            VpState::Parked => self.stop_vp(vp),
            VpState::Runnable | VpState::AwaitingReply(_) => {
                record.stop_requested = true;
                let cpu = record.cpu;
                self.sched.kick(cpu);
            }
        }
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

    /// The last capability to a VP went: it stops and never runs again.
    pub fn destroy_vp(&mut self, vp: VpId) {
        self.request_stop(vp);
        if let Some(record) = self.vps.get(vp) {
            let (thread, cpu, partition) = (record.thread, record.cpu, record.partition);
            if let Some(t) = self.threads.get_mut(&thread) {
                t.dead = true;
            }
            self.sched.forget_queued(thread);
            guest_state::forget(cpu, vp);
            self.reap_partition(partition, crate::percpu::current_index() as usize);
        }
    }

    /// The last capability to a partition went: its VPs stop and its
    /// memory mappings go (the regions' frames belong to the regions).
    pub fn destroy_partition(&mut self, partition: PartitionId, cpu: usize) {
        let Some(target) = self.partitions.get_mut(partition) else {
            return;
        };
        target.destroyed = true;
        let vps = target.vps.clone();
        for vp in vps {
            self.request_stop(vp);
        }
        self.unmap_gpa_where(partition, cpu, |_| true);
        if let Some(target) = self.partitions.get(partition) {
            log::info!("partition {}: destroyed", target.name);
        }
        self.reap_partition(partition, cpu);
    }

    /// A destroyed partition whose VPs have all left their CPUs gives back
    /// what it holds: its VPs (VMCBs, message buffers, threads), its
    /// overlay pages, its nested page tables and its ASID. Until then
    /// (a VP still in its guest, or waiting for a handler) the last VP to
    /// stop calls this again.
    pub fn reap_partition(&mut self, partition: PartitionId, this_cpu: usize) {
        let Some(target) = self.partitions.get(partition) else {
            return;
        };
        if !target.destroyed {
            return;
        }
        for &vp in &target.vps {
            let Some(record) = self.vps.get(vp) else {
                continue;
            };
            let dead = self.threads.get(&record.thread).is_none_or(|t| t.dead);
            let idle = record.state == VpState::Stopped
                || dead && !matches!(record.state, VpState::AwaitingReply(_));
            let elsewhere = (0..self.sched.cpus())
                .any(|cpu| cpu != this_cpu && self.sched.running(cpu) == Some(record.thread));
            if !idle || elsewhere {
                return;
            }
        }
        let Some(target) = self.partitions.remove(partition) else {
            return;
        };
        for &vp in &target.vps {
            let Some(record) = self.vps.remove(vp) else {
                continue;
            };
            guest_state::forget(record.cpu, vp);
            self.sched.forget(record.thread);
            let _ = self.ipc.remove_thread(record.thread, &mut |_| {});
            self.threads.remove(&record.thread);
            frames::free(record.message_buffer);
        }
        for overlay in target.space.destroy(&mut KernelTables::default()) {
            frames::free(x86_64::PhysAddr::new(overlay.frame));
        }
        tables::free_asid(target.asid);
        log::info!(
            "partition {}: its VPs, tables and ASID are returned",
            target.name
        );
    }
}
