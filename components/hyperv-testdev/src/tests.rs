//! The device against the kernel's own model of ports (`tessera_synic`'s
//! `Synic`): kvm-unit-tests' `hyperv_connections` sequence through the
//! device, the echo ports, and writes it cannot honour.

use alloc::vec::Vec;
use std::vec;

use tessera_rt::vm::ports::{OwnedKind, Taken};
use tessera_rt::vm_exit::{Exit, ExitMessage, PartitionName};
use tessera_synic::pages::SynicPage;
use tessera_synic::ports::{ConnectSpec, PortKind, PortSpec};
use tessera_synic::registers::{RegisterPolicy, SynicMsr};
use tessera_synic::state::PortAddress;
use tessera_synic::state::inbox::{Arrival, Origin, Received};
use tessera_synic::timer::StimerPolicy;
use tessera_synic::{MemoryPages, Owner, PartitionPolicy, PartitionRef, Sint, Synic, SynicPages};
use tlfs::port::{HvInputConnectPort, HvInputCreatePort};
use tlfs::{HvMessageType, HvStatus};

use crate::{Device, PortKernel, TESTDEV_PORT};

const P: PartitionRef = PartitionRef(0);
const SLOT: u32 = 16;
const BADGE: u64 = 3;

struct Model {
    synic: Synic<MemoryPages>,
    doorbells: u32,
}

impl Model {
    fn new() -> Self {
        let mut config = tessera_hv1::Hv1Config::default();
        config.privileges = config.privileges.with_access_synic_regs(true);
        let policy = PartitionPolicy {
            registers: RegisterPolicy::from_config(&config, 1 << 20),
            timers: StimerPolicy::from_config(&config),
        };
        let mut synic = Synic::new();
        synic.add_partition(policy, vec![MemoryPages::default(), MemoryPages::default()]);
        for (msr, value) in [
            (SynicMsr::Simp, 0x10 << 12 | 1),
            (SynicMsr::Siefp, 0x11 << 12 | 1),
            (SynicMsr::Scontrol, 1),
            (SynicMsr::Sint(Sint::new(8).unwrap()), 0xB0),
            (SynicMsr::Sint(Sint::new(9).unwrap()), 0xB1),
            (SynicMsr::Sint(Sint::new(1).unwrap()), 0x61),
        ] {
            synic.write_synic(P, 0, msr, value, 0).unwrap();
        }
        Self {
            synic,
            doorbells: 0,
        }
    }

    fn status(result: Result<(), HvStatus>) -> Result<HvStatus, u64> {
        Ok(result.err().unwrap_or(HvStatus::SUCCESS))
    }

    fn address(&self, id: u32) -> Result<PortAddress, HvStatus> {
        let port = self.synic.port(P, id).ok_or(HvStatus::INVALID_PORT_ID)?;
        Ok(PortAddress {
            partition: P,
            id,
            serial: port.serial,
        })
    }
}

impl PortKernel for Model {
    fn create_port(&mut self, slot: u32, input: &HvInputCreatePort) -> Result<HvStatus, u64> {
        assert_eq!(slot, SLOT);
        Self::status(
            PortSpec::from_input(input)
                .and_then(|s| self.synic.create_port(P, s, Owner::TestDevice)),
        )
    }
    fn create_owned_port(
        &mut self,
        _: u32,
        id: u32,
        kind: OwnedKind,
        doorbell: u32,
    ) -> Result<HvStatus, u64> {
        assert!(doorbell >= 40, "a doorbell the device was given");
        let kind = match kind {
            OwnedKind::Message => PortKind::Message,
            OwnedKind::Event { count } => PortKind::Event {
                base_flag: 0,
                flag_count: count,
            },
        };
        Self::status(
            self.synic
                .create_component_port(P, id, kind, Owner::Component(1)),
        )
    }
    fn delete_port(&mut self, _: u32, id: u32) -> Result<HvStatus, u64> {
        Self::status(self.synic.delete_port(P, id))
    }
    fn connect(&mut self, _: u32, input: &HvInputConnectPort) -> Result<HvStatus, u64> {
        Self::status(
            ConnectSpec::from_input(input)
                .and_then(|spec| self.synic.connect(P, spec, P, Owner::TestDevice)),
        )
    }
    fn disconnect(&mut self, _: u32, id: u32) -> Result<HvStatus, u64> {
        Self::status(self.synic.disconnect(P, id))
    }
    fn receive(&mut self, _: u32, id: u32) -> Result<Result<Taken, HvStatus>, u64> {
        Ok(self.synic.receive(P, id).map(|received| match received {
            None => Taken::Nothing,
            Some(Received::Message(m)) => Taken::Message {
                message_type: m.message_type,
                payload: m.payload.to_vec(),
                connection: m.origin.connection,
            },
            Some(Received::Events(flags)) => Taken::Events(alloc::boxed::Box::new(flags)),
        }))
    }
    fn post(
        &mut self,
        _: u32,
        port: u32,
        kind: HvMessageType,
        payload: &[u8],
    ) -> Result<HvStatus, u64> {
        Self::status(
            self.address(port)
                .and_then(|a| self.synic.post_to_port(a, kind, payload, 0))
                .map(drop),
        )
    }
    fn signal(&mut self, _: u32, port: u32, flag: u16) -> Result<HvStatus, u64> {
        Self::status(
            self.address(port)
                .and_then(|a| self.synic.signal_port(a, flag))
                .map(drop),
        )
    }
    fn sint_route(&mut self, _: u32, vp: u32, sint: u32, action: u64) -> Result<HvStatus, u64> {
        let sint = Sint::new(sint).unwrap();
        let present = self.synic.sint_routes(P, vp) & 1 << sint.index() != 0;
        Self::status(match (action, present) {
            (1, false) => self.synic.set_sint_route(P, vp, sint, true),
            (0, true) => self.synic.set_sint_route(P, vp, sint, false),
            (2, true) => self.synic.assert_sint(P, vp, sint).map(drop),
            _ => Err(HvStatus::INVALID_PARAMETER),
        })
    }
    fn doorbell(&mut self, _: u64) -> Result<u32, u64> {
        self.doorbells += 1;
        Ok(39 + self.doorbells)
    }
}

fn message(exit: Exit) -> ExitMessage {
    ExitMessage::decode(&exit.encode(0), &[])
}

struct World {
    device: Device,
    model: Model,
}

impl World {
    fn new() -> Self {
        let mut world = Self {
            device: Device::new(),
            model: Model::new(),
        };
        let attach = Exit::PartitionAttach {
            name: PartitionName::new("device"),
        };
        let (_, unused) = world
            .device
            .exit(BADGE, &message(attach), Some(SLOT), &mut world.model);
        assert_eq!(unused, None);
        world
    }

    fn write(&mut self, conn: u32, op: u32, vp: u32, sint: u32) {
        let exit = Exit::IoPort {
            port: TESTDEV_PORT,
            size: 4,
            write: true,
            value: conn << 24 | op << 16 | vp << 8 | sint,
        };
        let (handled, _) = self
            .device
            .exit(BADGE, &message(exit), None, &mut self.model);
        // Every write completes: the guest moves past its OUT.
        let advance = tessera_rt::vm_exit::ExitReply::new().advance_rip();
        assert_eq!(handled.reply.actions(), advance.actions());
    }

    /// The guest's post or signal on `connection`, and the doorbell exit
    /// the kernel would send.
    fn guest(&mut self, connection: u32, post: Option<u64>) -> Result<(), HvStatus> {
        let address = self.model.synic.connection_target(P, connection)?;
        let arrival = match post {
            Some(payload) => {
                let origin = Origin {
                    partition: P,
                    connection,
                };
                let kind = HvMessageType(0x1234_5678);
                self.model
                    .synic
                    .post_from(origin, address, kind, &payload.to_le_bytes(), 0)?
            }
            None => self.model.synic.signal_from(address, 0)?,
        };
        if arrival == (Arrival::Component { ring: true }) {
            let exit = Exit::PortArrival { port: address.id };
            self.device
                .exit(BADGE, &message(exit), None, &mut self.model);
        }
        Ok(())
    }

    fn slot(&self, sint: u32) -> (u64, u64) {
        let pages = self.model.synic.pages(P, 0).unwrap();
        let at = 32 * sint as usize;
        let word = |i: usize| pages.load(SynicPage::Message, at + i);
        (word(0), word(2))
    }

    fn flags(&self, sint: u32) -> u64 {
        let pages = self.model.synic.pages(P, 0).unwrap();
        pages.load(SynicPage::EventFlags, 32 * sint as usize)
    }
}

#[test]
fn hyperv_connections_messages_come_back_through_the_component() {
    let mut world = World::new();
    world.write(0x10, 4, 0, 8);
    world.guest(0x10, Some(1)).unwrap();
    let (header, payload) = world.slot(8);
    assert_eq!(header & 0xFFFF_FFFF, 0x1234_5678);
    assert_eq!(payload, 1);
    // A busy slot: accepted, MessagePending.
    world.guest(0x10, Some(2)).unwrap();
    let (header, payload) = world.slot(8);
    assert_ne!(header & 1 << 40, 0, "MessagePending");
    assert_eq!(payload, 1);
    world.write(0x10, 5, 0, 0);
    assert_eq!(
        world.guest(0x10, Some(3)),
        Err(HvStatus::INVALID_CONNECTION_ID)
    );
    assert!(
        world
            .model
            .synic
            .port(P, crate::OWNED_MESSAGE_BASE | 0x10)
            .is_none()
    );
}

#[test]
fn hyperv_connections_events_set_flag_conn_id() {
    let mut world = World::new();
    world.write(0x20, 6, 0, 9);
    world.guest(0x20, None).unwrap();
    assert_eq!(world.flags(9), 1 << 0x20);
    world.write(0x20, 7, 0, 0);
    assert_eq!(
        world.guest(0x20, None),
        Err(HvStatus::INVALID_CONNECTION_ID)
    );
}

#[test]
fn writes_it_cannot_honour_change_nothing() {
    let mut world = World::new();
    world.write(0x10, 4, 0, 8);
    let ports: Vec<_> = world.model.synic.ports(P).collect();
    for (conn, op, vp, sint) in [
        (0x10, 4, 0, 8),  // a duplicate
        (0x11, 4, 7, 8),  // VP 7
        (0x12, 4, 0, 16), // SINT 16
        (0x33, 5, 0, 0),  // destroy of nothing
        (0x10, 7, 0, 0),  // destroy of the wrong kind
        (0, 2, 0, 3),     // a route that is not there
        (0, 3, 0, 3),
        (0, 0, 0, 0), // op 0
        (0, 8, 0, 0), // op 8
        (0, 1, 9, 1), // VP 9
    ] {
        world.write(conn, op, vp, sint);
    }
    assert_eq!(world.model.synic.ports(P).collect::<Vec<_>>(), ports);
    world.guest(0x10, Some(5)).unwrap();
    assert_eq!(world.slot(8).1, 5, "the first connection still works");
}

#[test]
fn sint_routes_raise_once_made() {
    let mut world = World::new();
    world.write(0, 1, 0, 1);
    assert_eq!(world.model.synic.sint_routes(P, 0), 1 << 1);
    world.write(0, 2, 0, 1);
    assert_eq!(world.model.synic.sint_routes(P, 0), 0);
}
