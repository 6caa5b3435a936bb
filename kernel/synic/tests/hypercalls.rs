//! Every status of `HvCallPostMessage` (TLFS md
//! `hypercalls/HvCallPostMessage.md`, and the common statuses of
//! `hypercall-interface.md`), through the whole path: `tessera_hv1::decode`,
//! the component's input checks, the kernel's call; and traffic between
//! partitions.

mod common;

use common::ports::{
    EVENT_CONNECTION, EVENT_PORT, MESSAGE_CONNECTION, MESSAGE_PORT, SINT_MESSAGES, world,
};
use common::{INPUT_GPA, UNMAPPED_GPA, hypercall_policy, post_input, s};
use tessera_synic::ports::{ConnectSpec, PortKind, PortSpec};
use tessera_synic::{Owner, PartitionRef};
use tlfs::msr as m;
use tlfs::privilege::HvPartitionPrivilegeMask;
use tlfs::synic::HvPortType;
use tlfs::{HvStatus, HypercallCode, HypercallInputValue};

fn post_control() -> u64 {
    HypercallInputValue::new()
        .with_call_code(HypercallCode::POST_MESSAGE)
        .into_bits()
}

#[test]
fn post_message_success_delivers() {
    let mut world = world();
    assert_eq!(
        world.post(MESSAGE_CONNECTION, 0x77, b"ping"),
        HvStatus::SUCCESS
    );
    assert_eq!(world.drain_interrupts(), vec![(1, 0x50)]);
    let message = world.take(1, SINT_MESSAGES).unwrap();
    assert_eq!(message.header.message_type.0, 0x77);
    assert_eq!(message.header.payload_size, 4);
    assert_eq!(&message.payload_bytes()[..4], b"ping");
    assert_eq!(message.header.port().id(), MESSAGE_PORT);
    assert!(!message.header.message_flags.message_pending());
}

#[test]
fn post_message_access_denied() {
    let mut world = world();
    world.hypercalls = hypercall_policy(
        HvPartitionPrivilegeMask::new()
            .with_access_hypercall_msrs(true)
            .with_signal_events(true),
    );
    assert_eq!(
        world.post(MESSAGE_CONNECTION, 1, b""),
        HvStatus::ACCESS_DENIED
    );
    // ACCESS_DENIED comes before the input is looked at.
    assert_eq!(world.post(0xFF00_0000, 0, b""), HvStatus::ACCESS_DENIED);
}

#[test]
fn post_message_hypercall_input() {
    let mut world = world();
    let mut reserved = post_input(MESSAGE_CONNECTION, 1, b"");
    reserved.rsvd_z = 1;
    assert_eq!(
        world.post_raw(&reserved),
        Ok(HvStatus::INVALID_HYPERCALL_INPUT)
    );
    // ConnectionId bits 31:24.
    assert_eq!(
        world.post(MESSAGE_CONNECTION | 0x0100_0000, 1, b""),
        HvStatus::INVALID_HYPERCALL_INPUT
    );
    // The input value's own rules: a rep count on a simple call; fast
    // (256 bytes do not fit the registers).
    let rep = HypercallInputValue::from_bits(post_control()).with_rep_count(1);
    assert_eq!(
        world.hypercall(rep.into_bits(), INPUT_GPA, 0),
        Ok(HvStatus::INVALID_HYPERCALL_INPUT)
    );
    let fast = HypercallInputValue::from_bits(post_control()).with_fast(true);
    assert_eq!(
        world.hypercall(fast.into_bits(), INPUT_GPA, 0),
        Ok(HvStatus::INVALID_HYPERCALL_INPUT)
    );
}

#[test]
fn post_message_alignment_and_memory() {
    let mut world = world();
    assert_eq!(
        world.hypercall(post_control(), INPUT_GPA + 4, 0),
        Ok(HvStatus::INVALID_ALIGNMENT)
    );
    // 256 bytes from 0xF08 cross the page.
    assert_eq!(
        world.hypercall(post_control(), INPUT_GPA + 0xF08, 0),
        Ok(HvStatus::INVALID_ALIGNMENT)
    );
    // Outside the GPA space.
    assert_eq!(
        world.hypercall(post_control(), 1 << 40, 0),
        Ok(HvStatus::INVALID_ALIGNMENT)
    );
    // Inside, unmapped: a memory intercept, no status.
    assert_eq!(
        world.hypercall(post_control(), UNMAPPED_GPA, 0),
        Err(format!("intercept {UNMAPPED_GPA:#x}"))
    );
}

#[test]
fn post_message_invalid_parameter() {
    let mut world = world();
    assert_eq!(
        world.post(MESSAGE_CONNECTION, 0, b"x"),
        HvStatus::INVALID_PARAMETER
    );
    assert_eq!(
        world.post(MESSAGE_CONNECTION, 0x8000_0001, b"x"),
        HvStatus::INVALID_PARAMETER
    );
    let mut big = post_input(MESSAGE_CONNECTION, 1, b"");
    big.payload_size = 241;
    assert_eq!(world.post_raw(&big), Ok(HvStatus::INVALID_PARAMETER));
    big.payload_size = 240;
    assert_eq!(world.post_raw(&big), Ok(HvStatus::SUCCESS));
}

#[test]
fn post_message_connection_and_port() {
    let mut world = world();
    assert_eq!(world.post(0x99, 1, b""), HvStatus::INVALID_CONNECTION_ID);
    // A connection to an event port.
    assert_eq!(
        world.post(EVENT_CONNECTION, 1, b""),
        HvStatus::INVALID_PORT_ID
    );
    // The port deleted, then a new port with the same ID: the connection
    // stays useless.
    let p = world.partition;
    world.synic.delete_port(p, MESSAGE_PORT).unwrap();
    assert_eq!(
        world.post(MESSAGE_CONNECTION, 1, b""),
        HvStatus::INVALID_PORT_ID
    );
    let spec = PortSpec {
        id: MESSAGE_PORT,
        kind: PortKind::Message,
        vp: 1,
        sint: s(SINT_MESSAGES),
    };
    world.synic.create_port(p, spec, Owner::Manifest).unwrap();
    assert_eq!(
        world.post(MESSAGE_CONNECTION, 1, b""),
        HvStatus::INVALID_PORT_ID
    );
}

#[test]
fn post_message_vp_index() {
    // A port can only be created for a VP that exists, so a post never
    // finds its target gone: the status is met at creation.
    let mut world = world();
    let spec = PortSpec {
        id: 0x300,
        kind: PortKind::Message,
        vp: 2,
        sint: s(1),
    };
    assert_eq!(
        world
            .synic
            .create_port(world.partition, spec, Owner::Manifest),
        Err(HvStatus::INVALID_VP_INDEX)
    );
}

#[test]
fn post_message_synic_state() {
    let mut world = world();
    world.wrmsr(1, m::HV_X64_MSR_SIMP, 0x12_000).unwrap();
    assert_eq!(
        world.post(MESSAGE_CONNECTION, 1, b""),
        HvStatus::INVALID_SYNIC_STATE
    );
    world.wrmsr(1, m::HV_X64_MSR_SIMP, 0x12_001).unwrap();
    world.wrmsr(1, m::HV_X64_MSR_SCONTROL, 0).unwrap();
    assert_eq!(
        world.post(MESSAGE_CONNECTION, 1, b""),
        HvStatus::INVALID_SYNIC_STATE
    );
    world.wrmsr(1, m::HV_X64_MSR_SCONTROL, 1).unwrap();
    assert_eq!(world.post(MESSAGE_CONNECTION, 1, b""), HvStatus::SUCCESS);
}

#[test]
fn post_message_insufficient_buffers() {
    let mut world = world();
    // The first goes into the slot; sixteen more fill the port's buffers.
    for n in 0..17_u8 {
        assert_eq!(
            world.post(MESSAGE_CONNECTION, 1, &[n]),
            HvStatus::SUCCESS,
            "{n}"
        );
    }
    assert_eq!(
        world.post(MESSAGE_CONNECTION, 1, b"x"),
        HvStatus::INSUFFICIENT_BUFFERS
    );
    // Nothing was dropped: all seventeen arrive, in order, and the last one
    // refused can be posted again once a buffer is free.
    for n in 0..17_u8 {
        let message = world.take(1, SINT_MESSAGES).unwrap();
        assert_eq!(message.payload_bytes()[0], n);
        assert_eq!(message.header.message_flags.message_pending(), n < 16);
    }
    assert!(world.take(1, SINT_MESSAGES).is_none());
    assert_eq!(world.post(MESSAGE_CONNECTION, 1, b"x"), HvStatus::SUCCESS);
}

#[test]
fn between_partitions() {
    // Partition B posts and signals into partition A's ports.
    let mut world = world();
    let a = world.partition;
    let b = world
        .synic
        .add_partition(common::policy(), vec![tessera_synic::MemoryPages::new()]);
    assert_eq!(b, PartitionRef(1));
    let message = ConnectSpec {
        id: 0x5,
        port: MESSAGE_PORT,
        port_type: HvPortType::MESSAGE,
    };
    world.synic.connect(b, message, a, Owner::Manifest).unwrap();
    let event = ConnectSpec {
        id: 0x6,
        port: EVENT_PORT,
        port_type: HvPortType::EVENT,
    };
    world.synic.connect(b, event, a, Owner::Manifest).unwrap();
    // Connection IDs are per sending partition: A's 0x5 does not exist.
    assert_eq!(world.post(0x5, 1, b""), HvStatus::INVALID_CONNECTION_ID);
    let posted = world
        .synic
        .post_message(b, 0x5, tlfs::HvMessageType(3), b"from b", 0);
    assert_eq!(posted.unwrap()[0].partition, a);
    assert_eq!(
        &world.take(1, SINT_MESSAGES).unwrap().payload_bytes()[..6],
        b"from b"
    );
    let signalled = world.synic.signal_event(b, 0x6, 0).unwrap();
    assert_eq!((signalled[0].partition, signalled[0].vp), (a, 1));
}

#[test]
fn connection_ids_are_24_bits_whoever_asks() {
    // A component's call is input like a guest's: an ID with its reserved
    // bits set (or one of the route table's markers) is refused.
    let mut world = world();
    let p = world.partition;
    for id in [0x0100_0000, u32::MAX, u32::MAX - 1] {
        let spec = ConnectSpec {
            id,
            port: EVENT_PORT,
            port_type: HvPortType::EVENT,
        };
        assert_eq!(
            world.synic.connect(p, spec, p, Owner::Manifest),
            Err(HvStatus::INVALID_CONNECTION_ID)
        );
    }
}
