//! Messages and events between partitions (issue 14 items 2-4; TLFS md
//! `inter-partition-communication.md`, `hypercalls/HvCallPostMessage.md`,
//! `hypercalls/HvCallSignalEvent.md`): the kernel's side of ports and
//! connections.
//!
//! Each partition's `tessera_synic::Synic` holds the ports it receives
//! through and the connections it sends through; a connection names its
//! port's partition by the slot index of the kernel's partition table,
//! and the port by ID and serial (serials start at the partition slot's
//! generation, `create_synic`), so a connection to a partition that is
//! gone answers `HV_STATUS_INVALID_PORT_ID`, never a port of the
//! partition that took its slot. A post or a signal is the sender's half
//! (`Synic::connection_target`), then the receiver's
//! (`Synic::post_to_port`, `Synic::signal_port`), under the kernel lock
//! in the step that completes the hypercall: a message is queued exactly
//! when the guest is told `HV_STATUS_SUCCESS`, and nothing the kernel
//! accepted depends on a component afterwards.
//!
//! Both hypercalls are completed here when the partition has a SynIC and
//! no route takes their call code: the connections are the kernel's
//! (made by the partition's manager or another component through
//! `PartitionConnectPort`), so neither call leaves the kernel. A
//! component holding a partition's capability posts to and signals its
//! ports directly (`PartitionPostMessage`, `PartitionSignalEvent`).
use super::synic::ONLY;
use crate::state::Kernel;
use tessera_capability::{Badge, EndpointId, PartitionId, VpId};
use tessera_hv1::hypercall::{GuestMemory, Hypercall, ParamFailure};
use tessera_synic::hypercall::{self, PostMessage, SignalEvent};
use tessera_synic::ports::PortKind;
use tessera_synic::ports::{ConnectSpec, Owner, PartitionRef, PortSpec};
use tessera_synic::state::PortAddress;
use tessera_synic::state::inbox::{Arrival, Origin, Received};
use tlfs::port::{HvInputConnectPort, HvInputCreatePort};
use tlfs::{HvMessageType, HvStatus, HypercallCode};

/// A checked input of one of the two hypercalls.
#[derive(Clone, Copy, Debug)]
pub enum SynicCall {
    Post(PostMessage),
    Signal(SignalEvent),
}

/// Whether the kernel's SynIC completes call `code`.
pub fn is_synic_call(code: HypercallCode) -> bool {
    matches!(
        code,
        HypercallCode::POST_MESSAGE | HypercallCode::SIGNAL_EVENT
    )
}

/// Reads and checks the input block of a decoded `HvCallPostMessage` or
/// `HvCallSignalEvent` (reserved fields, message type, payload size:
/// `tessera_synic::hypercall`).
///
/// # Errors
///
/// The status that completes the call, or the memory intercept of an
/// input block the guest cannot give.
pub fn read_call(
    call: &Hypercall,
    memory: &(impl GuestMemory + ?Sized),
) -> Result<SynicCall, ParamFailure> {
    if call.code == HypercallCode::POST_MESSAGE {
        hypercall::post_message(call, memory).map(SynicCall::Post)
    } else {
        hypercall::signal_event(call, memory).map(SynicCall::Signal)
    }
}

/// Component-owned ports a partition may have: each holds up to 16
/// messages in the kernel.
pub const MAX_OWNED_PORTS: usize = 16;

/// Where a component-owned port rings: the endpoint and badge of the
/// capability its creator named, for the port with this ID and serial.
#[derive(Clone, Copy, Debug)]
pub struct Doorbell {
    pub port: u32,
    pub serial: u64,
    pub endpoint: EndpointId,
    pub badge: Option<Badge>,
}

/// A partition's doorbells.
pub type Doorbells = heapless::Vec<Doorbell, MAX_OWNED_PORTS>;

/// What a VP rings once its hypercall is complete.
#[derive(Clone, Copy, Debug)]
pub struct Ring {
    pub port: u32,
    pub route: super::Route,
}

/// `Ok(())` or the status, as one status.
fn status(result: Result<(), HvStatus>) -> HvStatus {
    result.err().unwrap_or(HvStatus::SUCCESS)
}

impl Kernel {
    /// Completes a guest's checked `HvCallPostMessage` or
    /// `HvCallSignalEvent` from `sender`: the status for RAX, and the
    /// doorbell to ring if the port is a component's that must be told.
    pub fn synic_call(
        &mut self,
        sender: PartitionId,
        call: &SynicCall,
    ) -> (HvStatus, Option<Ring>) {
        let arrival = match call {
            SynicCall::Post(post) => {
                self.connection_port(sender, post.connection)
                    .and_then(|(target, address)| {
                        let origin = Origin {
                            partition: PartitionRef(sender.index()),
                            connection: post.connection,
                        };
                        let (message_type, payload) = (post.message_type, post.payload());
                        self.post_to_port(target, address, Some(origin), message_type, payload)
                            .map(|arrival| (target, address, arrival))
                    })
            }
            SynicCall::Signal(signal) => {
                self.connection_port(sender, signal.connection)
                    .and_then(|(target, address)| {
                        self.signal_to(target, address, signal.flag, true)
                            .map(|arrival| (target, address, arrival))
                    })
            }
        };
        match arrival {
            Ok((target, address, Arrival::Component { ring: true })) => {
                (HvStatus::SUCCESS, self.doorbell(target, address))
            }
            Ok(_) => (HvStatus::SUCCESS, None),
            Err(status) => (status, None),
        }
    }

    /// The doorbell of the component-owned port at `address` of `target`.
    fn doorbell(&self, target: PartitionId, address: PortAddress) -> Option<Ring> {
        let partition = self.partitions.get(target)?;
        let bell = partition
            .port_doorbells
            .iter()
            .find(|bell| bell.port == address.id && bell.serial == address.serial)?;
        Some(Ring {
            port: bell.port,
            route: super::Route {
                kind: tessera_abi::vm::intercept::HYPERCALL,
                first: 0,
                last: 0,
                endpoint: bell.endpoint,
                badge: bell.badge,
                state: 0,
                // Counted under no route of the partition's.
                slot: usize::MAX,
                posted: None,
            },
        })
    }

    /// VP `vp`, its hypercall complete, tells a port's owner that
    /// something waits (`TESSERA_PORT_ARRIVAL`), and waits for the reply;
    /// the reply has nothing to apply and no instruction to move past.
    pub fn ring_doorbell(&mut self, cpu: usize, vp: VpId, ring: Ring) -> crate::sched::Keep {
        use super::forward::{Pending, PendingKind};
        let Some(record) = self.vps.get(vp) else {
            return crate::sched::Keep::Blocked;
        };
        let header = tessera_vcpu::exit_message::header(
            &record.vmcb,
            record.index,
            0,
            tlfs::intercept::HvInterceptAccessType::WRITE,
        );
        let exit = tessera_exit_protocol::Exit::PortArrival { port: ring.port };
        let pending = Pending::routed(&exit, PendingKind::Other, None);
        self.send_exit(cpu, vp, ring.route, &exit, &header, pending)
    }

    /// The port `sender`'s connection reaches: its partition and its
    /// address in that partition's `Synic`.
    fn connection_port(
        &self,
        sender: PartitionId,
        connection: u32,
    ) -> Result<(PartitionId, PortAddress), HvStatus> {
        let synic = self
            .synic_of(sender)
            .ok_or(HvStatus::INVALID_CONNECTION_ID)?;
        let address = synic.connection_target(ONLY, connection)?;
        // "The port belongs to a partition that is not in the active
        // state": the partition is gone, or going.
        let target = self
            .partitions
            .id_at(address.partition.0)
            .filter(|id| self.partitions.get(*id).is_some_and(|p| !p.destroyed))
            .ok_or(HvStatus::INVALID_PORT_ID)?;
        Ok((
            target,
            PortAddress {
                partition: ONLY,
                ..address
            },
        ))
    }

    /// The receiving half of a post: queued, delivered if the slot is
    /// free, its interrupt asserted.
    /// `origin`: the guest's connection (`None`: a component's post, which
    /// reaches only VPs' ports).
    fn post_to_port(
        &mut self,
        target: PartitionId,
        address: PortAddress,
        origin: Option<Origin>,
        message_type: HvMessageType,
        payload: &[u8],
    ) -> Result<Arrival, HvStatus> {
        let now = self.reference_now(target);
        let synic = self.synic_of_mut(target).ok_or(HvStatus::INVALID_PORT_ID)?;
        let arrival = match origin {
            Some(origin) => synic.post_from(origin, address, message_type, payload, now)?,
            None => Arrival::Guest(synic.post_to_port(address, message_type, payload, now)?),
        };
        if let Arrival::Guest(deliveries) = &arrival {
            self.deliver_synic(target, deliveries);
        }
        Ok(arrival)
    }

    /// The receiving half of a signal: the flag set, the SINT's interrupt
    /// asserted on a 0 → 1 change (`guest`: a guest's signal, which may
    /// reach a component's port; a component's reaches only VPs').
    fn signal_to(
        &mut self,
        target: PartitionId,
        address: PortAddress,
        flag: u16,
        guest: bool,
    ) -> Result<Arrival, HvStatus> {
        let synic = self.synic_of_mut(target).ok_or(HvStatus::INVALID_PORT_ID)?;
        let arrival = if guest {
            synic.signal_from(address, flag)?
        } else {
            Arrival::Guest(synic.signal_port(address, flag)?)
        };
        if let Arrival::Guest(deliveries) = &arrival {
            self.deliver_synic(target, deliveries);
        }
        Ok(arrival)
    }

    /// Port `id` of `partition`, as a connection or a component addresses
    /// it.
    fn port_of(&self, partition: PartitionId, id: u32) -> Result<PortAddress, HvStatus> {
        let synic = self.synic_of(partition).ok_or(HvStatus::INVALID_PORT_ID)?;
        let port = synic.port(ONLY, id).ok_or(HvStatus::INVALID_PORT_ID)?;
        Ok(PortAddress {
            partition: ONLY,
            id,
            serial: port.serial,
        })
    }

    /// `PartitionCreatePort`: `HvCallCreatePort` in `partition` (which
    /// receives through the port), the input checked by
    /// `PortSpec::from_input`.
    pub fn synic_create_port(
        &mut self,
        partition: PartitionId,
        input: &HvInputCreatePort,
        owner: Owner,
    ) -> Result<HvStatus, u64> {
        let synic = self.synic_or_refuse(partition)?;
        Ok(status(
            PortSpec::from_input(input).and_then(|spec| synic.create_port(ONLY, spec, owner)),
        ))
    }

    /// `PartitionDeletePort`: `HvCallDeletePort`, with the messages queued
    /// in the port ("Deletion of the target port will always free all of
    /// the port's message buffers"); the connections to it become useless.
    pub fn synic_delete_port(&mut self, partition: PartitionId, id: u32) -> Result<HvStatus, u64> {
        let synic = self.synic_or_refuse(partition)?;
        let deleted = synic.delete_port(ONLY, id);
        if deleted.is_ok() {
            if let Some(target) = self.partitions.get_mut(partition) {
                target.port_doorbells.retain(|bell| bell.port != id);
            }
            // The connections to it name its partition by slot index: their
            // published routes go too, in every sender (the lock-free
            // `HvSignalEvent` must not find them: `synic_fast.rs`).
            let named = tessera_synic::PartitionRef(partition.index());
            for (_, sender) in self.partitions.iter() {
                if let Some(synic) = sender.synic.as_ref() {
                    synic.withdraw_routes_to(named, id);
                }
            }
        }
        Ok(status(deleted))
    }

    /// `PartitionCreateOwnedPort`: a port of `partition` that the component
    /// serving `endpoint` receives through, rung with `badge`.
    pub fn synic_create_owned_port(
        &mut self,
        partition: PartitionId,
        id: u32,
        kind: PortKind,
        endpoint: EndpointId,
        badge: Option<Badge>,
        owner: Owner,
    ) -> Result<HvStatus, u64> {
        self.synic_or_refuse(partition)?;
        let full = self
            .partitions
            .get(partition)
            .is_none_or(|p| p.port_doorbells.is_full());
        if full {
            return Ok(HvStatus::INSUFFICIENT_MEMORY);
        }
        let synic = self.synic_or_refuse(partition)?;
        if let Err(refused) = synic.create_component_port(ONLY, id, kind, owner) {
            return Ok(refused);
        }
        let serial = synic.port(ONLY, id).map_or(0, |port| port.serial);
        if let Some(target) = self.partitions.get_mut(partition) {
            // Not full: checked above, under the same lock.
            let _ = target.port_doorbells.push(Doorbell {
                port: id,
                serial,
                endpoint,
                badge,
            });
        }
        Ok(HvStatus::SUCCESS)
    }

    /// `PartitionPortReceive`: what waits at component-owned port `id`.
    pub fn synic_receive(
        &mut self,
        partition: PartitionId,
        id: u32,
    ) -> Result<Result<Option<Received>, HvStatus>, u64> {
        let synic = self.synic_or_refuse(partition)?;
        Ok(synic.receive(ONLY, id))
    }

    /// `PartitionSintRoute`: a `hyperv-testdev` SINT route of VP `vp`.
    pub fn synic_sint_route(
        &mut self,
        partition: PartitionId,
        vp: u32,
        sint: u32,
        action: u64,
    ) -> Result<HvStatus, u64> {
        use tessera_abi::vm::sint_route;
        let synic = self.synic_or_refuse(partition)?;
        if vp >= synic.vp_count(ONLY) {
            return Ok(HvStatus::INVALID_VP_INDEX);
        }
        let Some(sint) = tessera_synic::Sint::new(sint) else {
            return Ok(HvStatus::INVALID_PARAMETER);
        };
        let present = synic.sint_routes(ONLY, vp) & 1 << sint.index() != 0;
        let done = match (action, present) {
            (sint_route::ADD, false) => synic.set_sint_route(ONLY, vp, sint, true).map(|()| None),
            (sint_route::REMOVE, true) => {
                synic.set_sint_route(ONLY, vp, sint, false).map(|()| None)
            }
            (sint_route::RAISE, true) => synic.assert_sint(ONLY, vp, sint).map(Some),
            _ => Err(HvStatus::INVALID_PARAMETER),
        };
        if let Ok(Some(deliveries)) = &done {
            self.deliver_synic(partition, deliveries);
        }
        Ok(status(done.map(drop)))
    }

    /// `PartitionConnectPort`: `HvCallConnectPort` from `sender` to a port
    /// of `port_partition` (either may be the other).
    pub fn synic_connect(
        &mut self,
        sender: PartitionId,
        port_partition: PartitionId,
        input: &HvInputConnectPort,
        owner: Owner,
    ) -> Result<HvStatus, u64> {
        self.synic_or_refuse(sender)?;
        self.synic_or_refuse(port_partition)?;
        let found = ConnectSpec::from_input(input).and_then(|spec| {
            let synic = self
                .synic_of(port_partition)
                .ok_or(HvStatus::INVALID_PORT_ID)?;
            let port = synic
                .port(ONLY, spec.port)
                .ok_or(HvStatus::INVALID_PORT_ID)?;
            Ok((spec, port))
        });
        let (spec, port) = match found {
            Ok(found) => found,
            Err(refused) => return Ok(refused),
        };
        // A component-owned port takes its own partition's connections
        // only: the doorbell's badge names the sender.
        if port.receiver == tessera_synic::ports::Receiver::Component && sender != port_partition {
            return Ok(HvStatus::INVALID_PORT_ID);
        }
        let remote = PartitionRef(port_partition.index());
        let synic = self.synic_or_refuse(sender)?;
        Ok(status(synic.connect_to(ONLY, spec, remote, port, owner)))
    }

    /// `PartitionDisconnectPort`: `HvCallDisconnectPort` ("Breaking a
    /// connection will not affect undelivered (queued) messages").
    pub fn synic_disconnect(&mut self, sender: PartitionId, id: u32) -> Result<HvStatus, u64> {
        let synic = self.synic_or_refuse(sender)?;
        Ok(status(synic.disconnect(ONLY, id)))
    }

    /// `PartitionPostMessage`: a component posts to port `id` of
    /// `partition`, as a connection to it would.
    pub fn synic_component_post(
        &mut self,
        partition: PartitionId,
        id: u32,
        message_type: HvMessageType,
        payload: &[u8],
    ) -> Result<HvStatus, u64> {
        self.synic_or_refuse(partition)?;
        Ok(status(self.port_of(partition, id).and_then(|address| {
            self.post_to_port(partition, address, None, message_type, payload)
                .map(drop)
        })))
    }

    /// `PartitionSignalEvent`: a component signals flag `flag` of event
    /// port `id` of `partition`.
    pub fn synic_component_signal(
        &mut self,
        partition: PartitionId,
        id: u32,
        flag: u16,
    ) -> Result<HvStatus, u64> {
        self.synic_or_refuse(partition)?;
        Ok(status(self.port_of(partition, id).and_then(|address| {
            self.signal_to(partition, address, flag, false).map(drop)
        })))
    }

    fn synic_or_refuse(
        &mut self,
        partition: PartitionId,
    ) -> Result<&mut super::synic::PartitionSynic, u64> {
        self.synic_of_mut(partition)
            .ok_or(tessera_abi::Status::NoSynic.code())
    }
}
