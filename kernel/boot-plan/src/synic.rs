//! A partition's SynIC ports and connections as the manifest declares them
//! (issue 14 item 4; TLFS md `inter-partition-communication.md` § Ports
//! and Connections): the same 168-byte record ends the plan's
//! [`PartitionRecord`](crate::layout::PartitionRecord) and the manager
//! data's [`PartitionSpecRecord`](crate::manager::PartitionSpecRecord),
//! and the partition manager makes them with `PartitionCreatePort` and
//! `PartitionConnectPort` before the partition's first VP runs.
//!
//! Record (168 bytes): `port_count` (u8, at most [`MAX_PORTS`]),
//! `connection_count` (u8, at most [`MAX_CONNECTIONS`]), 6 reserved bytes,
//! then [`MAX_PORTS`] port records of 16 bytes — `id` (u32, 24 bits),
//! `kind` (u8: 1 message, 2 event, the `HV_PORT_TYPE`), `sint` (u8, below
//! 16), `vp` (u8), `owner_slot` (u8, since plan format 7 / manager data
//! 6: 0 for a port of VP `vp`'s SINT `sint`; otherwise the port is a
//! component's, and this is the manager's capability slot, 4 to 63, of the
//! owner's endpoint, the route capability whose badge names the partition;
//! `sint`, `vp` and `base_flag` are then 0), `base_flag` (u16),
//! `flag_count` (u16: at least 1 and `base_flag + flag_count` at most 2048
//! for an event port, both 0 for a message port), reserved u32 — then [`MAX_CONNECTIONS`]
//! connection records of 24 bytes — `id` (u32, 24 bits), `port` (u32, 24
//! bits), `kind` (u8, the port's), 7 reserved bytes, `partition` (u64, the
//! badge of the port's partition, non-zero). Entries past the counts, and
//! every reserved byte, are 0.
//!
//! What one record cannot see (the port a connection names exists, in a
//! partition of the same manager; `vp` below the partition's VP count; IDs
//! unique) the manifest compiler checks; the kernel answers the TLFS status
//! if it still finds one wrong.

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Ports one partition may declare.
pub const MAX_PORTS: usize = 4;
/// Connections one partition may declare.
pub const MAX_CONNECTIONS: usize = 4;

/// `HV_PORT_TYPE` of a message port.
pub const MESSAGE: u8 = 1;
/// `HV_PORT_TYPE` of an event port.
pub const EVENT: u8 = 2;

/// Event flags of a SINT (`HV_EVENT_FLAGS_COUNT`).
const FLAGS: u32 = 2048;
/// The reserved high byte of port and connection IDs.
const ID_RESERVED: u32 = 0xFF00_0000;

/// A port: its partition receives through it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PortDecl {
    /// The 24-bit port ID.
    pub id: u32,
    /// [`MESSAGE`] or [`EVENT`].
    pub kind: u8,
    /// The target SINT.
    pub sint: u8,
    /// The target VP's index.
    pub vp: u8,
    /// Event ports: the first flag.
    pub base_flag: u16,
    /// Event ports: how many flags.
    pub flag_count: u16,
    /// 0: a port of VP `vp`; otherwise a component's port, and the
    /// manager's slot of the owner's endpoint (see the module).
    pub owner_slot: u8,
}

/// The manager's capability slots an owner's endpoint may be in.
const OWNER_SLOTS: core::ops::Range<u8> = 4..64;

/// A connection: its partition sends through it to a port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConnectionDecl {
    /// The 24-bit connection ID the guest's hypercalls name.
    pub id: u32,
    /// The port's ID.
    pub port: u32,
    /// The port's kind ([`MESSAGE`] or [`EVENT`]).
    pub kind: u8,
    /// The badge of the port's partition (this one or another).
    pub partition: u64,
}

/// A partition's declared ports and connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SynicLinks {
    ports: [PortDecl; MAX_PORTS],
    port_count: u8,
    connections: [ConnectionDecl; MAX_CONNECTIONS],
    connection_count: u8,
}

/// [`SynicLinks::push_port`] or [`SynicLinks::push_connection`] past the
/// maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Full;

#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct PortDeclRecord {
    pub id: U32,
    pub kind: u8,
    pub sint: u8,
    pub vp: u8,
    pub owner_slot: u8,
    pub base_flag: U16,
    pub flag_count: U16,
    pub reserved1: U32,
}

#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct ConnectionDeclRecord {
    pub id: U32,
    pub port: U32,
    pub kind: u8,
    pub reserved: [u8; 7],
    pub partition: U64,
}

/// The record (see the module).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct SynicLinksRecord {
    pub port_count: u8,
    pub connection_count: u8,
    pub reserved: [u8; 6],
    pub ports: [PortDeclRecord; MAX_PORTS],
    pub connections: [ConnectionDeclRecord; MAX_CONNECTIONS],
}

const _: () = assert!(size_of::<PortDeclRecord>() == 16);
const _: () = assert!(size_of::<ConnectionDeclRecord>() == 24);
const _: () = assert!(size_of::<SynicLinksRecord>() == 168);

impl PortDecl {
    /// What a port record may hold, whatever partition it is in.
    #[must_use]
    pub fn valid(&self) -> bool {
        let flags = match self.kind {
            MESSAGE => self.base_flag == 0 && self.flag_count == 0,
            EVENT => {
                self.flag_count != 0
                    && u32::from(self.base_flag) + u32::from(self.flag_count) <= FLAGS
            }
            _ => false,
        };
        let receiver = match self.owner_slot {
            0 => self.sint < 16,
            slot => {
                OWNER_SLOTS.contains(&slot) && self.sint == 0 && self.vp == 0 && self.base_flag == 0
            }
        };
        flags && receiver && self.id & ID_RESERVED == 0
    }

    /// Whether a component receives through it.
    #[must_use]
    pub fn is_owned(&self) -> bool {
        self.owner_slot != 0
    }
}

impl ConnectionDecl {
    /// What a connection record may hold on its own.
    #[must_use]
    pub fn valid(&self) -> bool {
        matches!(self.kind, MESSAGE | EVENT)
            && self.id & ID_RESERVED == 0
            && self.port & ID_RESERVED == 0
            && self.partition != 0
    }
}

impl SynicLinks {
    /// The ports, in declaration order.
    #[must_use]
    pub fn ports(&self) -> &[PortDecl] {
        &self.ports[..usize::from(self.port_count)]
    }

    /// The connections, in declaration order.
    #[must_use]
    pub fn connections(&self) -> &[ConnectionDecl] {
        &self.connections[..usize::from(self.connection_count)]
    }

    /// Adds a port.
    ///
    /// # Errors
    ///
    /// [`Full`] past [`MAX_PORTS`].
    pub fn push_port(&mut self, port: PortDecl) -> Result<(), Full> {
        let at = self
            .ports
            .get_mut(usize::from(self.port_count))
            .ok_or(Full)?;
        *at = port;
        self.port_count += 1;
        Ok(())
    }

    /// Adds a connection.
    ///
    /// # Errors
    ///
    /// [`Full`] past [`MAX_CONNECTIONS`].
    pub fn push_connection(&mut self, connection: ConnectionDecl) -> Result<(), Full> {
        let at = self
            .connections
            .get_mut(usize::from(self.connection_count))
            .ok_or(Full)?;
        *at = connection;
        self.connection_count += 1;
        Ok(())
    }

    /// Whether there is nothing to make.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.port_count == 0 && self.connection_count == 0
    }

    /// The record.
    #[must_use]
    pub fn to_record(&self) -> SynicLinksRecord {
        let mut record = SynicLinksRecord {
            port_count: self.port_count,
            connection_count: self.connection_count,
            ..SynicLinksRecord::default()
        };
        for (at, port) in record.ports.iter_mut().zip(self.ports()) {
            *at = PortDeclRecord {
                id: U32::new(port.id),
                kind: port.kind,
                sint: port.sint,
                vp: port.vp,
                owner_slot: port.owner_slot,
                base_flag: U16::new(port.base_flag),
                flag_count: U16::new(port.flag_count),
                ..PortDeclRecord::default()
            };
        }
        for (at, connection) in record.connections.iter_mut().zip(self.connections()) {
            *at = ConnectionDeclRecord {
                id: U32::new(connection.id),
                port: U32::new(connection.port),
                kind: connection.kind,
                partition: U64::new(connection.partition),
                ..ConnectionDeclRecord::default()
            };
        }
        record
    }

    /// The declarations of `record`, checked on their own, with every
    /// declared port's VP below `vp_count`.
    ///
    /// # Errors
    ///
    /// The name of the first field that is wrong.
    pub fn from_record(record: &SynicLinksRecord, vp_count: u8) -> Result<Self, &'static str> {
        let ports = usize::from(record.port_count);
        let connections = usize::from(record.connection_count);
        if ports > MAX_PORTS {
            return Err("synic port_count");
        }
        if connections > MAX_CONNECTIONS {
            return Err("synic connection_count");
        }
        if record.reserved != [0; 6] {
            return Err("synic reserved");
        }
        let mut links = Self::default();
        for (index, port) in record.ports.iter().enumerate() {
            if index >= ports {
                if *port != PortDeclRecord::default() {
                    return Err("synic unused port");
                }
                continue;
            }
            let decl = PortDecl {
                id: port.id.get(),
                kind: port.kind,
                sint: port.sint,
                vp: port.vp,
                base_flag: port.base_flag.get(),
                flag_count: port.flag_count.get(),
                owner_slot: port.owner_slot,
            };
            if !decl.valid() || decl.vp >= vp_count || port.reserved1 != 0 {
                return Err("synic port");
            }
            let _ = links.push_port(decl);
        }
        for (index, connection) in record.connections.iter().enumerate() {
            if index >= connections {
                if *connection != ConnectionDeclRecord::default() {
                    return Err("synic unused connection");
                }
                continue;
            }
            let decl = ConnectionDecl {
                id: connection.id.get(),
                port: connection.port.get(),
                kind: connection.kind,
                partition: connection.partition.get(),
            };
            if !decl.valid() || connection.reserved != [0; 7] {
                return Err("synic connection");
            }
            let _ = links.push_connection(decl);
        }
        Ok(links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> SynicLinks {
        let mut links = SynicLinks::default();
        links
            .push_port(PortDecl {
                id: 0x10,
                kind: MESSAGE,
                sint: 2,
                vp: 1,
                ..PortDecl::default()
            })
            .unwrap();
        links
            .push_port(PortDecl {
                id: 0x11,
                kind: EVENT,
                sint: 3,
                vp: 0,
                base_flag: 2040,
                flag_count: 8,
                owner_slot: 0,
            })
            .unwrap();
        links
            .push_port(PortDecl {
                id: 0x12,
                kind: EVENT,
                flag_count: 4,
                owner_slot: 9,
                ..PortDecl::default()
            })
            .unwrap();
        links
            .push_connection(ConnectionDecl {
                id: 0xFF_FFFF,
                port: 0x10,
                kind: MESSAGE,
                partition: 2,
            })
            .unwrap();
        links
    }

    #[test]
    fn round_trip() {
        let links = links();
        assert_eq!(SynicLinks::from_record(&links.to_record(), 2), Ok(links));
        let none = SynicLinks::default();
        assert_eq!(SynicLinks::from_record(&none.to_record(), 1), Ok(none));
        assert_eq!(none.to_record().as_bytes(), [0u8; 168]);
    }

    #[test]
    fn refused() {
        let check = |change: &dyn Fn(&mut SynicLinksRecord)| {
            let mut record = links().to_record();
            change(&mut record);
            SynicLinks::from_record(&record, 2)
        };
        assert!(check(&|r| r.port_count = 5).is_err());
        assert!(
            check(&|r| r.ports[2].owner_slot = 3).is_err(),
            "a kernel slot"
        );
        assert!(
            check(&|r| r.ports[2].owner_slot = 64).is_err(),
            "past the space"
        );
        assert!(
            check(&|r| r.ports[2].sint = 1).is_err(),
            "an owned port has no SINT"
        );
        assert!(
            check(&|r| r.ports[2].base_flag = U16::new(1)).is_err(),
            "nor a base"
        );
        assert!(
            check(&|r| r.connection_count = 2).is_err(),
            "an unused record must be 0"
        );
        assert!(check(&|r| r.ports[0].vp = 2).is_err(), "VP past the count");
        assert!(check(&|r| r.ports[0].sint = 16).is_err());
        assert!(check(&|r| r.ports[0].kind = 3).is_err(), "monitor port");
        assert!(check(&|r| r.ports[0].flag_count = U16::new(1)).is_err());
        assert!(
            check(&|r| r.ports[1].flag_count = U16::new(9)).is_err(),
            "past 2048"
        );
        assert!(check(&|r| r.ports[1].flag_count = U16::new(0)).is_err());
        assert!(check(&|r| r.ports[0].id = U32::new(0x0100_0010)).is_err());
        assert!(check(&|r| r.connections[0].partition = U64::new(0)).is_err());
        assert!(check(&|r| r.connections[0].port = U32::new(0x0100_0000)).is_err());
        assert!(check(&|r| r.connections[0].reserved[6] = 1).is_err());
        assert!(check(&|r| r.reserved[0] = 1).is_err());
        assert!(
            check(&|r| r.ports[3].id = U32::new(1)).is_err(),
            "an unused record"
        );
        assert!(check(&|_| {}).is_ok());
    }
}
