//! The SynIC ports and connections a partition's manifest declares
//! ([`tessera_boot_plan::synic`]), as the TLFS-shaped inputs of
//! `PartitionCreatePort` and `PartitionConnectPort` (TLFS md
//! `hypercalls/HvCallCreatePort.md`, `HvCallConnectPort.md`): the
//! partition fields stay 0, since the capabilities name the partitions.

use tessera_boot_plan::synic::{ConnectionDecl, EVENT, PortDecl};
use tlfs::port::{
    HvConnectionInfo, HvEventPortInfo, HvInputConnectPort, HvInputCreatePort, HvMessagePortInfo,
    HvPortInfo,
};
use tlfs::synic::{HvConnectionId, HvPortId, HvPortType};

/// `HV_INPUT_CREATE_PORT` for `port`.
#[must_use]
pub fn create_port_input(port: &PortDecl) -> HvInputCreatePort {
    let (sint, vp) = (u32::from(port.sint), u32::from(port.vp));
    let port_info = if port.kind == EVENT {
        HvPortInfo::new_event(HvEventPortInfo {
            target_sint: sint,
            target_vp: vp,
            base_flag_number: port.base_flag,
            flag_count: port.flag_count,
            reserved_z: 0,
        })
    } else {
        HvPortInfo::new_message(HvMessagePortInfo {
            target_sint: sint,
            target_vp: vp,
            reserved_z: 0,
        })
    };
    HvInputCreatePort {
        port_id: HvPortId::new().with_id(port.id),
        port_info,
        ..HvInputCreatePort::default()
    }
}

/// `HV_INPUT_CONNECT_PORT` for `connection`.
#[must_use]
pub fn connect_input(connection: &ConnectionDecl) -> HvInputConnectPort {
    HvInputConnectPort {
        connection_id: HvConnectionId::new().with_id(connection.id),
        port_id: HvPortId::new().with_id(connection.port),
        connection_info: HvConnectionInfo {
            port_type: HvPortType(u32::from(connection.kind)),
            ..HvConnectionInfo::default()
        },
        ..HvInputConnectPort::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_boot_plan::synic::MESSAGE;
    use tessera_synic::Sint;
    use tessera_synic::ports::{ConnectSpec, PortKind, PortSpec};

    /// The kernel reads these inputs with `PortSpec::from_input` and
    /// `ConnectSpec::from_input`: they mean what the manifest said.
    #[test]
    fn the_kernel_reads_back_the_declaration() {
        let event = PortDecl {
            id: 0x11,
            kind: EVENT,
            sint: 3,
            vp: 1,
            base_flag: 8,
            flag_count: 4,
            owner_slot: 0,
        };
        assert_eq!(
            PortSpec::from_input(&create_port_input(&event)),
            Ok(PortSpec {
                id: 0x11,
                kind: PortKind::Event {
                    base_flag: 8,
                    flag_count: 4
                },
                vp: 1,
                sint: Sint::new(3).unwrap(),
            })
        );
        let message = PortDecl {
            id: 0xFF_FFFF,
            kind: MESSAGE,
            sint: 15,
            vp: 0,
            ..PortDecl::default()
        };
        assert_eq!(
            PortSpec::from_input(&create_port_input(&message)).map(|s| (s.id, s.kind)),
            Ok((0xFF_FFFF, PortKind::Message))
        );
        let connection = ConnectionDecl {
            id: 0x20,
            port: 0x11,
            kind: EVENT,
            partition: 2,
        };
        assert_eq!(
            ConnectSpec::from_input(&connect_input(&connection)),
            Ok(ConnectSpec {
                id: 0x20,
                port: 0x11,
                port_type: HvPortType::EVENT
            })
        );
    }
}
