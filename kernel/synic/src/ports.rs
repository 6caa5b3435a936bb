//! Ports and connections: what they are, and the validation of the
//! virtualization-host calls that create them.
//!
//! TLFS md `inter-partition-communication.md` § Ports and Connections: "A
//! message or event sent from one guest to another must be sent through a
//! pre-allocated connection. A connection, in turn, must be associated with
//! a destination port. A port is allocated from the receiver's memory pool
//! and specifies which virtual processor and SINTx to target. Event ports
//! have a 'base flag number' and 'flag count' … If a port is subsequently
//! deleted, its connection, while it remains, becomes useless." Port IDs
//! are unique within the port's partition, connection IDs within the
//! connecting partition (TLFS 6.0b §11.10).
//!
//! Tessera's component ABI mirrors `HvCallCreatePort`, `HvCallDeletePort`,
//! `HvCallConnectPort` and `HvCallDisconnectPort` (`virtualization-host.md`)
//! with capabilities in place of partition IDs, so the partition fields of
//! their inputs are the caller's to resolve, not checked here. The TLFS
//! lists no return values for these calls; the statuses are **Choices**
//! from `HV_STATUS`'s own descriptions: `HV_STATUS_INVALID_PORT_ID` ("The
//! specified port ID is not unique or does not exist"),
//! `HV_STATUS_INVALID_CONNECTION_ID` (likewise), `HV_STATUS_INVALID_VP_INDEX`,
//! and `HV_STATUS_INVALID_PARAMETER` for everything else: a reserved field
//! set, a VTL other than 0 (Tessera has no VSM), a port type other than
//! message or event, a SINT past 15, an event port whose flags do not fit
//! in 0–2047 or that has none, `HV_ANY_VP` (Tessera binds a port to one
//! VP), or `ConnectionPartition` (the connect-on-create shortcut).

use tlfs::HvStatus;
use tlfs::port::{
    HvConnectionInfo, HvEventPortInfo, HvInputConnectPort, HvInputCreatePort, HvMessagePortInfo,
    HvPortInfo,
};
use tlfs::synic::{HV_EVENT_FLAGS_COUNT, HvConnectionId, HvPortId, HvPortType};

use crate::sint::Sint;

/// A partition, as the SynIC model numbers them (the kernel: its partition
/// handle).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionRef(pub u32);

/// Who created a port or a connection: a restarted component finds its own
/// objects by this tag, kept with them in the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    /// The manifest (the partition manager, at partition creation).
    Manifest,
    /// The `hyperv-testdev` protocol of the partition.
    TestDevice,
    /// A component, by the badge of its capability.
    Component(u64),
}

/// Where what a port receives goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Receiver {
    /// Into the target VP's SINT: its SIM slot or SIEF flags.
    Vp,
    /// To the component that owns the port, which takes it from the kernel
    /// (`Synic::receive`); the port's VP and SINT mean nothing.
    Component,
}

/// What a port receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortKind {
    /// Messages (`HvCallPostMessage`), into the target SINT's slot.
    Message,
    /// Event flags `base_flag..base_flag + flag_count` of the target SINT
    /// (`HvCallSignalEvent`).
    Event {
        /// `BaseFlagNumber`.
        base_flag: u16,
        /// `FlagCount` (at least 1; base + count ≤ 2048).
        flag_count: u16,
    },
}

impl PortKind {
    /// The `HV_PORT_TYPE`.
    #[must_use]
    pub const fn port_type(self) -> HvPortType {
        match self {
            Self::Message => HvPortType::MESSAGE,
            Self::Event { .. } => HvPortType::EVENT,
        }
    }
}

/// A port: its ID, kind, the VP and SINT it targets in its partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortSpec {
    /// The 24-bit port ID.
    pub id: u32,
    /// Message or event.
    pub kind: PortKind,
    /// The target VP's index.
    pub vp: u32,
    /// The target SINT.
    pub sint: Sint,
}

/// Port IDs and connection IDs are 24 bits ("The high 8 bits of the ID
/// are reserved and must be zero").
#[must_use]
pub const fn valid_id(raw: u32) -> bool {
    raw & HvPortId::RESERVED_MASK == 0
}

impl PortSpec {
    /// The `HvCallCreatePort` input that describes this port (its
    /// partition fields 0): what [`from_input`](Self::from_input) reads.
    #[must_use]
    pub fn to_input(&self) -> HvInputCreatePort {
        let (target_sint, target_vp) = (self.sint.index() as u32, self.vp);
        let port_info = match self.kind {
            PortKind::Message => HvPortInfo::new_message(HvMessagePortInfo {
                target_sint,
                target_vp,
                reserved_z: 0,
            }),
            PortKind::Event {
                base_flag,
                flag_count,
            } => HvPortInfo::new_event(HvEventPortInfo {
                target_sint,
                target_vp,
                base_flag_number: base_flag,
                flag_count,
                reserved_z: 0,
            }),
        };
        HvInputCreatePort {
            port_id: HvPortId::new().with_id(self.id),
            port_info,
            ..HvInputCreatePort::default()
        }
    }

    /// Checks a port before it exists, for a partition of `vp_count` VPs.
    ///
    /// # Errors
    ///
    /// As the module says.
    pub fn check(&self, vp_count: u32) -> Result<(), HvStatus> {
        if !valid_id(self.id) {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        if let PortKind::Event {
            base_flag,
            flag_count,
        } = self.kind
            && (flag_count == 0
                || usize::from(base_flag) + usize::from(flag_count) > HV_EVENT_FLAGS_COUNT)
        {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        if self.vp >= vp_count {
            return Err(HvStatus::INVALID_VP_INDEX);
        }
        Ok(())
    }

    /// The port an `HvCallCreatePort` input describes (before
    /// [`check`](Self::check)).
    ///
    /// # Errors
    ///
    /// `HV_STATUS_INVALID_PARAMETER` or `HV_STATUS_INVALID_VP_INDEX`, as the
    /// module says.
    pub fn from_input(input: &HvInputCreatePort) -> Result<Self, HvStatus> {
        let info = &input.port_info;
        if input.port_vtl != 0
            || input.min_connection_vtl != 0
            || input.reserved_z0 != 0
            || input.connection_partition != 0
            || info.reserved_z != 0
        {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        let (sint, vp, kind) = match info.port_type {
            HvPortType::MESSAGE => {
                let message = info.message();
                if message.reserved_z != 0 {
                    return Err(HvStatus::INVALID_PARAMETER);
                }
                (message.target_sint, message.target_vp, PortKind::Message)
            }
            HvPortType::EVENT => {
                let event = info.event();
                if event.reserved_z != 0 {
                    return Err(HvStatus::INVALID_PARAMETER);
                }
                (
                    event.target_sint,
                    event.target_vp,
                    PortKind::Event {
                        base_flag: event.base_flag_number,
                        flag_count: event.flag_count,
                    },
                )
            }
            _ => return Err(HvStatus::INVALID_PARAMETER),
        };
        if vp == tlfs::types::HV_ANY_VP {
            return Err(HvStatus::INVALID_VP_INDEX);
        }
        Ok(Self {
            id: input.port_id.into_bits(),
            kind,
            vp,
            sint: Sint::new(sint).ok_or(HvStatus::INVALID_PARAMETER)?,
        })
    }
}

/// A connection request: the connecting partition's ID for it, the port's
/// ID in its partition, and the port type the connection expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnectSpec {
    /// The 24-bit connection ID.
    pub id: u32,
    /// The port's 24-bit ID.
    pub port: u32,
    /// Message or event.
    pub port_type: HvPortType,
}

impl ConnectSpec {
    /// The `HvCallConnectPort` input that asks for this connection (its
    /// partition fields 0): what [`from_input`](Self::from_input) reads.
    #[must_use]
    pub fn to_input(&self) -> HvInputConnectPort {
        HvInputConnectPort {
            connection_id: HvConnectionId::new().with_id(self.id),
            port_id: HvPortId::new().with_id(self.port),
            connection_info: HvConnectionInfo {
                port_type: self.port_type,
                ..HvConnectionInfo::default()
            },
            ..HvInputConnectPort::default()
        }
    }

    /// The connection an `HvCallConnectPort` input describes.
    ///
    /// # Errors
    ///
    /// `HV_STATUS_INVALID_PARAMETER` as the module says;
    /// `HV_STATUS_INVALID_CONNECTION_ID` or `HV_STATUS_INVALID_PORT_ID` for
    /// an ID with its reserved bits set.
    pub fn from_input(input: &HvInputConnectPort) -> Result<Self, HvStatus> {
        let info = &input.connection_info;
        if input.connection_vtl != 0
            || input.reserved_z0 != 0
            || input.reserved_z1 != 0
            || input.reserved_z2 != 0
            || info.reserved_z != 0
            || info.info != [0; 3]
        {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        if !matches!(info.port_type, HvPortType::MESSAGE | HvPortType::EVENT) {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        let id = input.connection_id.into_bits();
        let port = input.port_id.into_bits();
        if id & HvConnectionId::RESERVED_MASK != 0 {
            return Err(HvStatus::INVALID_CONNECTION_ID);
        }
        if !valid_id(port) {
            return Err(HvStatus::INVALID_PORT_ID);
        }
        Ok(Self {
            id,
            port,
            port_type: info.port_type,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_input(base: u16, count: u16, vp: u32) -> HvInputCreatePort {
        HvInputCreatePort {
            port_id: HvPortId::new().with_id(0x42),
            port_info: HvPortInfo::new_event(HvEventPortInfo {
                target_sint: 9,
                target_vp: vp,
                base_flag_number: base,
                flag_count: count,
                reserved_z: 0,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn create_port_inputs() {
        let spec = PortSpec::from_input(&event_input(8, 8, 1)).unwrap();
        assert_eq!(
            spec,
            PortSpec {
                id: 0x42,
                kind: PortKind::Event {
                    base_flag: 8,
                    flag_count: 8
                },
                vp: 1,
                sint: Sint::ALL[9],
            }
        );
        assert_eq!(spec.check(2), Ok(()));
        assert_eq!(spec.check(1), Err(HvStatus::INVALID_VP_INDEX));
        let bad =
            |input: &HvInputCreatePort| PortSpec::from_input(input).and_then(|spec| spec.check(4));
        assert_eq!(
            bad(&event_input(2040, 9, 0)),
            Err(HvStatus::INVALID_PARAMETER)
        );
        assert_eq!(bad(&event_input(0, 0, 0)), Err(HvStatus::INVALID_PARAMETER));
        assert_eq!(bad(&event_input(2047, 1, 0)), Ok(()));
        assert_eq!(
            bad(&event_input(0, 1, tlfs::types::HV_ANY_VP)),
            Err(HvStatus::INVALID_VP_INDEX)
        );
        let mut vtl = event_input(0, 1, 0);
        vtl.port_vtl = 1;
        assert_eq!(bad(&vtl), Err(HvStatus::INVALID_PARAMETER));
        let mut high = event_input(0, 1, 0);
        high.port_id = HvPortId::from_bits(0x0100_0000);
        assert_eq!(bad(&high), Err(HvStatus::INVALID_PARAMETER));
        let mut sint = HvInputCreatePort {
            port_info: HvPortInfo::new_message(HvMessagePortInfo {
                target_sint: 16,
                target_vp: 0,
                reserved_z: 0,
            }),
            ..Default::default()
        };
        assert_eq!(bad(&sint), Err(HvStatus::INVALID_PARAMETER));
        sint.port_info.port_type = HvPortType::MONITOR;
        assert_eq!(bad(&sint), Err(HvStatus::INVALID_PARAMETER));
    }

    #[test]
    fn inputs_read_back() {
        let spec = PortSpec {
            id: 0x42,
            kind: PortKind::Event {
                base_flag: 8,
                flag_count: 4,
            },
            vp: 1,
            sint: Sint::ALL[9],
        };
        assert_eq!(PortSpec::from_input(&spec.to_input()), Ok(spec));
        let message = PortSpec {
            kind: PortKind::Message,
            ..spec
        };
        assert_eq!(PortSpec::from_input(&message.to_input()), Ok(message));
        let connect = ConnectSpec {
            id: 7,
            port: 0x42,
            port_type: HvPortType::EVENT,
        };
        assert_eq!(ConnectSpec::from_input(&connect.to_input()), Ok(connect));
    }

    #[test]
    fn connect_port_inputs() {
        let input = HvInputConnectPort {
            connection_id: HvConnectionId::new().with_id(7),
            port_id: HvPortId::new().with_id(0x42),
            connection_info: HvConnectionInfo {
                port_type: HvPortType::MESSAGE,
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            ConnectSpec::from_input(&input),
            Ok(ConnectSpec {
                id: 7,
                port: 0x42,
                port_type: HvPortType::MESSAGE
            })
        );
        let mut reserved = input;
        reserved.reserved_z2 = 1;
        assert_eq!(
            ConnectSpec::from_input(&reserved),
            Err(HvStatus::INVALID_PARAMETER)
        );
        let mut id = input;
        id.connection_id = HvConnectionId::from_bits(0x0100_0007);
        assert_eq!(
            ConnectSpec::from_input(&id),
            Err(HvStatus::INVALID_CONNECTION_ID)
        );
        let mut monitor = input;
        monitor.connection_info.port_type = HvPortType::MONITOR;
        assert_eq!(
            ConnectSpec::from_input(&monitor),
            Err(HvStatus::INVALID_PARAMETER)
        );
    }
}
