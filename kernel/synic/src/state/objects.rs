//! Ports, connections and the traffic through them: creating and removing
//! them, `HvCallPostMessage` into a port's queue, `HvCallSignalEvent` into a
//! port's flags (through the published route when there is one), and the
//! `hyperv-testdev` SINT routes.
//!
//! The statuses of the two hypercalls come from their pages' Return Values
//! (TLFS md `hypercalls/HvCallPostMessage.md`, `HvCallSignalEvent.md`); the
//! checks that need only the input block are made before any of this, in
//! [`crate::hypercall`].

use tlfs::message::{HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT, HvMessage};
use tlfs::synic::HvPortType;
use tlfs::{HvMessageType, HvStatus};

use super::messages::MessagePool;
use super::{Deliveries, Delivery, PartitionState, Synic};
use crate::event::set_flag;
use crate::pages::SynicPages;
use crate::ports::{ConnectSpec, Owner, PartitionRef, PortKind, PortSpec, valid_id};
use crate::published::{EventRoute, Lookup};
use crate::sint::{Sint, signal};

/// A port in the kernel's table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PortEntry {
    pub record: PortRecord,
    /// Message ports: the buffers.
    pub pool: Option<MessagePool>,
}

/// A port as the kernel holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRecord {
    /// What it is.
    pub spec: PortSpec,
    /// Who created it.
    pub owner: Owner,
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
    fn port_slot(&self, id: u32) -> Option<usize> {
        self.ports
            .iter()
            .position(|p| p.as_ref().is_some_and(|p| p.record.spec.id == id))
    }

    fn connection(&self, id: u32) -> Option<ConnectionRecord> {
        self.connections.iter().find(|c| c.id == id).copied()
    }
}

impl<P: SynicPages> Synic<P> {
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
        let serial = self.next_serial;
        let part = self
            .partition_mut(partition)
            .ok_or(HvStatus::INVALID_PARTITION_ID)?;
        spec.check(part.vps.len() as u32)?;
        if part.port_slot(spec.id).is_some() {
            return Err(HvStatus::INVALID_PORT_ID);
        }
        let entry = PortEntry {
            record: PortRecord {
                spec,
                owner,
                serial,
            },
            pool: matches!(spec.kind, PortKind::Message).then(MessagePool::default),
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
        let spec = part.ports[slot].as_ref().map(|p| p.record.spec);
        if let Some(spec) = spec
            && let Some(state) = part.vps.get_mut(spec.vp as usize)
        {
            state.queues[spec.sint.index()].remove_port(&mut part.ports, slot);
        }
        part.ports[slot] = None;
        for sender in &self.partitions {
            sender
                .routes
                .remove_where(|route| route.partition == partition && route.port == id);
        }
        Ok(())
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
            .partition(port_partition)
            .and_then(|p| p.ports[p.port_slot(spec.port)?].as_ref())
            .map(|entry| entry.record)
            .ok_or(HvStatus::INVALID_PORT_ID)?;
        if port.spec.kind.port_type() != spec.port_type {
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
        {
            // A full table leaves the connection on the slow path.
            let _ = part.routes.insert(
                spec.id,
                EventRoute {
                    partition: port_partition,
                    port: port.spec.id,
                    vp: port.spec.vp,
                    sint: port.spec.sint,
                    base_flag,
                    flag_count,
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

    /// The live port a connection reaches, if it still exists.
    fn resolve(&self, sender: PartitionRef, connection: u32) -> Result<PortRecord, HvStatus> {
        let record = self
            .partition(sender)
            .and_then(|p| p.connection(connection))
            .ok_or(HvStatus::INVALID_CONNECTION_ID)?;
        self.ports(record.port.partition)
            .find(|p| p.spec.id == record.port.id && p.serial == record.port.serial)
            .ok_or(HvStatus::INVALID_PORT_ID)
    }

    /// `HvCallPostMessage` by `sender` on `connection`: queues the message
    /// for the port's VP and SINT and delivers it if the slot is free.
    ///
    /// # Errors
    ///
    /// `HV_STATUS_INVALID_PARAMETER` (type zero or with its high bit set,
    /// payload over 240 bytes: the hypercall layer already refused those);
    /// `HV_STATUS_INVALID_CONNECTION_ID`; `HV_STATUS_INVALID_PORT_ID` (the
    /// port was deleted or is not a message port);
    /// `HV_STATUS_INVALID_VP_INDEX`; `HV_STATUS_INVALID_SYNIC_STATE` (the
    /// target's SynIC or SIM page is disabled);
    /// `HV_STATUS_INSUFFICIENT_BUFFERS` (the port's 16 buffers are in use).
    pub fn post_message(
        &mut self,
        sender: PartitionRef,
        connection: u32,
        message_type: HvMessageType,
        payload: &[u8],
        now: u64,
    ) -> Result<Deliveries, HvStatus> {
        if message_type.0 == 0
            || message_type.is_hypervisor()
            || payload.len() > HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT
        {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        let port = self.resolve(sender, connection)?;
        if port.spec.kind != PortKind::Message {
            return Err(HvStatus::INVALID_PORT_ID);
        }
        let target = self.resolve_partition(sender, connection)?;
        let part = self
            .partition_mut(target)
            .ok_or(HvStatus::INVALID_PORT_ID)?;
        let slot = part
            .port_slot(port.spec.id)
            .ok_or(HvStatus::INVALID_PORT_ID)?;
        let vp = port.spec.vp as usize;
        let state = part.vps.get_mut(vp).ok_or(HvStatus::INVALID_VP_INDEX)?;
        if !state.registers.messages_enabled() {
            return Err(HvStatus::INVALID_SYNIC_STATE);
        }
        let mut message = HvMessage::default();
        message.header.message_type = message_type;
        message.header.payload_size = payload.len() as u8;
        // The origination union carries the receiving port (tlfs
        // `HvMessageHeader`): it tells ports that share a SINT apart.
        message.header.origination_id = u64::from(port.spec.id);
        message.payload_bytes_mut()[..payload.len()].copy_from_slice(payload);
        state.queues[port.spec.sint.index()].push(&mut part.ports, slot, message)?;
        let mut out = Deliveries::new();
        if let Some(delivery) = part.pump(target, vp, port.spec.sint, now) {
            let _ = out.push(delivery);
        }
        Ok(out)
    }

    fn resolve_partition(
        &self,
        sender: PartitionRef,
        connection: u32,
    ) -> Result<PartitionRef, HvStatus> {
        self.partition(sender)
            .and_then(|p| p.connection(connection))
            .map(|c| c.port.partition)
            .ok_or(HvStatus::INVALID_CONNECTION_ID)
    }

    /// `HvCallSignalEvent` through the published routes only: the kernel's
    /// lock-free fast path. `None` when the connection is not published
    /// (or the table was contended): take [`signal_event`](Self::signal_event).
    pub fn signal_event_fast(
        &mut self,
        sender: PartitionRef,
        connection: u32,
        flag: u16,
    ) -> Option<Result<Deliveries, HvStatus>> {
        match self.partition(sender)?.routes.lookup(connection) {
            Lookup::Found(route) => Some(self.signal_route(route, flag)),
            Lookup::Absent | Lookup::Contended => None,
        }
    }

    /// `HvCallSignalEvent` by `sender` on `connection` with the caller's
    /// relative flag number `flag`.
    ///
    /// # Errors
    ///
    /// `HV_STATUS_INVALID_CONNECTION_ID`; `HV_STATUS_INVALID_PORT_ID` (the
    /// port was deleted or is not an event port);
    /// `HV_STATUS_INVALID_PARAMETER` ("The specified flag number is greater
    /// than or equal to the port's flag count"); `HV_STATUS_INVALID_VP_INDEX`;
    /// `HV_STATUS_INVALID_SYNIC_STATE` (see [`set_flag`]).
    pub fn signal_event(
        &mut self,
        sender: PartitionRef,
        connection: u32,
        flag: u16,
    ) -> Result<Deliveries, HvStatus> {
        if let Some(result) = self.signal_event_fast(sender, connection, flag) {
            return result;
        }
        let port = self.resolve(sender, connection)?;
        let PortKind::Event {
            base_flag,
            flag_count,
        } = port.spec.kind
        else {
            return Err(HvStatus::INVALID_PORT_ID);
        };
        let partition = self.resolve_partition(sender, connection)?;
        self.signal_route(
            EventRoute {
                partition,
                port: port.spec.id,
                vp: port.spec.vp,
                sint: port.spec.sint,
                base_flag,
                flag_count,
            },
            flag,
        )
    }

    fn signal_route(&mut self, route: EventRoute, flag: u16) -> Result<Deliveries, HvStatus> {
        if flag >= route.flag_count {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        let state = self
            .partition_mut(route.partition)
            .and_then(|p| p.vps.get_mut(route.vp as usize))
            .ok_or(HvStatus::INVALID_VP_INDEX)?;
        let set = set_flag(
            &mut state.pages,
            &state.registers,
            route.sint,
            route.base_flag.saturating_add(flag),
        )?;
        let mut out = Deliveries::new();
        if let Some(interrupt) = set.interrupt {
            let _ = out.push(Delivery {
                partition: route.partition,
                vp: route.vp,
                interrupt,
            });
        }
        Ok(out)
    }

    /// Adds or removes a `hyperv-testdev` SINT route.
    ///
    /// # Errors
    ///
    /// `HV_STATUS_INVALID_VP_INDEX` for a VP that does not exist.
    pub fn set_sint_route(
        &mut self,
        partition: PartitionRef,
        vp: u32,
        sint: Sint,
        present: bool,
    ) -> Result<(), HvStatus> {
        let state = self
            .partition_mut(partition)
            .and_then(|p| p.vps.get_mut(vp as usize))
            .ok_or(HvStatus::INVALID_VP_INDEX)?;
        let bit = 1 << sint.index();
        if present {
            state.sint_routes |= bit;
        } else {
            state.sint_routes &= !bit;
        }
        Ok(())
    }

    /// The `hyperv-testdev` routes of a VP (bit n: SINT n).
    #[must_use]
    pub fn sint_routes(&self, partition: PartitionRef, vp: u32) -> u16 {
        self.partition(partition)
            .and_then(|p| p.vps.get(vp as usize))
            .map_or(0, |state| state.sint_routes)
    }

    /// Raises a SINT through its `hyperv-testdev` route: its interrupt, if
    /// the SINT is unmasked, not polled and the SynIC enabled.
    ///
    /// # Errors
    ///
    /// `HV_STATUS_INVALID_VP_INDEX` for a VP that does not exist;
    /// `HV_STATUS_INVALID_PARAMETER` for a SINT without a route.
    pub fn assert_sint(
        &mut self,
        partition: PartitionRef,
        vp: u32,
        sint: Sint,
    ) -> Result<Deliveries, HvStatus> {
        let state = self
            .partition(partition)
            .and_then(|p| p.vps.get(vp as usize))
            .ok_or(HvStatus::INVALID_VP_INDEX)?;
        if state.sint_routes & 1 << sint.index() == 0 {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        let mut out = Deliveries::new();
        if let Some(interrupt) =
            signal(state.registers.scontrol, state.registers.sint(sint)).interrupt()
        {
            let _ = out.push(Delivery {
                partition,
                vp,
                interrupt,
            });
        }
        Ok(out)
    }
}
