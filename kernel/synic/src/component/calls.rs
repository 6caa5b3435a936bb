//! The calls the `synic` component makes to the kernel, and how the kernel
//! carries them out ([`Synic::apply`]).
//!
//! They are the component ABI the SynIC needs: the TLFS-shaped port and
//! connection calls (`virtualization-host.md`, with capabilities in place
//! of partition IDs), the publication of a SynIC register the component
//! validated, and the two hypercall replies that hand a message or an event
//! to the kernel. Each is one step of the kernel: it happens entirely or
//! not at all, whatever becomes of the component afterwards.

use tlfs::message::HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT;
use tlfs::{HvMessageType, HvStatus};

use crate::pages::SynicPages;
use crate::ports::{ConnectSpec, Owner, PartitionRef, PortSpec};
use crate::registers::{GeneralProtection, SynicMsr};
use crate::sint::Sint;
use crate::state::{Applied, Synic};

/// One call from the component to the kernel.
// A message travels by value: it is the IPC message's payload.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelCall {
    /// Store a SynIC register (the reply to a WRMSR the component
    /// accepted); EOM is a write of 0 to [`SynicMsr::Eom`].
    WriteSynic {
        /// The partition.
        partition: PartitionRef,
        /// The VP.
        vp: u32,
        /// The register.
        msr: SynicMsr,
        /// The value.
        value: u64,
    },
    /// `HvCallCreatePort`.
    CreatePort {
        /// The partition that will own (receive through) the port.
        partition: PartitionRef,
        /// The port.
        spec: PortSpec,
        /// Who asks.
        owner: Owner,
    },
    /// `HvCallDeletePort`.
    DeletePort {
        /// The port's partition.
        partition: PartitionRef,
        /// The port ID.
        id: u32,
    },
    /// `HvCallConnectPort`.
    Connect {
        /// The partition that will send through the connection.
        sender: PartitionRef,
        /// The connection.
        spec: ConnectSpec,
        /// The port's partition.
        port_partition: PartitionRef,
        /// Who asks.
        owner: Owner,
    },
    /// `HvCallDisconnectPort`.
    Disconnect {
        /// The sending partition.
        sender: PartitionRef,
        /// The connection ID.
        id: u32,
    },
    /// The reply to an `HvCallPostMessage` whose input the component
    /// checked: queue the message.
    PostMessage {
        /// The calling partition.
        sender: PartitionRef,
        /// The connection ID.
        connection: u32,
        /// The message type.
        message_type: HvMessageType,
        /// The payload buffer.
        payload: [u8; HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT],
        /// Bytes of it that are the message.
        payload_size: u8,
    },
    /// The reply to an `HvCallSignalEvent` the fast path did not take.
    SignalEvent {
        /// The calling partition.
        sender: PartitionRef,
        /// The connection ID.
        connection: u32,
        /// The relative flag number.
        flag: u16,
    },
    /// Add or remove a `hyperv-testdev` SINT route.
    SetSintRoute {
        /// The partition.
        partition: PartitionRef,
        /// The VP.
        vp: u32,
        /// The SINT.
        sint: Sint,
        /// Add (`true`) or remove.
        present: bool,
    },
    /// Raise a SINT through its `hyperv-testdev` route.
    AssertSint {
        /// The partition.
        partition: PartitionRef,
        /// The VP.
        vp: u32,
        /// The SINT.
        sint: Sint,
    },
}

/// Why the kernel refused a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallError {
    /// The register write is #GP (only [`KernelCall::WriteSynic`]).
    GeneralProtection,
    /// This status.
    Status(HvStatus),
}

impl From<GeneralProtection> for CallError {
    fn from(_: GeneralProtection) -> Self {
        Self::GeneralProtection
    }
}

impl From<HvStatus> for CallError {
    fn from(status: HvStatus) -> Self {
        Self::Status(status)
    }
}

impl CallError {
    /// The status a hypercall reply returns for it (#GP never comes from
    /// the calls a hypercall makes).
    #[must_use]
    pub const fn status(self) -> HvStatus {
        match self {
            Self::GeneralProtection => HvStatus::INVALID_PARAMETER,
            Self::Status(status) => status,
        }
    }
}

/// What a call did.
pub type Answer = Result<Applied, CallError>;

fn deliveries(result: Result<crate::state::Deliveries, HvStatus>) -> Answer {
    result
        .map(|deliveries| Applied {
            overlay: None,
            deliveries,
        })
        .map_err(CallError::Status)
}

fn nothing(result: Result<(), HvStatus>) -> Answer {
    result
        .map(|()| Applied::default())
        .map_err(CallError::Status)
}

impl<P: SynicPages> Synic<P> {
    /// Carries out `call` at reference time `now`.
    ///
    /// # Errors
    ///
    /// The [`CallError`] of the method the call maps to.
    pub fn apply(&mut self, call: &KernelCall, now: u64) -> Answer {
        match *call {
            KernelCall::WriteSynic {
                partition,
                vp,
                msr,
                value,
            } => Ok(self.write_synic(partition, vp, msr, value, now)?),
            KernelCall::CreatePort {
                partition,
                spec,
                owner,
            } => nothing(self.create_port(partition, spec, owner)),
            KernelCall::DeletePort { partition, id } => nothing(self.delete_port(partition, id)),
            KernelCall::Connect {
                sender,
                spec,
                port_partition,
                owner,
            } => nothing(self.connect(sender, spec, port_partition, owner)),
            KernelCall::Disconnect { sender, id } => nothing(self.disconnect(sender, id)),
            KernelCall::PostMessage {
                sender,
                connection,
                message_type,
                ref payload,
                payload_size,
            } => {
                let size = usize::from(payload_size).min(HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT + 1);
                let payload = payload.get(..size).ok_or(HvStatus::INVALID_PARAMETER);
                deliveries(payload.and_then(|payload| {
                    self.post_message(sender, connection, message_type, payload, now)
                }))
            }
            KernelCall::SignalEvent {
                sender,
                connection,
                flag,
            } => deliveries(self.signal_event(sender, connection, flag)),
            KernelCall::SetSintRoute {
                partition,
                vp,
                sint,
                present,
            } => nothing(self.set_sint_route(partition, vp, sint, present)),
            KernelCall::AssertSint {
                partition,
                vp,
                sint,
            } => deliveries(self.assert_sint(partition, vp, sint)),
        }
    }
}
