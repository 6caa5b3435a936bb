//! The Hv#1 interface of a partition: its configuration, the synthetic
//! MSRs and the hypercalls (`tessera_hv1` decides; this module applies:
//! overlay pages, flushes, register write-back, lifecycle reports).
use super::exits::Next;
use super::forward::{Pending, PendingKind};
use super::parameter_memory::{GuestXmm, ParameterMemory};
use super::synic_ipc;
use crate::sched::Keep;
use crate::state::Kernel;
use tessera_abi::Status;
use tessera_abi::vm::intercept;
use tessera_capability::{PartitionId, VpId};
use tessera_exit_protocol::{Exit, MemoryAccess};
use tessera_hv1::dispatch::{self, Action, Outcome};
use tessera_hv1::hypercall::{Caller, CpuMode, HypercallRegisters, ParamFailure};
use tessera_hv1::synthetic_msr::{self, Effect, MsrContext, MsrFault, MsrPolicy, PartitionMsrs};
use tessera_hv1::{DispatchPolicy, Hv1Config};

/// The GPA width partitions have (`tessera_abi::vm::GPA_LIMIT`).
pub const GPA_BITS: u8 = 40;

/// A partition's Hv#1 state.
#[derive(Debug)]
pub struct PartitionHv1 {
    pub config: Hv1Config,
    pub msrs: PartitionMsrs,
    pub msr_policy: MsrPolicy,
    pub dispatch_policy: DispatchPolicy,
    /// A VP wrote `IA32_TSC`: the reference TSC page says "use the MSR"
    /// until a reset (`time.rs`).
    pub tsc_diverged: bool,
}

impl PartitionHv1 {
    /// The state for `config`, or why the kernel refuses it.
    pub fn new(config: Hv1Config) -> Result<Self, u64> {
        let violations = config.validate_implemented();
        if !violations.is_empty() {
            log::info!("PartitionSetHv1 refused: {violations:?}");
            return Err(Status::InvalidArgument.code());
        }
        let reference = super::time::reference_counter();
        let mut dispatch_policy = DispatchPolicy::from_config(&config);
        dispatch_policy.physical_address_bits = GPA_BITS;
        Ok(Self {
            config,
            msrs: PartitionMsrs::new(reference),
            msr_policy: MsrPolicy::from_config(&config, GPA_BITS),
            dispatch_policy,
            tsc_diverged: false,
        })
    }
}

impl Kernel {
    /// `PartitionSetHv1`. The configuration is fixed once given — the
    /// lock-free exits read it (`fast.rs`) and must never disagree with
    /// the locked ones: a different one is refused. The same one again is
    /// nothing new before a VP has run; after, while every VP is stopped,
    /// it resets the Hv#1 state as a partition reset does (TLFS md
    /// `hypercall-interface.md`: only a reset clears the hypercall MSR's
    /// lock).
    pub fn set_hv1(
        &mut self,
        partition: PartitionId,
        words: &[u64; tessera_abi::vm::hv1::WORDS],
        cpu: usize,
    ) -> Result<(), u64> {
        let target = self
            .partitions
            .get(partition)
            .ok_or(Status::InvalidArgument.code())?;
        let requested = Hv1Config::from_words(words).to_words();
        let vps = target.vps.clone();
        let started = vps
            .iter()
            .any(|&vp| self.vps.get(vp).is_some_and(|v| v.ever_started));
        let running = vps.iter().any(|&vp| {
            self.vps
                .get(vp)
                .is_some_and(|v| v.state != super::VpState::Stopped)
        });
        match target.hv1.as_ref() {
            Some(state) if state.config.to_words() != requested => {
                return Err(Status::AlreadyConfigured.code());
            }
            // A VP ran without the interface: that is its configuration.
            None if started => return Err(Status::AlreadyConfigured.code()),
            Some(_) if !started => return Ok(()),
            Some(_) if running => return Err(Status::VpRunning.code()),
            Some(_) => return Ok(self.reset_hv1(partition, &vps, cpu)),
            None => {}
        }
        let state = PartitionHv1::new(Hv1Config::from_words(words))?;
        let target = self
            .partitions
            .get_mut(partition)
            .ok_or(Status::InvalidArgument.code())?;
        if state.config.privileges.access_synic_regs()
            && target.apic == super::lapic::ApicChoice::None
        {
            // The SynIC delivers through local APICs.
            return Err(Status::NoApic.code());
        }
        target.fast.set_hv1(state.config, state.dispatch_policy);
        log::info!("partition {}: Hv#1 interface on", target.name);
        target.hv1 = Some(state);
        if let Err(status) = self.create_synic(partition) {
            // Out of frames for the VPs' SynIC pages: no interface at all.
            self.drop_synic(partition);
            if let Some(target) = self.partitions.get_mut(partition) {
                target.hv1 = None;
            }
            return Err(status);
        }
        Ok(())
    }

    /// Back to the state of a freshly configured partition: no guest OS
    /// ID, no hypercall page, no VP assist pages, no reference TSC page,
    /// every local APIC as at power-on, NMIs unmasked.
    fn reset_hv1(&mut self, partition: PartitionId, vps: &super::PartitionVps, cpu: usize) {
        let Some(target) = self.partitions.get_mut(partition) else {
            return;
        };
        if let Some(state) = target.hv1.as_mut() {
            state.msrs.reset();
        }
        target.fast.set_hypercalls_enabled(false);
        let apic = target.apic;
        for &vp in vps {
            if let Some(record) = self.vps.get_mut(vp) {
                record.hv1_msrs.reset();
                record.reset_apic(apic);
                record.unmask_nmis();
            }
            self.refresh_apic_address(vp);
        }
        self.reset_time(partition, vps);
        self.reset_synic(partition);
        // Every overlay is Hv#1 state: remove the top one until none is
        // left (no list of them is needed, so nothing is allocated).
        while let Some(id) = self
            .partitions
            .get(partition)
            .and_then(|p| p.space.overlays().next().map(|overlay| overlay.id))
        {
            self.remove_overlay(partition, id, cpu);
        }
        if let Some(target) = self.partitions.get(partition) {
            log::info!("partition {}: Hv#1 state reset", target.name);
        }
    }

    /// A synthetic MSR access of VP `vp` (no route took it), whose RDMSR
    /// or WRMSR ends before `next_rip`. `None`: the MSR is not synthetic.
    pub fn synthetic_msr(
        &mut self,
        cpu: usize,
        vp: VpId,
        msr: u32,
        write: Option<u64>,
        next_rip: u64,
    ) -> Option<Next> {
        if !synthetic_msr::is_synthetic(msr) {
            return None;
        }
        let Some(record) = self.vps.get_mut(vp) else {
            return Some(Next::GONE);
        };
        let partition = record.partition;
        let Some(state) = self
            .partitions
            .get_mut(partition)
            .and_then(|p| p.hv1.as_mut())
        else {
            return Some(self.inject_gp(vp));
        };
        let runtime = record.runtime_100ns();
        let vp_msrs = &mut record.hv1_msrs;
        let result = match write {
            None => synthetic_msr::read(
                msr,
                &state.msrs,
                vp_msrs,
                &state.msr_policy,
                &MsrContext {
                    vp_runtime: runtime,
                    tsc: crate::arch::tsc::read(),
                },
            )
            .map(|value| {
                *record.vmcb.rax_mut() = value & 0xFFFF_FFFF;
                record.gprs.rdx = value >> 32;
                Effect::None
            }),
            Some(value) => {
                synthetic_msr::write(msr, value, &mut state.msrs, vp_msrs, &state.msr_policy)
            }
        };
        if let Some(target) = self.partitions.get(partition)
            && let Some(state) = target.hv1.as_ref()
        {
            target
                .fast
                .set_hypercalls_enabled(state.msrs.hypercalls_enabled());
            target
                .fast
                .time
                .set_invariant_tsc_exposed(state.msrs.tsc_invariant().exposed());
        }
        let effect = match result {
            Ok(effect) => effect,
            // The synthetic timers are the kernel's (`synic.rs`); the
            // SynIC registers reach here only without their route.
            Err(MsrFault::Forward) => {
                return Some(
                    self.stimer_msr(vp, msr, write, next_rip)
                        .unwrap_or_else(|| self.inject_gp(vp)),
                );
            }
            Err(MsrFault::GeneralProtection) => {
                return Some(self.inject_gp(vp));
            }
        };
        let Some(record) = self.vps.get_mut(vp) else {
            return Some(Next::GONE);
        };
        *record.vmcb.rip_mut() = next_rip;
        Some(self.apply_msr_effect(cpu, vp, effect))
    }

    fn inject_gp(&mut self, vp: VpId) -> Next {
        if let Some(record) = self.vps.get_mut(vp) {
            *record.vmcb.event_inj_mut() = super::exits::general_protection();
        }
        Next::Resume
    }

    /// A hypercall whose code a route takes: the handler gets the input
    /// value and parameters as they are, and validates the call itself.
    fn forward_hypercall(
        &mut self,
        cpu: usize,
        vp: VpId,
        route: super::Route,
        next_rip: u64,
    ) -> Next {
        let Some(record) = self.vps.get(vp) else {
            return Next::GONE;
        };
        let length = next_rip.wrapping_sub(record.vmcb.save.rip).min(15) as u8;
        let header = tessera_vcpu::exit_message::header(
            &record.vmcb,
            record.index,
            length,
            tlfs::intercept::HvInterceptAccessType::EXECUTE,
        );
        let exit = Exit::Hypercall {
            control: record.gprs.rcx,
            input: record.gprs.rdx,
            output: record.gprs.r8,
        };
        let pending = Pending::routed(&exit, PendingKind::Hypercall, Some(next_rip));
        Next::Leave(self.send_exit(cpu, vp, route, &exit, &header, pending))
    }

    /// A `VMMCALL`: #UD without the Hv#1 interface, else the hypercall.
    pub fn hypercall(&mut self, cpu: usize, vp: VpId) -> Next {
        let next_rip = match self.next_rip(cpu, vp) {
            Ok(next_rip) => next_rip,
            Err(next) => return next,
        };
        let Some(record) = self.vps.get_mut(vp) else {
            return Next::GONE;
        };
        let partition = record.partition;
        let Some(target) = self.partitions.get(partition) else {
            return Next::Resume;
        };
        let Some(state) = target.hv1.as_ref() else {
            *record.vmcb.event_inj_mut() = super::exits::invalid_opcode();
            return Next::Resume;
        };
        let save = &record.vmcb.save;
        let caller = Caller {
            cpl: save.cpl & 3,
            mode: CpuMode::from_state(
                save.cr0 & 1 != 0,
                save.rflags & (1 << 17) != 0,
                save.efer & (1 << 10) != 0,
                save.cs.attrib.l(),
            ),
        };
        let code = record.gprs.rcx as u16;
        let long_mode = caller.mode == CpuMode::Long64 && caller.cpl == 0;
        if long_mode
            && state.msrs.hypercalls_enabled()
            && let Some(route) = target.route(intercept::HYPERCALL, u64::from(code)).copied()
        {
            return self.forward_hypercall(cpu, vp, route, next_rip);
        }
        let mut registers = HypercallRegisters {
            rax: save.rax,
            rbx: record.gprs.rbx,
            rcx: record.gprs.rcx,
            rdx: record.gprs.rdx,
            rsi: record.gprs.rsi,
            rdi: record.gprs.rdi,
            r8: record.gprs.r8,
        };
        let mut memory = ParameterMemory {
            npt: target.space.npt(),
        };
        let outcome = dispatch::dispatch(
            caller,
            &registers,
            &GuestXmm,
            &mut memory,
            &state.dispatch_policy,
            state.msrs.hypercalls_enabled(),
        );
        // `HvCallPostMessage` and `HvCallSignalEvent` of a partition with
        // a SynIC: the input block read here, the call completed below,
        // once the borrows of the VP and the partition end (`synic_ipc`).
        let mut synic_call = None;
        let outcome = match outcome {
            Outcome::Forward(call)
                if target.synic.is_some() && synic_ipc::is_synic_call(call.code) =>
            {
                match synic_ipc::read_call(&call, &memory) {
                    Ok(input) => {
                        synic_call = Some((call, input));
                        Outcome::Forward(call)
                    }
                    Err(ParamFailure::Status(status)) => {
                        Outcome::Complete(dispatch::completed(&call, status))
                    }
                    Err(ParamFailure::MemoryIntercept { gpa, access }) => {
                        Outcome::MemoryIntercept { call, gpa, access }
                    }
                }
            }
            other => other,
        };
        let completion = match outcome {
            Outcome::Fault(_) => {
                *record.vmcb.event_inj_mut() = super::exits::invalid_opcode();
                return Next::Resume;
            }
            Outcome::Complete(completion) => completion,
            Outcome::Forward(call) => dispatch::unrouted(&call),
            Outcome::MemoryIntercept { gpa, .. } => {
                let rip = record.vmcb.save.rip;
                log::warn!(
                    "{}: hypercall parameters at unmapped GPA {gpa:#x}",
                    self.vp_name(vp)
                );
                let exit = Exit::Memory {
                    gpa,
                    access: MemoryAccess::Read,
                    rip,
                    unmapped: true,
                    size: 0,
                    value: 0,
                };
                return self.report_to_lifecycle(cpu, vp, exit);
            }
        };
        let mut doorbell = None;
        let completion = match synic_call {
            Some((call, input)) => {
                let (status, ring) = self.synic_call(partition, &input);
                doorbell = ring;
                dispatch::completed(&call, status)
            }
            None => completion,
        };
        let mut next = Next::Resume;
        match completion.action {
            Action::None => {}
            // A flush of every target VP's TLB: the whole partition is
            // flushed, which the TLFS allows (a flush may do more).
            Action::Flush(_) => self.flush_partition(partition, cpu),
            Action::ClusterIpi(ipi) => self.send_cluster_ipi(vp, &ipi),
            Action::LongSpinWait => {
                if !self.sched.nothing_ready(cpu) {
                    next = Next::Leave(Keep::Yield);
                }
            }
        }
        completion.apply(&mut registers);
        if let Some(output) = &completion.fast_output
            && output.xmm.iter().any(Option::is_some)
        {
            super::guest_state::write_xmm(&output.xmm);
        }
        let Some(record) = self.vps.get_mut(vp) else {
            return Next::GONE;
        };
        *record.vmcb.rax_mut() = registers.rax;
        record.gprs.rbx = registers.rbx;
        record.gprs.rcx = registers.rcx;
        record.gprs.rdx = registers.rdx;
        record.gprs.rsi = registers.rsi;
        record.gprs.rdi = registers.rdi;
        record.gprs.r8 = registers.r8;
        if completion.writeback.advance_rip {
            *record.vmcb.rip_mut() = next_rip;
        }
        // A component-owned port's owner is told once the call is complete.
        if let Some(ring) = doorbell {
            return Next::Leave(self.ring_doorbell(cpu, vp, ring));
        }
        next
    }
}

/// The hypervisor CPUID leaves of a partition (zero without Hv#1).
#[inline]
pub fn cpuid_leaf(config: Option<&Hv1Config>, leaf: u32) -> Option<[u32; 4]> {
    if !tessera_hv1::cpuid::is_hypervisor_leaf(leaf) {
        return None;
    }
    Some(match config {
        Some(config) => tessera_hv1::cpuid(config, leaf, 0)
            .map_or([0; 4], |regs| [regs.eax, regs.ebx, regs.ecx, regs.edx]),
        None => [0; 4],
    })
}
