//! Creating partitions and VPs: the VMCB a VP starts from and the
//! records a partition and its VPs are kept in.
use super::tables::{self, KernelTables};
use super::{Partition, PartitionVps, Vp, VpState};
use crate::arch::user_context::UserContext;
use crate::ipc_glue::cap_status;
use crate::memory::charged::Charged;
use crate::memory::frame_box::FrameBox;
use crate::memory::heap::try_box;
use crate::state::{Kernel, Name, Thread};
use alloc::vec::Vec;
use core::fmt;
use tessera_abi::Status;
use tessera_capability::{CSpaceId, CapError, DomainId, PartitionId, VpId};
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
            apic_addresses: [super::lapic_ipi::ABSENT; tessera_abi::vm::MAX_VPS as usize],
            lowest_priority_next: 0,
            log_budget: Default::default(),
            exit_stats: Default::default(),
            synic: None,
            port_doorbells: Default::default(),
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
        let routes_post = target.fast.posted.any();
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
        let thread = match self.add_ipc_thread(domain, priority) {
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
            pic_level: false,
            nmi_mask: super::nmi_mask::NmiMask::UNMASKED,
            seen_tlb_generation: 0,
            hv1_msrs: tessera_hv1::VpMsrs::new(index),
            ever_started: false,
            run_ticks: 0,
            exception_intercepts: exceptions,
            routes_post,
            message_buffer,
            reply: tessera_vcpu::reply::Reply::default(),
            reply_captured: false,
            exit_message: tessera_exit_protocol::EncodedExit::default(),
            tsc_aux: 0,
            skip_failed_at: None,
            fetch_cache: Default::default(),
            exit_counts: Default::default(),
            fixed_cpuid: super::guest_cpu::fixed_cpuid_of(index),
            apic,
            lazy_eoi: Default::default(),
            in_synic: false,
            exit_rip: None,
            startup: tessera_lapic::StartupState::new(index == 0),
            posted: Default::default(),
            published_priority: Default::default(),
            synic_published: Default::default(),
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
        self.refresh_apic_address(vp);
        // Without frames for its SynIC pages the VP cannot have a SynIC:
        // it runs without one (its registers answer InvalidArgument to the
        // component, which makes them #GP), never with a dangling page.
        if let Err(status) = self.synic_add_vp(vp) {
            log::warn!("VP {index}: no frames for its SynIC pages ({status:#x})");
        }
        let _ = self.threads.insert(
            thread,
            Thread {
                domain,
                cspace: payer,
                cpu,
                // A VP's thread never moves: its VMCB is its CPU's.
                movable_to: 0,
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
}
