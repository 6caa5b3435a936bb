//! A partition world for the tests: the kernel-held [`Synic`], the
//! component, guest memory, and the guest's side of every exit, wired the
//! way the kernel will wire them.

#![allow(dead_code)]

pub mod ports;

use tessera_hv1::Hv1Config;
use tessera_hv1::hypercall::{
    Caller, GpaError, GuestMemory, HypercallPolicy, HypercallRegisters, HypercallSet,
};
use tessera_synic::component::{HypercallStep, SynicComponent};
use tessera_synic::registers::RegisterPolicy;
use tessera_synic::state::Applied;
use tessera_synic::timer::StimerPolicy;
use tessera_synic::{
    Deliveries, Delivery, MemoryPages, PartitionPolicy, PartitionRef, Sint, StimerMsr, Synic,
};
use tlfs::hypercall::params::{HvInputPostMessage, HvInputSignalEvent};
use tlfs::message::HvMessage;
use tlfs::msr as m;
use tlfs::privilege::HvPartitionPrivilegeMask;
use tlfs::synic::HvConnectionId;
use tlfs::{HvMessageType, HvStatus, HypercallCode, HypercallInputValue};
use zerocopy::IntoBytes;

/// Guest memory size (bytes).
pub const MEMORY: u64 = 1 << 20;
/// Where the tests put hypercall input blocks.
pub const INPUT_GPA: u64 = 0x8_0000;
/// A GPA inside the space that is not mapped (for memory intercepts).
pub const UNMAPPED_GPA: u64 = 0xF_0000;

/// Flat guest memory with one unmapped page.
pub struct FlatMemory(pub Vec<u8>);

impl FlatMemory {
    pub fn new() -> Self {
        Self(vec![0; MEMORY as usize])
    }
}

impl GuestMemory for FlatMemory {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GpaError> {
        let end = gpa
            .checked_add(buf.len() as u64)
            .ok_or(GpaError::OutOfBounds)?;
        if end > MEMORY {
            return Err(GpaError::OutOfBounds);
        }
        if gpa & !0xFFF == UNMAPPED_GPA {
            return Err(GpaError::Inaccessible);
        }
        buf.copy_from_slice(&self.0[gpa as usize..end as usize]);
        Ok(())
    }

    fn write(&mut self, gpa: u64, data: &[u8]) -> Result<(), GpaError> {
        let end = gpa
            .checked_add(data.len() as u64)
            .ok_or(GpaError::OutOfBounds)?;
        if end > MEMORY {
            return Err(GpaError::OutOfBounds);
        }
        self.0[gpa as usize..end as usize].copy_from_slice(data);
        Ok(())
    }
}

/// `hv-synic`, `hv-stimer`, `hv-stimer-direct` and `hv-time`, as the
/// manifest would enable them once they are wired.
pub fn config() -> Hv1Config {
    let mut config = Hv1Config::default();
    config.privileges = config
        .privileges
        .with_access_synic_regs(true)
        .with_access_synthetic_timer_regs(true)
        .with_access_partition_reference_counter(true)
        .with_post_messages(true)
        .with_signal_events(true);
    config.features_edx = config.features_edx.with_direct_synthetic_timers(true);
    config
}

pub fn policy() -> PartitionPolicy {
    let config = config();
    PartitionPolicy {
        registers: RegisterPolicy::from_config(&config, MEMORY),
        timers: StimerPolicy::from_config(&config),
    }
}

/// Everything advertised; the given privileges.
pub fn hypercall_policy(privileges: HvPartitionPrivilegeMask) -> HypercallPolicy {
    HypercallPolicy {
        advertised: HypercallSet::all(),
        privileges,
        xmm_fast_input: false,
        xmm_fast_output: false,
    }
}

pub fn s(n: u32) -> Sint {
    Sint::new(n).unwrap()
}

/// A message with `payload`.
pub fn payload_message(kind: u32, payload: &[u8]) -> (HvMessageType, Vec<u8>) {
    (HvMessageType(kind), payload.to_vec())
}

/// One partition of `vps` VPs, the component started on it, guest memory,
/// and reference time.
pub struct World {
    pub synic: Synic<MemoryPages>,
    pub component: SynicComponent,
    pub memory: FlatMemory,
    pub partition: PartitionRef,
    pub now: u64,
    pub hypercalls: HypercallPolicy,
    /// Every interrupt raised, in order.
    pub interrupts: Vec<Delivery>,
}

impl World {
    pub fn new(vps: usize) -> Self {
        let mut synic = Synic::new();
        let partition =
            synic.add_partition(policy(), (0..vps).map(|_| MemoryPages::new()).collect());
        let component = SynicComponent::start(&synic);
        Self {
            synic,
            component,
            memory: FlatMemory::new(),
            partition,
            now: 1_000,
            hypercalls: HypercallPolicy::from_config(&config()),
            interrupts: Vec::new(),
        }
    }

    fn record(&mut self, deliveries: &Deliveries) {
        self.interrupts.extend(deliveries.iter().copied());
    }

    /// WRMSR by `vp`: SynIC registers through the component, timers in the
    /// kernel. `Err(())` is #GP.
    pub fn wrmsr(&mut self, vp: u32, msr: u32, value: u64) -> Result<Applied, ()> {
        if let Some(timer) = StimerMsr::from_msr(msr) {
            let deliveries = self
                .synic
                .write_timer(self.partition, vp, timer, value, self.now)
                .map_err(|_| ())?;
            self.record(&deliveries);
            return Ok(Applied {
                overlay: None,
                deliveries,
            });
        }
        let call = self
            .component
            .write_msr(self.partition, vp, msr, value)
            .map_err(|_| ())?;
        let answer = self.synic.apply(&call, self.now);
        self.component.completed(&call, &answer);
        let applied = answer.map_err(|_| ())?;
        self.record(&applied.deliveries);
        Ok(applied)
    }

    /// RDMSR by `vp`. `Err(())` is #GP.
    pub fn rdmsr(&self, vp: u32, msr: u32) -> Result<u64, ()> {
        if let Some(timer) = StimerMsr::from_msr(msr) {
            return self
                .synic
                .read_timer(self.partition, vp, timer)
                .map_err(|_| ());
        }
        self.component
            .read_msr(self.partition, vp, msr)
            .map_err(|_| ())
    }

    /// Enables `vp`'s SynIC: SIMP and SIEFP at distinct pages, SCONTROL.
    pub fn enable(&mut self, vp: u32) {
        let page = 0x10 + u64::from(vp) * 2;
        self.wrmsr(vp, m::HV_X64_MSR_SIMP, page << 12 | 1).unwrap();
        self.wrmsr(vp, m::HV_X64_MSR_SIEFP, (page + 1) << 12 | 1)
            .unwrap();
        self.wrmsr(vp, m::HV_X64_MSR_SCONTROL, 1).unwrap();
    }

    /// Unmasks `sint` of `vp` with `vector`.
    pub fn unmask(&mut self, vp: u32, sint: u32, vector: u8) {
        self.wrmsr(vp, m::HV_X64_MSR_SINT0 + sint, u64::from(vector))
            .unwrap();
    }

    /// A hypercall by `vp` (64-bit, CPL 0) with input value `control`,
    /// `rdx` and `r8`: the status the guest sees, or `Err` for a fault or a
    /// memory intercept.
    pub fn hypercall(&mut self, control: u64, rdx: u64, r8: u64) -> Result<HvStatus, String> {
        let regs = HypercallRegisters {
            rcx: control,
            rdx,
            r8,
            ..Default::default()
        };
        let step = self.component.hypercall(
            self.partition,
            Caller::KERNEL64,
            &regs,
            &[0_u128; 6],
            &self.memory,
            &self.hypercalls,
        );
        match step {
            HypercallStep::Fault(fault) => Err(format!("{fault:?}")),
            HypercallStep::MemoryIntercept { gpa, .. } => Err(format!("intercept {gpa:#x}")),
            HypercallStep::Complete(writeback) => Ok(writeback.result.unwrap().result()),
            HypercallStep::Call { call, hypercall } => {
                let answer = self.synic.apply(&call, self.now);
                if let Ok(applied) = &answer {
                    self.record(&applied.deliveries);
                }
                let writeback = SynicComponent::hypercall_reply(&hypercall, &answer);
                Ok(writeback.result.unwrap().result())
            }
        }
    }

    /// `HvCallPostMessage` from memory with this input block.
    pub fn post_raw(&mut self, input: &HvInputPostMessage) -> Result<HvStatus, String> {
        self.memory.write(INPUT_GPA, input.as_bytes()).unwrap();
        let control = HypercallInputValue::new().with_call_code(HypercallCode::POST_MESSAGE);
        self.hypercall(control.into_bits(), INPUT_GPA, 0)
    }

    /// `HvCallPostMessage` on `connection`.
    pub fn post(&mut self, connection: u32, kind: u32, payload: &[u8]) -> HvStatus {
        self.post_raw(&post_input(connection, kind, payload))
            .unwrap()
    }

    /// `HvCallSignalEvent` as a fast call: the kernel's fast path first,
    /// the component otherwise (as the kernel will route it).
    pub fn signal(&mut self, connection: u32, flag: u16) -> HvStatus {
        if let Some(result) = self
            .synic
            .signal_event_fast(self.partition, connection, flag)
        {
            return match result {
                Ok(deliveries) => {
                    self.record(&deliveries);
                    HvStatus::SUCCESS
                }
                Err(status) => status,
            };
        }
        let input = HvInputSignalEvent {
            connection_id: HvConnectionId::from_bits(connection),
            flag_number: flag,
            rsvd_z: 0,
        };
        let control = HypercallInputValue::new()
            .with_call_code(HypercallCode::SIGNAL_EVENT)
            .with_fast(true);
        let rdx = u64::from_le_bytes(input.as_bytes().try_into().unwrap());
        self.hypercall(control.into_bits(), rdx, 0).unwrap()
    }

    /// A 32-bit write to the `hyperv-testdev` port; `false` if ignored.
    pub fn testdev(&mut self, value: u32) -> bool {
        let Ok(plan) = self.component.testdev(&self.synic, self.partition, value) else {
            return false;
        };
        let mut all_ok = true;
        for call in &plan {
            match self.synic.apply(call, self.now) {
                Ok(applied) => self.record(&applied.deliveries),
                Err(_) => all_ok = false,
            }
        }
        all_ok
    }

    /// The guest takes the message in `vp`'s `sint` slot (copy, clear the
    /// type), and writes EOM if it was flagged MessagePending, as TLFS
    /// recommends.
    pub fn take(&mut self, vp: u32, sint: u32) -> Option<HvMessage> {
        let message = self
            .synic
            .pages_mut(self.partition, vp)?
            .take_message(s(sint))?;
        if message.header.message_flags.message_pending() {
            self.wrmsr(vp, m::HV_X64_MSR_EOM, 0).unwrap();
        }
        Some(message)
    }

    /// Reference time moves on by `ticks`; every VP's timers run.
    pub fn advance(&mut self, ticks: u64) {
        self.now += ticks;
        for vp in 0..self.synic.vp_count(self.partition) {
            let deliveries = self.synic.poll_timers(self.partition, vp, self.now);
            self.record(&deliveries);
        }
    }

    /// Interrupts raised since the last call.
    pub fn drain_interrupts(&mut self) -> Vec<(u32, u8)> {
        self.interrupts
            .drain(..)
            .map(|d| (d.vp, d.interrupt.vector))
            .collect()
    }
}

/// An `HvCallPostMessage` input block.
pub fn post_input(connection: u32, kind: u32, payload: &[u8]) -> HvInputPostMessage {
    let mut message = [0; 240];
    message[..payload.len()].copy_from_slice(payload);
    HvInputPostMessage {
        connection_id: HvConnectionId::from_bits(connection),
        rsvd_z: 0,
        message_type: HvMessageType(kind),
        payload_size: payload.len() as u32,
        message,
    }
}
