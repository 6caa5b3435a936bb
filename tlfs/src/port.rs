//! Ports and connections as the virtualization-host interface creates them:
//! `HV_PORT_INFO`, `HV_CONNECTION_INFO`, and the input blocks of
//! `HvCallCreatePort`, `HvCallDeletePort`, `HvCallConnectPort` and
//! `HvCallDisconnectPort`.
//!
//! The Markdown edition (`virtualization-host.md`, `hypercalls/HvCall*Port.md`,
//! `datatypes/hv_port_info.md`, `hv_connection_info.md`) gives the calls'
//! input layouts but shows only the doorbell member of the two unions; TLFS
//! 6.0b §11.10 (Ports, Connection Information) gives the message, event and
//! monitor members. These types follow 6.0b for the members and the
//! Markdown edition for the call inputs and the unions' sizes (24 and 32
//! bytes: the doorbell members are the largest).

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::synic::{HvConnectionId, HvPortId, HvPortType, HvSynicSintIndex};
use crate::types::{HvPartitionId, HvVpIndex, HvVtl};

/// `MessagePortInfo`: the member of [`HvPortInfo`] for
/// [`HvPortType::MESSAGE`].
///
/// TLFS 6.0b §11.10 (Ports).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvMessagePortInfo {
    /// `TargetSint`.
    pub target_sint: HvSynicSintIndex,
    /// `TargetVp` (or `HV_ANY_VP`).
    pub target_vp: HvVpIndex,
    /// `ReservedZ`.
    pub reserved_z: u64,
}

/// `EventPortInfo`: the member of [`HvPortInfo`] for [`HvPortType::EVENT`].
///
/// TLFS 6.0b §11.10 (Ports): an event port owns the flags
/// `BaseFlagNumber..BaseFlagNumber + FlagCount` of its SINT's flag set.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvEventPortInfo {
    /// `TargetSint`.
    pub target_sint: HvSynicSintIndex,
    /// `TargetVp` (or `HV_ANY_VP`).
    pub target_vp: HvVpIndex,
    /// `BaseFlagNumber`.
    pub base_flag_number: u16,
    /// `FlagCount`.
    pub flag_count: u16,
    /// `ReservedZ`.
    pub reserved_z: u32,
}

const _: () = assert!(size_of::<HvMessagePortInfo>() == 16);
const _: () = assert!(size_of::<HvEventPortInfo>() == 16);

/// `HV_PORT_INFO` (24 bytes): the port type and its type-specific member,
/// kept as bytes (read it with [`message`](Self::message) or
/// [`event`](Self::event) after checking [`port_type`](Self::port_type)).
///
/// TLFS 6.0b §11.10 (Ports); TLFS md `datatypes/hv_port_info.md` (size).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvPortInfo {
    /// `PortType`.
    pub port_type: HvPortType,
    /// `ReservedZ` (6.0b) / `Padding` (Markdown).
    pub reserved_z: u32,
    /// The union.
    pub info: [u8; 16],
}

const _: () = assert!(size_of::<HvPortInfo>() == 24);

impl HvPortInfo {
    /// A message port's info.
    #[must_use]
    pub fn new_message(info: HvMessagePortInfo) -> Self {
        let mut bytes = [0; 16];
        bytes.copy_from_slice(info.as_bytes());
        Self {
            port_type: HvPortType::MESSAGE,
            reserved_z: 0,
            info: bytes,
        }
    }

    /// An event port's info.
    #[must_use]
    pub fn new_event(info: HvEventPortInfo) -> Self {
        let mut bytes = [0; 16];
        bytes.copy_from_slice(info.as_bytes());
        Self {
            port_type: HvPortType::EVENT,
            reserved_z: 0,
            info: bytes,
        }
    }

    /// The union read as `MessagePortInfo`.
    #[must_use]
    pub fn message(&self) -> HvMessagePortInfo {
        HvMessagePortInfo::read_from_bytes(&self.info).unwrap_or_default()
    }

    /// The union read as `EventPortInfo`.
    #[must_use]
    pub fn event(&self) -> HvEventPortInfo {
        HvEventPortInfo::read_from_bytes(&self.info).unwrap_or_default()
    }
}

/// `HV_CONNECTION_INFO` (32 bytes): the port type the connection expects
/// and its type-specific member (all reserved for message and event
/// connections; the monitor address or the doorbell's trigger otherwise).
///
/// TLFS 6.0b §11.10 (Connection Information); TLFS md
/// `hypercalls/HvCallConnectPort.md` (size 32).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvConnectionInfo {
    /// `PortType`.
    pub port_type: HvPortType,
    /// `ReservedZ` / `Padding`.
    pub reserved_z: u32,
    /// The union: `ReservedZ` for message and event connections.
    pub info: [u64; 3],
}

const _: () = assert!(size_of::<HvConnectionInfo>() == 32);

/// Input of `HvCallCreatePort` (56 bytes).
///
/// TLFS md `hypercalls/HvCallCreatePort.md` § Input Parameters.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvInputCreatePort {
    /// `PortPartition` (offset 0).
    pub port_partition: HvPartitionId,
    /// `PortId` (offset 8).
    pub port_id: HvPortId,
    /// `PortVtl` (offset 12).
    pub port_vtl: HvVtl,
    /// `MinConnectionVtl` (offset 13).
    pub min_connection_vtl: HvVtl,
    /// `ReservedZ0` (offset 14).
    pub reserved_z0: u16,
    /// `ConnectionPartition` (offset 16): connected on creation if not 0.
    pub connection_partition: HvPartitionId,
    /// `PortInfo` (offset 24).
    pub port_info: HvPortInfo,
    /// `ProximityDomainInfo` (offset 48).
    pub proximity_domain_info: u64,
}

const _: () = assert!(size_of::<HvInputCreatePort>() == 56);
const _: () = assert!(core::mem::offset_of!(HvInputCreatePort, connection_partition) == 16);
const _: () = assert!(core::mem::offset_of!(HvInputCreatePort, port_info) == 24);

/// Input of `HvCallDeletePort` (16 bytes).
///
/// TLFS md `hypercalls/HvCallDeletePort.md` § Input Parameters.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvInputDeletePort {
    /// `PortPartition` (offset 0).
    pub port_partition: HvPartitionId,
    /// `PortId` (offset 8).
    pub port_id: HvPortId,
    /// `Reserved` (offset 12), must be zero.
    pub reserved: u32,
}

const _: () = assert!(size_of::<HvInputDeletePort>() == 16);

/// Input of `HvCallConnectPort` (72 bytes).
///
/// TLFS md `hypercalls/HvCallConnectPort.md` § Input Parameters.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvInputConnectPort {
    /// `ConnectionPartition` (offset 0): the partition that will own the
    /// connection (the sender).
    pub connection_partition: HvPartitionId,
    /// `ConnectionId` (offset 8).
    pub connection_id: HvConnectionId,
    /// `ConnectionVtl` (offset 12).
    pub connection_vtl: HvVtl,
    /// `ReservedZ0` (offset 13).
    pub reserved_z0: u8,
    /// `ReservedZ1` (offset 14).
    pub reserved_z1: u16,
    /// `PortPartition` (offset 16): the partition that owns the port.
    pub port_partition: HvPartitionId,
    /// `PortId` (offset 24).
    pub port_id: HvPortId,
    /// `ReservedZ2` (offset 28).
    pub reserved_z2: u32,
    /// `ConnectionInfo` (offset 32).
    pub connection_info: HvConnectionInfo,
    /// `ProximityDomainInfo` (offset 64).
    pub proximity_domain_info: u64,
}

const _: () = assert!(size_of::<HvInputConnectPort>() == 72);
const _: () = assert!(core::mem::offset_of!(HvInputConnectPort, port_id) == 24);
const _: () = assert!(core::mem::offset_of!(HvInputConnectPort, connection_info) == 32);
const _: () = assert!(core::mem::offset_of!(HvInputConnectPort, proximity_domain_info) == 64);

/// Input of `HvCallDisconnectPort` (12 bytes of fields; 16 with the
/// padding every parameter block gets).
///
/// TLFS md `hypercalls/HvCallDisconnectPort.md` § Input Parameters.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvInputDisconnectPort {
    /// `ConnectionPartition` (offset 0).
    pub connection_partition: HvPartitionId,
    /// `ConnectionId` (offset 8).
    pub connection_id: HvConnectionId,
    /// Padding to a multiple of 8 bytes (TLFS md `hypercall-interface.md`).
    pub padding: u32,
}

const _: () = assert!(size_of::<HvInputDisconnectPort>() == 16);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_info_members() {
        let info = HvPortInfo::new_event(HvEventPortInfo {
            target_sint: 9,
            target_vp: 3,
            base_flag_number: 0x20,
            flag_count: 4,
            reserved_z: 0,
        });
        let bytes = info.as_bytes();
        // PortType 2 at 0, TargetSint at 8, TargetVp at 12, BaseFlagNumber
        // at 16, FlagCount at 18 (6.0b's field order).
        assert_eq!(&bytes[0..4], &2_u32.to_le_bytes());
        assert_eq!(bytes[8], 9);
        assert_eq!(bytes[12], 3);
        assert_eq!(&bytes[16..18], &0x20_u16.to_le_bytes());
        assert_eq!(&bytes[18..20], &4_u16.to_le_bytes());
        assert_eq!(info.event().flag_count, 4);
        let message = HvPortInfo::new_message(HvMessagePortInfo {
            target_sint: 2,
            target_vp: 1,
            reserved_z: 0,
        });
        assert_eq!(message.port_type, HvPortType::MESSAGE);
        assert_eq!(message.message().target_vp, 1);
    }

    #[test]
    fn call_inputs() {
        let input = HvInputConnectPort {
            connection_id: HvConnectionId::new().with_id(0x12),
            port_id: HvPortId::new().with_id(0x34),
            ..Default::default()
        };
        let bytes = input.as_bytes();
        assert_eq!(bytes[8], 0x12);
        assert_eq!(bytes[24], 0x34);
        let create = HvInputCreatePort {
            port_id: HvPortId::new().with_id(0x56),
            ..Default::default()
        };
        assert_eq!(create.as_bytes()[8], 0x56);
    }
}
