//! The traffic through ports and connections: `HvCallPostMessage` into a
//! port's queue, `HvCallSignalEvent` into a port's flags (through the
//! published route when there is one), and the `hyperv-testdev` SINT
//! routes.
//!
//! The statuses of the two hypercalls come from their pages' Return Values
//! (TLFS md `hypercalls/HvCallPostMessage.md`, `HvCallSignalEvent.md`); the
//! checks that need only the input block are made before any of this, in
//! [`crate::hypercall`].

use tlfs::message::{HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT, HvMessage};
use tlfs::{HvMessageType, HvStatus};

use super::inbox::{Arrival, Arrived, Origin, Received};
use super::{Deliveries, Delivery, PortAddress, Synic};
use crate::event::set_flag;
use crate::pages::SynicPages;
use crate::ports::{PartitionRef, PortKind, Receiver};
use crate::published::{EventRoute, Lookup};
use crate::sint::{Sint, signal};

impl<P: SynicPages> Synic<P> {
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
        check_message(message_type, payload)?;
        let address = self.connection_target(sender, connection)?;
        let origin = Origin {
            partition: sender,
            connection,
        };
        self.post_from(origin, address, message_type, payload, now)
            .map(Arrival::into_deliveries)
    }

    /// The port `sender`'s connection `connection` was made to: the
    /// sender's half of both hypercalls, for a kernel that keeps the
    /// sending and the receiving partition in different [`Synic`]s.
    ///
    /// # Errors
    ///
    /// `HV_STATUS_INVALID_CONNECTION_ID` if the sender has no such
    /// connection.
    pub fn connection_target(
        &self,
        sender: PartitionRef,
        connection: u32,
    ) -> Result<PortAddress, HvStatus> {
        self.partition(sender)
            .and_then(|p| p.connection(connection))
            .map(|record| record.port)
            .ok_or(HvStatus::INVALID_CONNECTION_ID)
    }

    /// The receiving half of `HvCallPostMessage`: queues the message for
    /// the port at `address` (a port of this [`Synic`], with the serial
    /// the connection saw) and delivers it if the slot is free. A
    /// component posts only to ports of VPs: a component-owned port is
    /// `HV_STATUS_INVALID_PORT_ID` here.
    ///
    /// # Errors
    ///
    /// Those of [`post_message`](Self::post_message) but
    /// `HV_STATUS_INVALID_CONNECTION_ID`.
    pub fn post_to_port(
        &mut self,
        address: PortAddress,
        message_type: HvMessageType,
        payload: &[u8],
        now: u64,
    ) -> Result<Deliveries, HvStatus> {
        self.post_at(None, address, message_type, payload, now)
            .map(Arrival::into_deliveries)
    }

    /// The receiving half of a guest's `HvCallPostMessage` on `origin`'s
    /// connection: into the port's VP and SINT, or into the inbox of the
    /// component that owns the port ([`inbox`](super::inbox)).
    ///
    /// # Errors
    ///
    /// Those of [`post_to_port`](Self::post_to_port);
    /// `HV_STATUS_INSUFFICIENT_BUFFERS` when a component-owned port holds
    /// 16 messages.
    pub fn post_from(
        &mut self,
        origin: Origin,
        address: PortAddress,
        message_type: HvMessageType,
        payload: &[u8],
        now: u64,
    ) -> Result<Arrival, HvStatus> {
        self.post_at(Some(origin), address, message_type, payload, now)
    }

    fn post_at(
        &mut self,
        origin: Option<Origin>,
        address: PortAddress,
        message_type: HvMessageType,
        payload: &[u8],
        now: u64,
    ) -> Result<Arrival, HvStatus> {
        check_message(message_type, payload)?;
        let target = address.partition;
        let port = self.live_port(address)?;
        if port.spec.kind != PortKind::Message {
            return Err(HvStatus::INVALID_PORT_ID);
        }
        let part = self
            .partition_mut(target)
            .ok_or(HvStatus::INVALID_PORT_ID)?;
        let slot = part
            .port_slot(port.spec.id)
            .ok_or(HvStatus::INVALID_PORT_ID)?;
        if port.receiver == Receiver::Component {
            let (Some(origin), Some(inbox)) = (origin, part.inbox_mut(slot)) else {
                return Err(HvStatus::INVALID_PORT_ID);
            };
            let ring = inbox.post(Arrived {
                origin,
                message_type,
                payload: heapless::Vec::from_slice(payload)
                    .map_err(|()| HvStatus::INVALID_PARAMETER)?,
            })?;
            return Ok(Arrival::Component { ring });
        }
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
        Ok(Arrival::Guest(out))
    }

    /// What waits at component-owned port `id` of `partition`: the oldest
    /// message, else the flags signalled since the last take; `None`
    /// (which arms the port's doorbell again) when nothing does.
    ///
    /// # Errors
    ///
    /// `HV_STATUS_INVALID_PORT_ID` if `partition` has no such port or the
    /// port is a VP's.
    pub fn receive(
        &mut self,
        partition: PartitionRef,
        id: u32,
    ) -> Result<Option<Received>, HvStatus> {
        let part = self
            .partition_mut(partition)
            .ok_or(HvStatus::INVALID_PORT_ID)?;
        let slot = part.port_slot(id).ok_or(HvStatus::INVALID_PORT_ID)?;
        Ok(part
            .inbox_mut(slot)
            .ok_or(HvStatus::INVALID_PORT_ID)?
            .take())
    }

    /// The receiving half of `HvCallSignalEvent`: flag `flag` (relative
    /// to the port's base) of the event port of a VP at `address` (a
    /// component-owned port is `HV_STATUS_INVALID_PORT_ID` here: a
    /// component signals only VPs).
    ///
    /// # Errors
    ///
    /// Those of [`signal_event`](Self::signal_event) but
    /// `HV_STATUS_INVALID_CONNECTION_ID`.
    pub fn signal_port(&mut self, address: PortAddress, flag: u16) -> Result<Deliveries, HvStatus> {
        if self.live_port(address)?.receiver == Receiver::Component {
            return Err(HvStatus::INVALID_PORT_ID);
        }
        self.signal_from(address, flag)
            .map(Arrival::into_deliveries)
    }

    /// The receiving half of a guest's `HvCallSignalEvent`: flag `flag` of
    /// the port at `address`, in its VP's SIEF page or pending for the
    /// component that owns it (which is rung when the flag goes 0 → 1).
    ///
    /// # Errors
    ///
    /// Those of [`signal_port`](Self::signal_port).
    pub fn signal_from(&mut self, address: PortAddress, flag: u16) -> Result<Arrival, HvStatus> {
        let port = self.live_port(address)?;
        let PortKind::Event {
            base_flag,
            flag_count,
        } = port.spec.kind
        else {
            return Err(HvStatus::INVALID_PORT_ID);
        };
        if port.receiver == Receiver::Component {
            if flag >= flag_count {
                return Err(HvStatus::INVALID_PARAMETER);
            }
            let inbox = self
                .partition_mut(address.partition)
                .and_then(|part| {
                    let slot = part.port_slot(port.spec.id)?;
                    part.inbox_mut(slot)
                })
                .ok_or(HvStatus::INVALID_PORT_ID)?;
            return Ok(Arrival::Component {
                ring: inbox.signal(flag),
            });
        }
        self.signal_route(
            EventRoute {
                partition: address.partition,
                port: port.spec.id,
                vp: port.spec.vp,
                sint: port.spec.sint,
                base_flag,
                flag_count,
                serial: port.serial,
            },
            flag,
        )
        .map(Arrival::Guest)
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
        let address = self.connection_target(sender, connection)?;
        self.signal_from(address, flag)
            .map(Arrival::into_deliveries)
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

/// The checks of a message that need nothing but the message: "any 32-bit
/// message type whose most significant bit is cleared, with the exception
/// of zero", and at most 240 bytes of payload (TLFS md
/// `hypercalls/HvCallPostMessage.md`; the hypercall layer refuses them
/// first, a component's post meets them here).
fn check_message(message_type: HvMessageType, payload: &[u8]) -> Result<(), HvStatus> {
    if message_type.0 == 0
        || message_type.is_hypervisor()
        || payload.len() > HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT
    {
        return Err(HvStatus::INVALID_PARAMETER);
    }
    Ok(())
}
