//! Creating partitions and VPs, starting and stopping VPs, asserting
//! interrupts, and what deleting their capabilities does.
use super::tables::{self, KernelTables};
use super::{Partition, Vp, VpState, guest_state};
use crate::arch::user_context::UserContext;
use crate::ipc_glue::{cap_status, ipc_status};
use crate::memory::frames;
use crate::state::{Kernel, Thread};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use tessera_abi::Status;
use tessera_capability::CapError;
use tessera_gpa_space::GpaSpace;
use tessera_ipc::Priority;
use tessera_npt::NptConfig;
use tessera_svm::segment::{SegmentAttributes, VmcbSegment};
use tessera_svm::{ExceptionVector, Intercept, Vmcb};

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
fn reset_vmcb(partition: &Partition, maps: tables::PermissionMaps) -> Box<Vmcb> {
    let mut vmcb = Box::new(Vmcb::default());
    let control = &mut vmcb.control;
    for intercept in tessera_vcpu::intercepts::ALWAYS {
        control.intercepts.set(intercept, true);
    }
    set_exception_intercepts(&mut vmcb, partition.exception_intercepts);
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
pub fn set_exception_intercepts(vmcb: &mut Vmcb, vectors: u32) {
    let vectors = vectors | tessera_vcpu::intercepts::EXCEPTIONS;
    for vector in 0..32u8 {
        if let Some(vector_id) = ExceptionVector::new(vector) {
            vmcb.control.intercepts.set(
                Intercept::Exception(vector_id),
                vectors & (1 << vector) != 0,
            );
        }
    }
}

impl Kernel {
    /// A new partition named `name`; its index.
    pub fn create_partition(&mut self, name: String) -> Result<usize, u64> {
        let asid = tables::allocate_asid().ok_or(cap_status(CapError::OutOfMemory))?;
        let config = NptConfig {
            max_gpa_bits: 40,
            max_hpa_bits: NptConfig::MAX_HPA_BITS,
        };
        let space = match GpaSpace::new(&mut KernelTables::default(), config) {
            Ok(space) => space,
            Err(_) => {
                tables::free_asid(asid);
                return Err(cap_status(CapError::OutOfMemory));
            }
        };
        log::info!("partition {name}: created (ASID {asid})");
        self.partitions.push(Some(Partition {
            name,
            space,
            asid,
            routes: Vec::new(),
            vps: Vec::new(),
            fast: Default::default(),
            exception_intercepts: 0,
            destroyed: false,
            hv1: None,
        }));
        Ok(self.partitions.len() - 1)
    }

    /// VP number `index` of `partition`, run by a new thread of `domain`
    /// on `cpu` at `priority`; its index in `vps`.
    pub fn create_vp(
        &mut self,
        partition: usize,
        domain: usize,
        index: u32,
        cpu: usize,
        priority: Priority,
    ) -> Result<usize, u64> {
        let target = self.partitions[partition]
            .as_ref()
            .ok_or(Status::InvalidArgument.code())?;
        if u64::from(index) >= tessera_abi::vm::MAX_VPS
            || cpu >= self.sched.cpus()
            || target
                .vps
                .iter()
                .any(|&vp| self.vps[vp].as_ref().is_some_and(|v| v.index == index))
        {
            return Err(Status::InvalidArgument.code());
        }
        let vmcb = reset_vmcb(target, tables::permission_maps());
        let (fast, exceptions) = (target.fast.clone(), target.exception_intercepts);
        let message_buffer = frames::allocate_zeroed().ok_or(cap_status(CapError::OutOfMemory))?;
        let thread = match self.ipc.add_thread(self.domains[domain].id, priority) {
            Ok(thread) => thread,
            Err(error) => {
                frames::free(message_buffer);
                return Err(ipc_status(error));
            }
        };
        let vp = self.vps.len();
        self.threads.insert(
            thread,
            Thread {
                domain,
                cpu,
                context: Box::new(UserContext::default()),
                message_buffer,
                started: true,
                dead: false,
                vp: Some(vp),
            },
        );
        self.vps.push(Some(Box::new(Vp {
            partition,
            index,
            thread,
            cpu,
            vmcb,
            gprs: Default::default(),
            guest_state: Default::default(),
            state: VpState::Stopped,
            stop_requested: false,
            pending_interrupt: None,
            pending_nmi: false,
            seen_tlb_generation: 0,
            fast: fast.clone(),
            hv1_msrs: tessera_hv1::VpMsrs::new(index),
            ever_started: false,
            run_ticks: 0,
            exception_intercepts: exceptions,
            message_buffer,
            tsc_aux: 0,
            skip_failed_at: None,
            fetch_cache: Default::default(),
        })));
        self.partitions[partition]
            .as_mut()
            .expect("checked")
            .vps
            .push(vp);
        Ok(vp)
    }

    /// "partition NAME VP n", for logs.
    pub fn vp_name(&self, vp: usize) -> String {
        let Some(record) = self.vps.get(vp).and_then(Option::as_ref) else {
            return format!("VP #{vp}");
        };
        let name = self.partitions[record.partition]
            .as_ref()
            .map_or("?", |p| p.name.as_str());
        format!("partition {name} VP {}", record.index)
    }

    /// Stops VP `vp` where it is (its thread leaves the run queues), and
    /// checks that the guest left the host's MSRs alone.
    pub fn stop_vp(&mut self, vp: usize) {
        let Some(record) = self.vps[vp].as_mut() else {
            return;
        };
        record.state = VpState::Stopped;
        record.stop_requested = false;
        let (thread, cpu) = (record.thread, record.cpu);
        self.sched.forget_queued(thread);
        log::info!("{}: stopped", self.vp_name(vp));
        let this_cpu = crate::percpu::current_index() as usize;
        if this_cpu == cpu {
            crate::vm::host_msrs::check(cpu);
        }
        let partition = self.vps[vp].as_ref().map(|v| v.partition);
        if let Some(partition) = partition {
            self.reap_partition(partition, this_cpu);
        }
    }

    /// `VpStart`: the VP runs when its state is one VMRUN accepts and its
    /// partition has a lifecycle route.
    pub fn start_vp(&mut self, vp: usize) -> Result<(), u64> {
        let record = self.vps[vp]
            .as_ref()
            .ok_or(Status::InvalidArgument.code())?;
        if record.state != VpState::Stopped {
            return Err(Status::VpRunning.code());
        }
        let partition = self.partitions[record.partition]
            .as_ref()
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
        let record = self.vps[vp].as_mut().expect("checked");
        record.state = VpState::Runnable;
        record.ever_started = true;
        log::info!("{}: started", self.vp_name(vp));
        self.wake(thread);
        Ok(())
    }

    /// `VpStop`: at once if the VP is not on a CPU, else at its next exit
    /// (it is sent an interrupt to make that soon).
    pub fn request_stop(&mut self, vp: usize) {
        let Some(record) = self.vps[vp].as_mut() else {
            return;
        };
        match record.state {
            VpState::Stopped => {}
            VpState::Parked => self.stop_vp(vp),
            VpState::Runnable | VpState::AwaitingReply(_) => {
                record.stop_requested = true;
                let cpu = record.cpu;
                self.kick(cpu);
            }
        }
    }

    /// Makes `cpu` leave its guest, if it runs one. A VP between two fast
    /// exits is briefly outside its guest but does not look at its kernel
    /// state before re-entering, so any other CPU gets the interrupt (a
    /// spurious one is harmless).
    pub fn kick(&self, cpu: usize) {
        if cpu != crate::percpu::current_index() as usize {
            crate::arch::apic::send_fixed(
                self.sched.apic_id(cpu),
                crate::arch::exceptions::VECTOR_WAKEUP,
            );
        }
    }

    /// `VpAssertInterrupt`.
    pub fn assert_interrupt(&mut self, vp: usize, event: u64) -> Result<(), u64> {
        use tessera_abi::vm::event as ev;
        if event & !(ev::VECTOR_MASK | (0b111 << ev::TYPE_SHIFT)) != 0 {
            return Err(Status::InvalidArgument.code());
        }
        let kind = (event >> ev::TYPE_SHIFT) & 0b111;
        let record = self.vps[vp]
            .as_mut()
            .ok_or(Status::InvalidArgument.code())?;
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
        let (state, thread, cpu) = (record.state, record.thread, record.cpu);
        if state == VpState::Parked {
            self.vps[vp].as_mut().expect("checked").state = VpState::Runnable;
            self.wake(thread);
        } else {
            self.kick(cpu);
        }
        Ok(())
    }

    /// Routes exceptions `vectors` too: every VP of the partition
    /// intercepts them from its next entry (a running VP's VMCB is its
    /// CPU's alone, so each VP applies the change itself, `sync_intercepts`).
    pub fn add_exception_intercepts(&mut self, partition: usize, vectors: u32) {
        let Some(target) = self.partitions[partition].as_mut() else {
            return;
        };
        target.exception_intercepts |= vectors;
        let vps = target.vps.clone();
        for vp in vps {
            if let Some(record) = self.vps[vp].as_ref() {
                self.kick(record.cpu);
            }
        }
    }

    /// The last capability to a VP went: it stops and never runs again.
    pub fn destroy_vp(&mut self, vp: usize) {
        self.request_stop(vp);
        if let Some(record) = self.vps[vp].as_ref() {
            let (thread, cpu) = (record.thread, record.cpu);
            if let Some(t) = self.threads.get_mut(&thread) {
                t.dead = true;
            }
            self.sched.forget_queued(thread);
            guest_state::forget(cpu, vp);
            let partition = record.partition;
            self.reap_partition(partition, crate::percpu::current_index() as usize);
        }
    }

    /// The last capability to a partition went: its VPs stop and its
    /// memory mappings go (the regions' frames belong to the regions).
    pub fn destroy_partition(&mut self, partition: usize, cpu: usize) {
        let Some(target) = self.partitions[partition].as_mut() else {
            return;
        };
        target.destroyed = true;
        let vps = target.vps.clone();
        for vp in vps {
            self.request_stop(vp);
        }
        self.unmap_gpa_where(partition, cpu, |_| true);
        log::info!(
            "partition {}: destroyed",
            self.partitions[partition]
                .as_ref()
                .map_or("?", |p| p.name.as_str())
        );
        self.reap_partition(partition, cpu);
    }

    /// A destroyed partition whose VPs have all left their CPUs gives back
    /// what it holds: its VPs (VMCBs, message buffers, threads), its
    /// overlay pages, its nested page tables and its ASID. Until then
    /// (a VP still in its guest, or waiting for a handler) the last VP to
    /// stop calls this again.
    pub fn reap_partition(&mut self, partition: usize, this_cpu: usize) {
        let Some(target) = self.partitions[partition].as_ref() else {
            return;
        };
        if !target.destroyed {
            return;
        }
        let vps = target.vps.clone();
        for &vp in &vps {
            let Some(record) = self.vps[vp].as_ref() else {
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
        for vp in vps {
            let Some(record) = self.vps[vp].take() else {
                continue;
            };
            guest_state::forget(record.cpu, vp);
            self.sched.forget(record.thread);
            let _ = self.ipc.remove_thread(record.thread, &mut |_| {});
            self.threads.remove(&record.thread);
            frames::free(record.message_buffer);
        }
        let Some(target) = self.partitions[partition].take() else {
            return;
        };
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
