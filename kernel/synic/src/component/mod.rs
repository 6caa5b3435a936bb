//! The `synic` component's side: what it decides for the exits routed to
//! it, and the state it keeps, rebuilt from the kernel when it (re)starts.
//!
//! The component handles the SynIC MSRs (`0x40000080`–`0x4000009F`), the
//! hypercalls `0x005C` and `0x005D` (the second only when the kernel's fast
//! path did not take it), and the `hyperv-testdev` port. For each it either
//! answers at once (a read, #GP, a status) or makes [`KernelCall`]s, the
//! last of which (or the reply after them) completes the exit.
//!
//! Its state is a copy of every VP's SynIC registers, which it reads MSRs
//! from and validates writes against. The kernel holds the registers too
//! (its fast paths read them), and the copy changes only after the kernel
//! took the write ([`SynicComponent::completed`]), so [`SynicComponent::start`]
//! rebuilds exactly the copy a running instance has. Everything else the
//! component needs — ports, connections, SINT routes — it reads from the
//! kernel when it needs it, and every multi-call operation is planned from
//! what the kernel holds at that moment, so a plan that a restart cut short
//! is completed, not repeated, when the exit is handled again.

mod calls;

pub use calls::{Answer, CallError, KernelCall};

use alloc::vec::Vec;

use tessera_hv1::hypercall::{
    Access, Caller, Fault, GuestMemory, Hypercall, HypercallPolicy, HypercallRegisters,
    ParamFailure, Reject, Writeback, XmmRegisters, decode,
};
use tlfs::synic::HvPortType;
use tlfs::{HvStatus, HypercallCode};

use crate::hypercall;
use crate::pages::SynicPages;
use crate::ports::{ConnectSpec, Owner, PartitionRef, PortKind, PortSpec};
use crate::registers::{GeneralProtection, RegisterPolicy, SynicMsr, SynicRegisters};
use crate::state::Synic;
use crate::testdev::{self, TestDevError, TestDevOp};

/// The calls one exit needs (a `hyperv-testdev` connection: a port and a
/// connection, or their removal).
pub type Plan = heapless::Vec<KernelCall, 4>;

/// What the component does about a forwarded hypercall.
// The decoded call travels by value, as in `tessera_hv1::dispatch`.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HypercallStep {
    /// Inject this exception.
    Fault(Fault),
    /// Reply with this write-back now.
    Complete(Writeback),
    /// The input block is in the GPA space but not readable: a memory
    /// intercept (the exit is handled again once it is).
    MemoryIntercept {
        /// The refused GPA.
        gpa: u64,
        /// The access.
        access: Access,
    },
    /// Make `call`; its status completes `hypercall`
    /// ([`SynicComponent::hypercall_reply`]).
    Call {
        /// The kernel call.
        call: KernelCall,
        /// The decoded hypercall.
        hypercall: Hypercall,
    },
}

/// The component's state: per partition, its register policy and every
/// VP's registers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynicComponent {
    partitions: Vec<(RegisterPolicy, Vec<SynicRegisters>)>,
}

impl SynicComponent {
    /// A component (re)starting: its copy of the registers, from the
    /// kernel.
    #[must_use]
    pub fn start<P: SynicPages>(synic: &Synic<P>) -> Self {
        let partitions = (0..)
            .map(PartitionRef)
            .map_while(|p| {
                let policy = synic.policy(p)?;
                let registers = (0..synic.vp_count(p))
                    .filter_map(|vp| synic.registers(p, vp).copied())
                    .collect();
                Some((policy.registers, registers))
            })
            .collect();
        Self { partitions }
    }

    /// The copy of a VP's registers.
    #[must_use]
    pub fn registers(&self, partition: PartitionRef, vp: u32) -> Option<&SynicRegisters> {
        self.partitions
            .get(partition.0 as usize)?
            .1
            .get(vp as usize)
    }

    /// RDMSR of a SynIC register.
    ///
    /// # Errors
    ///
    /// [`GeneralProtection`] for an MSR that is not a SynIC register or an
    /// unknown VP.
    pub fn read_msr(
        &self,
        partition: PartitionRef,
        vp: u32,
        msr: u32,
    ) -> Result<u64, GeneralProtection> {
        let msr = SynicMsr::from_msr(msr).ok_or(GeneralProtection)?;
        Ok(self
            .registers(partition, vp)
            .ok_or(GeneralProtection)?
            .read(msr))
    }

    /// WRMSR of a SynIC register: the call that stores it, or #GP.
    ///
    /// # Errors
    ///
    /// [`GeneralProtection`] for a value the register refuses, an MSR that
    /// is not a SynIC register, or an unknown VP.
    pub fn write_msr(
        &self,
        partition: PartitionRef,
        vp: u32,
        msr: u32,
        value: u64,
    ) -> Result<KernelCall, GeneralProtection> {
        let msr = SynicMsr::from_msr(msr).ok_or(GeneralProtection)?;
        let (policy, vps) = self
            .partitions
            .get(partition.0 as usize)
            .ok_or(GeneralProtection)?;
        let mut copy = *vps.get(vp as usize).ok_or(GeneralProtection)?;
        copy.write(vp, msr, value, policy)?;
        Ok(KernelCall::WriteSynic {
            partition,
            vp,
            msr,
            value,
        })
    }

    /// The kernel carried out `call` with `answer`: the copy follows.
    pub fn completed(&mut self, call: &KernelCall, answer: &Answer) {
        if let (
            KernelCall::WriteSynic {
                partition,
                vp,
                msr,
                value,
            },
            Ok(_),
        ) = (call, answer)
            && let Some((policy, vps)) = self.partitions.get_mut(partition.0 as usize)
            && let Some(registers) = vps.get_mut(*vp as usize)
        {
            let _ = registers.write(*vp, *msr, *value, policy);
        }
    }

    /// A forwarded `HvCallPostMessage` or `HvCallSignalEvent` of
    /// `partition`: decoded with `tessera_hv1::decode` against the
    /// partition's `policy`, its input read from `memory` and checked.
    pub fn hypercall(
        &self,
        partition: PartitionRef,
        caller: Caller,
        regs: &HypercallRegisters,
        xmm: &(impl XmmRegisters + ?Sized),
        memory: &(impl GuestMemory + ?Sized),
        policy: &HypercallPolicy,
    ) -> HypercallStep {
        let call = match decode(caller, regs, xmm, policy) {
            Ok(call) => call,
            Err(Reject::Fault(fault)) => return HypercallStep::Fault(fault),
            Err(Reject::Status(status)) => {
                return HypercallStep::Complete(Writeback::status(status));
            }
        };
        let input = match call.code {
            HypercallCode::POST_MESSAGE => {
                hypercall::post_message(&call, memory).map(|input| KernelCall::PostMessage {
                    sender: partition,
                    connection: input.connection,
                    message_type: input.message_type,
                    payload: input.payload,
                    payload_size: input.payload_size,
                })
            }
            HypercallCode::SIGNAL_EVENT => {
                hypercall::signal_event(&call, memory).map(|input| KernelCall::SignalEvent {
                    sender: partition,
                    connection: input.connection,
                    flag: input.flag,
                })
            }
            // A route that sends the component a call it does not serve.
            _ => Err(ParamFailure::Status(HvStatus::INVALID_HYPERCALL_CODE)),
        };
        match input {
            Ok(kernel_call) => HypercallStep::Call {
                call: kernel_call,
                hypercall: call,
            },
            Err(ParamFailure::Status(status)) => HypercallStep::Complete(call.complete(status, 0)),
            Err(ParamFailure::MemoryIntercept { gpa, access }) => {
                HypercallStep::MemoryIntercept { gpa, access }
            }
        }
    }

    /// The reply to `hypercall` once the kernel answered its call.
    #[must_use]
    pub fn hypercall_reply(hypercall: &Hypercall, answer: &Answer) -> Writeback {
        let status = match answer {
            Ok(_) => HvStatus::SUCCESS,
            Err(error) => error.status(),
        };
        hypercall.complete(status, 0)
    }

    /// A 32-bit write to the `hyperv-testdev` port of `partition`: the
    /// calls still needed, given what the kernel holds now.
    ///
    /// # Errors
    ///
    /// [`TestDevError`] for a write that asks for nothing.
    pub fn testdev<P: SynicPages>(
        &self,
        synic: &Synic<P>,
        partition: PartitionRef,
        value: u32,
    ) -> Result<Plan, TestDevError> {
        let mut plan = Plan::new();
        let route = |vp, sint, present| KernelCall::SetSintRoute {
            partition,
            vp,
            sint,
            present,
        };
        // One call: the capacity is never reached.
        let mut one = |call| {
            let _ = plan.push(call);
        };
        match testdev::decode(value)? {
            TestDevOp::SintRouteCreate { vp, sint } => one(route(vp, sint, true)),
            TestDevOp::SintRouteDestroy { vp, sint } => one(route(vp, sint, false)),
            TestDevOp::SintSet { vp, sint } => one(KernelCall::AssertSint {
                partition,
                vp,
                sint,
            }),
            TestDevOp::MessageConnectionCreate {
                vp,
                sint,
                connection,
            } => {
                let port = PortSpec {
                    id: testdev::message_port_id(connection),
                    kind: PortKind::Message,
                    vp,
                    sint,
                };
                create_connection(&mut plan, synic, partition, port, connection)
            }
            TestDevOp::EventConnectionCreate {
                vp,
                sint,
                connection,
            } => {
                let port = PortSpec {
                    id: testdev::event_port_id(connection),
                    kind: PortKind::Event {
                        base_flag: connection as u16,
                        flag_count: 1,
                    },
                    vp,
                    sint,
                };
                create_connection(&mut plan, synic, partition, port, connection)
            }
            TestDevOp::MessageConnectionDestroy { connection } => destroy_connection(
                &mut plan,
                synic,
                partition,
                (testdev::message_port_id(connection), HvPortType::MESSAGE),
                connection,
            ),
            TestDevOp::EventConnectionDestroy { connection } => destroy_connection(
                &mut plan,
                synic,
                partition,
                (testdev::event_port_id(connection), HvPortType::EVENT),
                connection,
            ),
        }
        Ok(plan)
    }
}

/// The test device's port `port` and connection `connection` to it, each
/// unless it exists.
fn create_connection<P: SynicPages>(
    plan: &mut Plan,
    synic: &Synic<P>,
    partition: PartitionRef,
    port: PortSpec,
    connection: u32,
) {
    // Two calls at most: a plan holds four.
    if !synic.ports(partition).any(|p| p.spec.id == port.id) {
        let _ = plan.push(KernelCall::CreatePort {
            partition,
            spec: port,
            owner: Owner::TestDevice,
        });
    }
    if !synic
        .connections(partition)
        .iter()
        .any(|c| c.id == connection)
    {
        let _ = plan.push(KernelCall::Connect {
            sender: partition,
            spec: ConnectSpec {
                id: connection,
                port: port.id,
                port_type: port.kind.port_type(),
            },
            port_partition: partition,
            owner: Owner::TestDevice,
        });
    }
}

/// Removes the test device's connection `connection` and its port, each
/// if it (still) exists and is the device's.
fn destroy_connection<P: SynicPages>(
    plan: &mut Plan,
    synic: &Synic<P>,
    partition: PartitionRef,
    (port, port_type): (u32, HvPortType),
    connection: u32,
) {
    let device = Owner::TestDevice;
    if synic
        .connections(partition)
        .iter()
        .any(|c| c.id == connection && c.owner == device && c.port_type == port_type)
    {
        let _ = plan.push(KernelCall::Disconnect {
            sender: partition,
            id: connection,
        });
    }
    if synic
        .ports(partition)
        .any(|p| p.spec.id == port && p.owner == device)
    {
        let _ = plan.push(KernelCall::DeletePort {
            partition,
            id: port,
        });
    }
}
