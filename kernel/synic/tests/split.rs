//! The kernel keeps one [`Synic`] per partition, so a post or a signal
//! between partitions is two halves: the sender's `connection_target`,
//! then the receiver's `post_to_port` / `signal_port` (a connection made
//! with `connect_to`). Property: under any sequence of posts, signals,
//! takes and EOMs, the split pair answers every status and delivers every
//! message, flag and interrupt exactly as one `Synic` holding both
//! partitions does (TLFS md `inter-partition-communication.md` § Messages,
//! § Event Flags; `hypercalls/HvCallPostMessage.md`, `HvCallSignalEvent.md`).

use proptest::prelude::*;
use tessera_synic::ports::{ConnectSpec, PortKind, PortSpec};
use tessera_synic::registers::{RegisterPolicy, SynicMsr};
use tessera_synic::timer::StimerPolicy;
use tessera_synic::{Deliveries, MemoryPages, Owner, PartitionPolicy, PartitionRef, Sint, Synic};
use tlfs::{HvMessageType, HvStatus};

const MESSAGE_PORT: u32 = 0x10;
const EVENT_PORT: u32 = 0x11;
const MESSAGE_CONNECTION: u32 = 0x20;
const EVENT_CONNECTION: u32 = 0x21;
const MESSAGE_SINT: u32 = 2;
const EVENT_SINT: u32 = 3;

fn s(n: u32) -> Sint {
    Sint::new(n).unwrap()
}

fn policy() -> PartitionPolicy {
    let mut config = tessera_hv1::Hv1Config::default();
    config.privileges = config.privileges.with_access_synic_regs(true);
    PartitionPolicy {
        registers: RegisterPolicy::from_config(&config, 1 << 20),
        timers: StimerPolicy::from_config(&config),
    }
}

fn enable(synic: &mut Synic<MemoryPages>, partition: PartitionRef) {
    for (msr, value) in [
        (SynicMsr::Simp, 0x10 << 12 | 1),
        (SynicMsr::Siefp, 0x11 << 12 | 1),
        (SynicMsr::Scontrol, 1),
        (SynicMsr::Sint(s(MESSAGE_SINT)), 0x50),
        (SynicMsr::Sint(s(EVENT_SINT)), 0x51),
    ] {
        synic.write_synic(partition, 0, msr, value, 0).unwrap();
    }
}

fn ports() -> [(PortSpec, u32); 2] {
    [
        (
            PortSpec {
                id: MESSAGE_PORT,
                kind: PortKind::Message,
                vp: 0,
                sint: s(MESSAGE_SINT),
            },
            MESSAGE_CONNECTION,
        ),
        (
            PortSpec {
                id: EVENT_PORT,
                kind: PortKind::Event {
                    base_flag: 4,
                    flag_count: 8,
                },
                vp: 0,
                sint: s(EVENT_SINT),
            },
            EVENT_CONNECTION,
        ),
    ]
}

fn connect_spec(port: &PortSpec, connection: u32) -> ConnectSpec {
    ConnectSpec {
        id: connection,
        port: port.id,
        port_type: port.kind.port_type(),
    }
}

/// Sender partition 0 and receiver partition 1 in one `Synic`.
fn one() -> (Synic<MemoryPages>, PartitionRef, PartitionRef) {
    let mut synic = Synic::new();
    let sender = synic.add_partition(policy(), vec![MemoryPages::new()]);
    let receiver = synic.add_partition(policy(), vec![MemoryPages::new()]);
    enable(&mut synic, receiver);
    for (port, connection) in ports() {
        synic.create_port(receiver, port, Owner::Manifest).unwrap();
        synic
            .connect(
                sender,
                connect_spec(&port, connection),
                receiver,
                Owner::Manifest,
            )
            .unwrap();
    }
    (synic, sender, receiver)
}

/// The receiver's name in the sender's records (as the kernel names a
/// partition: its handle).
const REMOTE: PartitionRef = PartitionRef(7);
const ONLY: PartitionRef = PartitionRef(0);

/// The same, one `Synic` each, as the kernel holds them.
fn two() -> (Synic<MemoryPages>, Synic<MemoryPages>) {
    let mut sender = Synic::new();
    sender.add_partition(policy(), vec![MemoryPages::new()]);
    let mut receiver = Synic::new();
    receiver.add_partition(policy(), vec![MemoryPages::new()]);
    receiver.set_serial_base(1 << 32);
    enable(&mut receiver, ONLY);
    for (port, connection) in ports() {
        receiver.create_port(ONLY, port, Owner::Manifest).unwrap();
        let record = receiver.port(ONLY, port.id).unwrap();
        assert!(record.serial >= 1 << 32, "a serial from the base on");
        sender
            .connect_to(
                ONLY,
                connect_spec(&port, connection),
                REMOTE,
                record,
                Owner::Manifest,
            )
            .unwrap();
        receiver.delete_port(ONLY, port.id).unwrap();
        receiver.create_port(ONLY, port, Owner::Manifest).unwrap();
        // The connection saw the deleted port: useless now, as in one
        // `Synic`; connect again to the new one.
        let record = receiver.port(ONLY, port.id).unwrap();
        sender.disconnect(ONLY, connection).unwrap();
        sender
            .connect_to(
                ONLY,
                connect_spec(&port, connection),
                REMOTE,
                record,
                Owner::Manifest,
            )
            .unwrap();
    }
    (sender, receiver)
}

#[derive(Clone, Debug)]
enum Op {
    Post {
        connection: u32,
        kind: u32,
        size: usize,
    },
    Signal {
        connection: u32,
        flag: u16,
    },
    Take,
    ClearFlag(u16),
    Eom,
    Eoi(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let connection = prop_oneof![
        Just(MESSAGE_CONNECTION),
        Just(EVENT_CONNECTION),
        Just(0x99u32)
    ];
    prop_oneof![
        4 => (connection.clone(), prop_oneof![Just(0u32), Just(1), Just(0x8000_0001), Just(0x42)], 0usize..=241)
            .prop_map(|(connection, kind, size)| Op::Post { connection, kind, size }),
        2 => (connection, 0u16..10).prop_map(|(connection, flag)| Op::Signal { connection, flag }),
        2 => Just(Op::Take),
        1 => (0u16..16).prop_map(Op::ClearFlag),
        1 => Just(Op::Eom),
        1 => prop_oneof![Just(0x50u8), Just(0x51)].prop_map(Op::Eoi),
    ]
}

fn vectors(deliveries: &Deliveries) -> Vec<u8> {
    deliveries.iter().map(|d| d.interrupt.vector).collect()
}

proptest! {
    #[test]
    fn split_synics_behave_as_one(ops in proptest::collection::vec(op(), 1..120)) {
        let (mut whole, sender, receiver) = one();
        let (from, mut to) = two();
        let mut serial = 0u8;
        for op in ops {
            match op {
                Op::Post { connection, kind, size } => {
                    serial = serial.wrapping_add(1);
                    let payload = vec![serial; size];
                    let kind = HvMessageType(kind);
                    let a = whole.post_message(sender, connection, kind, &payload, 5);
                    let target = from.connection_target(ONLY, connection);
                    if let Ok(address) = target {
                        prop_assert_eq!(address.partition, REMOTE);
                    }
                    let b = target.and_then(|mut address| {
                        address.partition = ONLY;
                        to.post_to_port(address, kind, &payload, 5)
                    });
                    // The hypercall layer refuses a bad type or size
                    // first; the split refuses them at the receiver.
                    let a = a.map(|d| vectors(&d));
                    let b = b.map(|d| vectors(&d));
                    if a == Err(HvStatus::INVALID_PARAMETER) {
                        prop_assert!(b == Err(HvStatus::INVALID_PARAMETER) || b == Err(HvStatus::INVALID_CONNECTION_ID));
                    } else {
                        prop_assert_eq!(a, b);
                    }
                }
                Op::Signal { connection, flag } => {
                    let a = whole.signal_event(sender, connection, flag).map(|d| vectors(&d));
                    let b = from
                        .connection_target(ONLY, connection)
                        .and_then(|mut address| {
                            address.partition = ONLY;
                            to.signal_port(address, flag)
                        })
                        .map(|d| vectors(&d));
                    prop_assert_eq!(a, b);
                }
                Op::Take => {
                    let a = whole.pages_mut(receiver, 0).unwrap().take_message(s(MESSAGE_SINT));
                    let b = to.pages_mut(ONLY, 0).unwrap().take_message(s(MESSAGE_SINT));
                    prop_assert_eq!(
                        a.map(|m| (m.header.message_type, m.header.payload_size, m.payload_bytes()[0])),
                        b.map(|m| (m.header.message_type, m.header.payload_size, m.payload_bytes()[0]))
                    );
                }
                Op::ClearFlag(flag) => {
                    let a = whole.pages_mut(receiver, 0).unwrap().clear_flag(s(EVENT_SINT), flag);
                    let b = to.pages_mut(ONLY, 0).unwrap().clear_flag(s(EVENT_SINT), flag);
                    prop_assert_eq!(a, b);
                }
                Op::Eom => {
                    let a = whole.write_synic(receiver, 0, SynicMsr::Eom, 0, 5).map(|a| vectors(&a.deliveries));
                    let b = to.write_synic(ONLY, 0, SynicMsr::Eom, 0, 5).map(|a| vectors(&a.deliveries));
                    prop_assert_eq!(a, b);
                }
                Op::Eoi(vector) => {
                    let a = vectors(&whole.eoi(receiver, 0, vector, 5));
                    let b = vectors(&to.eoi(ONLY, 0, vector, 5));
                    prop_assert_eq!(a, b);
                }
            }
            let a: Vec<_> = whole.queued(receiver, 0, s(MESSAGE_SINT)).map(|m| m.payload_bytes()[0]).collect();
            let b: Vec<_> = to.queued(ONLY, 0, s(MESSAGE_SINT)).map(|m| m.payload_bytes()[0]).collect();
            prop_assert_eq!(a, b);
        }
    }
}

#[test]
fn a_connection_to_a_deleted_port_is_useless_across_synics() {
    let (from, mut to) = two();
    to.delete_port(ONLY, MESSAGE_PORT).unwrap();
    let (port, _) = ports()[0];
    to.create_port(ONLY, port, Owner::Manifest).unwrap();
    let mut address = from.connection_target(ONLY, MESSAGE_CONNECTION).unwrap();
    address.partition = ONLY;
    assert_eq!(
        to.post_to_port(address, HvMessageType(1), b"x", 0),
        Err(HvStatus::INVALID_PORT_ID)
    );
    assert_eq!(
        from.connection_target(ONLY, 0x55),
        Err(HvStatus::INVALID_CONNECTION_ID)
    );
}

#[test]
fn connect_to_checks_the_port_it_is_given() {
    let (mut from, to) = two();
    let record = to.port(ONLY, EVENT_PORT).unwrap();
    let wrong_type = ConnectSpec {
        id: 0x30,
        port: EVENT_PORT,
        port_type: tlfs::synic::HvPortType::MESSAGE,
    };
    assert_eq!(
        from.connect_to(ONLY, wrong_type, REMOTE, record, Owner::Manifest),
        Err(HvStatus::INVALID_PORT_ID)
    );
    let taken = ConnectSpec {
        id: EVENT_CONNECTION,
        port: EVENT_PORT,
        port_type: tlfs::synic::HvPortType::EVENT,
    };
    assert_eq!(
        from.connect_to(ONLY, taken, REMOTE, record, Owner::Manifest),
        Err(HvStatus::INVALID_CONNECTION_ID)
    );
    let wide = ConnectSpec {
        id: 0x0100_0000,
        ..taken
    };
    assert_eq!(
        from.connect_to(ONLY, wide, REMOTE, record, Owner::Manifest),
        Err(HvStatus::INVALID_CONNECTION_ID)
    );
}
