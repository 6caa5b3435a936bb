//! The `hyperv-testdev` protocol end to end: the sequences kvm-unit-tests'
//! `hyperv_synic` and `hyperv_connections` drive on QEMU, on two VPs.

mod common;

use common::{World, s};
use tessera_synic::Owner;
use tessera_synic::testdev::{event_port_id, message_port_id};
use tlfs::HvStatus;
use tlfs::msr as m;

const MSG_SINT: u32 = 8;
const EVT_SINT: u32 = 9;
const MSG_VEC: u8 = 0xB0;
const EVT_VEC: u8 = 0xB1;
const MSG_CONN_BASE: u32 = 0x10;
const EVT_CONN_BASE: u32 = 0x20;

fn write(connection: u32, op: u32, vp: u32, sint: u32) -> u32 {
    connection << 24 | op << 16 | vp << 8 | sint
}

/// Each VP: SynIC on, its message and event connections created through
/// the device, as `hyperv_connections`' `setup_cpu` does.
fn connections_world() -> World {
    let mut world = World::new(2);
    for vp in 0..2 {
        world.enable(vp);
        world.unmask(vp, MSG_SINT, MSG_VEC);
        world.unmask(vp, EVT_SINT, EVT_VEC);
        assert!(world.testdev(write(MSG_CONN_BASE + vp, 4, vp, MSG_SINT)));
        assert!(world.testdev(write(EVT_CONN_BASE + vp, 6, vp, EVT_SINT)));
    }
    world
}

#[test]
fn sint_routes_raise_their_vector() {
    // hyperv_synic: a route per SINT, then SET_SINT raises the vector.
    let mut world = World::new(2);
    for vp in 0..2 {
        world.enable(vp);
        for sint in 0..16 {
            assert!(world.testdev(write(0, 1, vp, sint)));
            world.unmask(vp, sint, 0x40 + sint as u8);
        }
    }
    world.drain_interrupts();
    assert!(world.testdev(write(0, 3, 1, 7)));
    assert_eq!(world.drain_interrupts(), vec![(1, 0x47)]);
    // Masked: nothing; a route destroyed: the write is refused.
    world.wrmsr(1, m::HV_X64_MSR_SINT0 + 7, 0x1_0047).unwrap();
    assert!(world.testdev(write(0, 3, 1, 7)));
    assert!(world.drain_interrupts().is_empty());
    assert!(world.testdev(write(0, 2, 1, 7)));
    assert!(!world.testdev(write(0, 3, 1, 7)));
    assert_eq!(world.synic.sint_routes(world.partition, 1), 0xFF7F);
}

#[test]
fn send_message_to_self_and_other() {
    let mut world = connections_world();
    world.drain_interrupts();
    // Each VP posts on its destination's connection (the device echoes it
    // into that VP's MSG_SINT slot).
    for (vp, dst) in [(0_u32, 0_u32), (1, 1), (0, 1), (1, 0)] {
        let payload = (u64::from(vp) << 16 | u64::from(dst)).to_le_bytes();
        assert_eq!(
            world.post(MSG_CONN_BASE + dst, 0x1234_5678, &payload),
            HvStatus::SUCCESS
        );
        assert_eq!(world.drain_interrupts(), vec![(dst, MSG_VEC)]);
        let message = world.take(dst, MSG_SINT).unwrap();
        assert_eq!(message.header.message_type.0, 0x1234_5678);
        assert_eq!(message.header.payload_size, 8);
        assert_eq!(&message.payload_bytes()[..8], &payload);
        assert!(!message.header.message_flags.message_pending());
    }
}

#[test]
fn busy_slot_then_pending_message() {
    let mut world = connections_world();
    assert_eq!(world.post(MSG_CONN_BASE + 1, 1, &[1]), HvStatus::SUCCESS);
    world.drain_interrupts();
    // "send message to busy slot": accepted, no interrupt, the slot keeps
    // the first message with MessagePending set.
    assert_eq!(world.post(MSG_CONN_BASE + 1, 1, &[2]), HvStatus::SUCCESS);
    assert!(world.drain_interrupts().is_empty());
    let held = world
        .synic
        .pages(world.partition, 1)
        .unwrap()
        .message(s(MSG_SINT));
    assert_eq!(held.payload_bytes()[0], 1);
    assert!(held.header.message_flags.message_pending());
    // "receive pending message": clearing the slot and EOM delivers it.
    assert_eq!(world.take(1, MSG_SINT).unwrap().payload_bytes()[0], 1);
    assert_eq!(world.drain_interrupts(), vec![(1, MSG_VEC)]);
    let second = world.take(1, MSG_SINT).unwrap();
    assert_eq!(second.payload_bytes()[0], 2);
    assert!(!second.header.message_flags.message_pending());
}

#[test]
fn events_on_self_other_and_already_set() {
    let mut world = connections_world();
    world.drain_interrupts();
    for dst in 0..2 {
        let connection = EVT_CONN_BASE + dst;
        assert_eq!(world.signal(connection, 0), HvStatus::SUCCESS);
        assert_eq!(world.drain_interrupts(), vec![(dst, EVT_VEC)]);
        let flags = world
            .synic
            .pages(world.partition, dst)
            .unwrap()
            .event_flags(s(EVT_SINT));
        // The device sets the flag numbered by the connection ID.
        assert_eq!(flags.flag(connection as usize), Some(true));
        assert_eq!(flags.flags.iter().map(|b| b.count_ones()).sum::<u32>(), 1);
        // "signal event already set": success, no interrupt.
        assert_eq!(world.signal(connection, 0), HvStatus::SUCCESS);
        assert!(world.drain_interrupts().is_empty());
        // Only flag number 0 exists on a device connection.
        assert_eq!(world.signal(connection, 1), HvStatus::INVALID_PARAMETER);
    }
}

#[test]
fn teardown_and_repetition() {
    let mut world = connections_world();
    let p = world.partition;
    // Creating again changes nothing (a restarted component handles the
    // guest's write again).
    let ports_before: Vec<_> = world.synic.ports(p).collect();
    assert!(world.testdev(write(MSG_CONN_BASE, 4, 0, MSG_SINT)));
    assert_eq!(world.synic.ports(p).collect::<Vec<_>>(), ports_before);
    for vp in 0..2 {
        assert!(world.testdev(write(EVT_CONN_BASE + vp, 7, vp, EVT_SINT)));
        assert!(world.testdev(write(MSG_CONN_BASE + vp, 5, vp, MSG_SINT)));
    }
    assert_eq!(world.synic.ports(p).count(), 0);
    assert!(world.synic.connections(p).is_empty());
    assert_eq!(
        world.post(MSG_CONN_BASE, 1, b""),
        HvStatus::INVALID_CONNECTION_ID
    );
    assert_eq!(
        world.signal(EVT_CONN_BASE, 0),
        HvStatus::INVALID_CONNECTION_ID
    );
    // Destroying what is gone is a no-op.
    assert!(world.testdev(write(MSG_CONN_BASE, 5, 0, 0)));
}

#[test]
fn the_device_never_touches_other_owners() {
    let mut world = connections_world();
    let p = world.partition;
    // A connection of the manifest with an ID the device would use: the
    // device's destroy leaves it.
    world.testdev(write(0x30, 5, 0, 0));
    let spec = tessera_synic::ports::ConnectSpec {
        id: 0x30,
        port: message_port_id(MSG_CONN_BASE),
        port_type: tlfs::synic::HvPortType::MESSAGE,
    };
    world.synic.connect(p, spec, p, Owner::Manifest).unwrap();
    assert!(world.testdev(write(0x30, 5, 0, 0)));
    assert!(world.synic.connections(p).iter().any(|c| c.id == 0x30));
    assert!(
        world
            .synic
            .ports(p)
            .any(|port| port.spec.id == event_port_id(EVT_CONN_BASE))
    );
}

#[test]
fn ignored_writes() {
    let mut world = World::new(1);
    assert!(!world.testdev(write(0, 0, 0, 0)));
    assert!(!world.testdev(write(0, 9, 0, 0)));
    assert!(!world.testdev(write(0, 1, 0, 16)));
    // A VP the partition does not have: nothing is created.
    assert!(!world.testdev(write(1, 4, 5, 1)));
    assert!(world.synic.connections(world.partition).is_empty());
    assert_eq!(world.synic.ports(world.partition).count(), 0);
}
