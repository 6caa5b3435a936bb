//! Ports and connections in the kernel: creating and removing them, and
//! resolving a connection to its live port.

use tlfs::HvStatus;
use tlfs::synic::HvPortType;

use super::inbox::Inbox;
use super::messages::MessagePool;
use super::{PartitionState, Synic};
use crate::pages::SynicPages;
use crate::ports::{ConnectSpec, Owner, PartitionRef, PortKind, PortSpec, Receiver, valid_id};
use crate::published::EventRoute;

/// A port in the kernel's table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PortEntry {
    pub record: PortRecord,
    /// Message ports of a VP: the buffers.
    pub pool: Option<MessagePool>,
    /// Ports a component owns: what waits for it (boxed: 4 KiB that ports
    /// of VPs do not carry).
    pub inbox: Option<alloc::boxed::Box<Inbox>>,
}

/// A port as the kernel holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRecord {
    /// What it is.
    pub spec: PortSpec,
    /// Who created it.
    pub owner: Owner,
    /// A VP's SINT, or the component that owns it.
    pub receiver: Receiver,
    /// Tells this port from an earlier one with the same ID.
    pub serial: u64,
}

/// The port a connection reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortAddress {
    /// The partition that owns the port.
    pub partition: PartitionRef,
    /// Its ID there.
    pub id: u32,
    /// The [`PortRecord::serial`] it had when connected.
    pub serial: u64,
}

/// A connection as the kernel holds it (in the sending partition).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnectionRecord {
    /// The connection ID.
    pub id: u32,
    /// The port.
    pub port: PortAddress,
    /// The port type it was made for.
    pub port_type: HvPortType,
    /// Who created it.
    pub owner: Owner,
}

impl<P> PartitionState<P> {
    pub(super) fn port_slot(&self, id: u32) -> Option<usize> {
        self.ports
            .iter()
            .position(|p| p.as_ref().is_some_and(|p| p.record.spec.id == id))
    }

    pub(super) fn connection(&self, id: u32) -> Option<ConnectionRecord> {
        self.connections.iter().find(|c| c.id == id).copied()
    }
}

impl<P: SynicPages> Synic<P> {
    /// Makes the serial numbers of the ports this [`Synic`] creates from
    /// now on start at `base`: a kernel that keeps one `Synic` per
    /// partition gives each a base no earlier partition in the same slot
    /// used, so a connection to a port of a destroyed partition never
    /// reaches a port of the one that took its place.
    pub fn set_serial_base(&mut self, base: u64) {
        self.next_serial = self.next_serial.max(base);
    }

    /// The ports partition `partition` owns.
    pub fn ports(&self, partition: PartitionRef) -> impl Iterator<Item = PortRecord> + '_ {
        self.partition(partition)
            .into_iter()
            .flat_map(|p| p.ports.iter().flatten().map(|entry| entry.record))
    }

    /// The connections partition `partition` sends through.
    #[must_use]
    pub fn connections(&self, partition: PartitionRef) -> &[ConnectionRecord] {
        self.partition(partition).map_or(&[], |p| &p.connections)
    }

    /// Creates a port in `partition`.
    ///
    /// # Errors
    ///
    /// `HV_STATUS_INVALID_PORT_ID` if the ID is taken; those of
    /// [`PortSpec::check`].
    pub fn create_port(
        &mut self,
        partition: PartitionRef,
        spec: PortSpec,
        owner: Owner,
    ) -> Result<(), HvStatus> {
        if self.partition(partition).is_none() {
            return Err(HvStatus::INVALID_PARTITION_ID);
        }
        spec.check(self.vp_count(partition))?;
        self.insert_port(partition, spec, owner, Receiver::Vp)
    }

    /// Creates a port of `partition` that the component `owner` receives
    /// through ([`receive`](Self::receive)): `kind`'s flags are relative
    /// to base 0 (`PortKind::Event`'s `base_flag` must be 0). Only the
    /// partition itself may connect to it ([`connect`](Self::connect)).
    ///
    /// # Errors
    ///
    /// `HV_STATUS_INVALID_PORT_ID` if the ID is taken;
    /// `HV_STATUS_INVALID_PARAMETER` for an ID past 24 bits or an event
    /// port without flags, with a base, or past 2048 flags.
    pub fn create_component_port(
        &mut self,
        partition: PartitionRef,
        id: u32,
        kind: PortKind,
        owner: Owner,
    ) -> Result<(), HvStatus> {
        if matches!(kind, PortKind::Event { base_flag, .. } if base_flag != 0) {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        let spec = PortSpec {
            id,
            kind,
            vp: 0,
            sint: crate::sint::Sint::ALL[0],
        };
        // The VP and SINT are placeholders: any partition passes for them.
        spec.check(1)?;
        self.insert_port(partition, spec, owner, Receiver::Component)
    }

    fn insert_port(
        &mut self,
        partition: PartitionRef,
        spec: PortSpec,
        owner: Owner,
        receiver: Receiver,
    ) -> Result<(), HvStatus> {
        let serial = self.next_serial;
        let part = self
            .partition_mut(partition)
            .ok_or(HvStatus::INVALID_PARTITION_ID)?;
        if part.port_slot(spec.id).is_some() {
            return Err(HvStatus::INVALID_PORT_ID);
        }
        let message = matches!(spec.kind, PortKind::Message);
        let entry = PortEntry {
            record: PortRecord {
                spec,
                owner,
                receiver,
                serial,
            },
            pool: (message && receiver == Receiver::Vp).then(MessagePool::default),
            inbox: (receiver == Receiver::Component).then(alloc::boxed::Box::default),
        };
        match part.ports.iter().position(Option::is_none) {
            Some(free) => part.ports[free] = Some(entry),
            None => part.ports.push(Some(entry)),
        }
        self.next_serial += 1;
        Ok(())
    }

    /// Deletes a port of `partition`, with the messages queued in it; the
    /// connections to it stay, useless.
    ///
    /// # Errors
    ///
    /// `HV_STATUS_INVALID_PORT_ID` if there is no such port.
    pub fn delete_port(&mut self, partition: PartitionRef, id: u32) -> Result<(), HvStatus> {
        let part = self
            .partition_mut(partition)
            .ok_or(HvStatus::INVALID_PARTITION_ID)?;
        let slot = part.port_slot(id).ok_or(HvStatus::INVALID_PORT_ID)?;
        let spec = part.ports[slot]
            .as_ref()
            .filter(|p| p.record.receiver == Receiver::Vp)
            .map(|p| p.record.spec);
        if let Some(spec) = spec
            && let Some(state) = part.vps.get_mut(spec.vp as usize)
        {
            state.queues[spec.sint.index()].remove_port(&mut part.ports, slot);
        }
        part.ports[slot] = None;
        self.withdraw_routes_to(partition, id);
        Ok(())
    }

    /// Withdraws the published event routes to port `id` of `partition`
    /// (as the connections name it) from every sender this [`Synic`]
    /// holds: the port was deleted. A kernel that keeps each partition in
    /// a [`Synic`] of its own calls it on every one, naming the port's
    /// partition as their connections do; a route left behind would send
    /// the fast path's signals to a port that no longer exists.
    pub fn withdraw_routes_to(&self, partition: PartitionRef, id: u32) {
        for sender in &self.partitions {
            sender
                .routes
                .remove_where(|route| route.partition == partition && route.port == id);
        }
    }

    /// Connects `sender`'s connection `spec.id` to port `spec.port` of
    /// `port_partition`.
    ///
    /// # Errors
    ///
    /// `HV_STATUS_INVALID_CONNECTION_ID` if the ID is taken or not a 24-bit
    /// ID; `HV_STATUS_INVALID_PORT_ID` if the port does not exist or is of
    /// another type.
    pub fn connect(
        &mut self,
        sender: PartitionRef,
        spec: ConnectSpec,
        port_partition: PartitionRef,
        owner: Owner,
    ) -> Result<(), HvStatus> {
        if !valid_id(spec.id) {
            return Err(HvStatus::INVALID_CONNECTION_ID);
        }
        let port = self
            .port(port_partition, spec.port)
            .ok_or(HvStatus::INVALID_PORT_ID)?;
        if port.receiver == Receiver::Component && sender != port_partition {
            return Err(HvStatus::INVALID_PORT_ID);
        }
        self.connect_to(sender, spec, port_partition, port, owner)
    }

    /// Port `id` of `partition`, if it exists.
    #[must_use]
    pub fn port(&self, partition: PartitionRef, id: u32) -> Option<PortRecord> {
        self.partition(partition)
            .and_then(|p| p.ports[p.port_slot(id)?].as_ref())
            .map(|entry| entry.record)
    }

    /// [`connect`](Self::connect) to `port` as another [`Synic`] holds it
    /// (a kernel with one `Synic` per partition): `port_partition` is how
    /// this one names that partition in its connection records. The
    /// caller refuses a component-owned port of another partition
    /// (`HV_STATUS_INVALID_PORT_ID`, as [`connect`](Self::connect) does).
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    pub fn connect_to(
        &mut self,
        sender: PartitionRef,
        spec: ConnectSpec,
        port_partition: PartitionRef,
        port: PortRecord,
        owner: Owner,
    ) -> Result<(), HvStatus> {
        if !valid_id(spec.id) {
            return Err(HvStatus::INVALID_CONNECTION_ID);
        }
        if port.spec.id != spec.port || port.spec.kind.port_type() != spec.port_type {
            return Err(HvStatus::INVALID_PORT_ID);
        }
        let part = self
            .partition_mut(sender)
            .ok_or(HvStatus::INVALID_PARTITION_ID)?;
        if part.connection(spec.id).is_some() {
            return Err(HvStatus::INVALID_CONNECTION_ID);
        }
        part.connections.push(ConnectionRecord {
            id: spec.id,
            port: PortAddress {
                partition: port_partition,
                id: port.spec.id,
                serial: port.serial,
            },
            port_type: spec.port_type,
            owner,
        });
        if let PortKind::Event {
            base_flag,
            flag_count,
        } = port.spec.kind
            && port.receiver == Receiver::Vp
        {
            // A component's port is never published: its signals take
            // the locked path, which rings the component. A full table leaves the connection on the slow path.
            let _ = part.routes.insert(
                spec.id,
                EventRoute {
                    partition: port_partition,
                    port: port.spec.id,
                    vp: port.spec.vp,
                    sint: port.spec.sint,
                    base_flag,
                    flag_count,
                    serial: port.serial,
                },
            );
        }
        Ok(())
    }

    /// Removes `sender`'s connection `id`. Messages it posted stay queued
    /// ("Breaking a connection will not affect undelivered (queued)
    /// messages").
    ///
    /// # Errors
    ///
    /// `HV_STATUS_INVALID_CONNECTION_ID` if there is no such connection.
    pub fn disconnect(&mut self, sender: PartitionRef, id: u32) -> Result<(), HvStatus> {
        let part = self
            .partition_mut(sender)
            .ok_or(HvStatus::INVALID_PARTITION_ID)?;
        let at = part
            .connections
            .iter()
            .position(|c| c.id == id)
            .ok_or(HvStatus::INVALID_CONNECTION_ID)?;
        part.connections.swap_remove(at);
        part.routes.remove(id);
        Ok(())
    }

    /// The port at `address` if it still exists: the same ID and the
    /// serial the connection saw.
    pub(super) fn live_port(&self, address: PortAddress) -> Result<PortRecord, HvStatus> {
        self.ports(address.partition)
            .find(|p| p.spec.id == address.id && p.serial == address.serial)
            .ok_or(HvStatus::INVALID_PORT_ID)
    }
}
