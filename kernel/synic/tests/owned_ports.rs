//! Ports a component owns (issue 14 item 4): what a guest posts or signals
//! on a connection to one waits in the kernel for the component, bounded
//! like any message port (`HV_STATUS_INSUFFICIENT_BUFFERS` at 16, nothing
//! dropped), with the sender's connection, and the doorbell rings exactly
//! when the component has to be told.

use tessera_synic::ports::{ConnectSpec, PortKind, PortSpec};
use tessera_synic::registers::{RegisterPolicy, SynicMsr};
use tessera_synic::state::PORT_MESSAGE_BUFFERS;
use tessera_synic::state::inbox::{Arrival, Origin, Received};
use tessera_synic::timer::StimerPolicy;
use tessera_synic::{MemoryPages, Owner, PartitionPolicy, PartitionRef, Sint, Synic};
use tlfs::synic::HvPortType;
use tlfs::{HvMessageType, HvStatus};

const OWNED_MESSAGE: u32 = 0x40;
const OWNED_EVENT: u32 = 0x41;
const GUEST_MESSAGE: u32 = 0x42;
const TO_MESSAGE: u32 = 0x140;
const TO_EVENT: u32 = 0x141;
const COMPONENT: Owner = Owner::Component(7);

fn policy() -> PartitionPolicy {
    let mut config = tessera_hv1::Hv1Config::default();
    config.privileges = config.privileges.with_access_synic_regs(true);
    PartitionPolicy {
        registers: RegisterPolicy::from_config(&config, 1 << 20),
        timers: StimerPolicy::from_config(&config),
    }
}

/// One partition of one VP with a component-owned message port and event
/// port (8 flags), connected to from the partition itself.
fn world() -> (Synic<MemoryPages>, PartitionRef) {
    let mut synic = Synic::new();
    let p = synic.add_partition(policy(), vec![MemoryPages::default()]);
    synic
        .create_component_port(p, OWNED_MESSAGE, PortKind::Message, COMPONENT)
        .unwrap();
    let events = PortKind::Event {
        base_flag: 0,
        flag_count: 8,
    };
    synic
        .create_component_port(p, OWNED_EVENT, events, COMPONENT)
        .unwrap();
    for (id, port, port_type) in [
        (TO_MESSAGE, OWNED_MESSAGE, HvPortType::MESSAGE),
        (TO_EVENT, OWNED_EVENT, HvPortType::EVENT),
    ] {
        let spec = ConnectSpec {
            id,
            port,
            port_type,
        };
        synic.connect(p, spec, p, Owner::Manifest).unwrap();
    }
    (synic, p)
}

fn post(synic: &mut Synic<MemoryPages>, p: PartitionRef, n: u8) -> Result<Arrival, HvStatus> {
    let address = synic.connection_target(p, TO_MESSAGE)?;
    let origin = Origin {
        partition: p,
        connection: TO_MESSAGE,
    };
    synic.post_from(
        origin,
        address,
        HvMessageType(0x100 + u32::from(n)),
        &[n; 9],
        0,
    )
}

#[test]
fn a_posted_message_reaches_the_component_with_its_sender() {
    let (mut synic, p) = world();
    assert_eq!(
        post(&mut synic, p, 1),
        Ok(Arrival::Component { ring: true })
    );
    // Rung once: the component has not looked since.
    assert_eq!(
        post(&mut synic, p, 2),
        Ok(Arrival::Component { ring: false })
    );
    for n in 1..=2u8 {
        let Ok(Some(Received::Message(got))) = synic.receive(p, OWNED_MESSAGE) else {
            panic!("message {n} missing");
        };
        assert_eq!(
            got.origin,
            Origin {
                partition: p,
                connection: TO_MESSAGE
            }
        );
        assert_eq!(got.message_type, HvMessageType(0x100 + u32::from(n)));
        assert_eq!(&got.payload[..], &[n; 9]);
    }
    assert_eq!(synic.receive(p, OWNED_MESSAGE), Ok(None));
    // Found empty: the next arrival rings again.
    assert_eq!(
        post(&mut synic, p, 3),
        Ok(Arrival::Component { ring: true })
    );
}

#[test]
fn sixteen_wait_and_the_seventeenth_is_refused_not_dropped() {
    let (mut synic, p) = world();
    for n in 0..PORT_MESSAGE_BUFFERS as u8 {
        assert!(post(&mut synic, p, n).is_ok(), "post {n}");
    }
    assert_eq!(post(&mut synic, p, 99), Err(HvStatus::INSUFFICIENT_BUFFERS));
    for n in 0..PORT_MESSAGE_BUFFERS as u8 {
        let got = synic.receive(p, OWNED_MESSAGE).unwrap();
        assert!(
            matches!(got, Some(Received::Message(m)) if m.payload[0] == n),
            "take {n}"
        );
    }
    assert_eq!(synic.receive(p, OWNED_MESSAGE), Ok(None));
    assert!(post(&mut synic, p, 1).is_ok(), "a buffer is free again");
}

#[test]
fn signals_pend_once_per_flag_and_ring_on_zero_to_one() {
    let (mut synic, p) = world();
    let address = synic.connection_target(p, TO_EVENT).unwrap();
    assert_eq!(
        synic.signal_from(address, 3),
        Ok(Arrival::Component { ring: true })
    );
    assert_eq!(
        synic.signal_from(address, 3),
        Ok(Arrival::Component { ring: false })
    );
    assert_eq!(
        synic.signal_from(address, 7),
        Ok(Arrival::Component { ring: false })
    );
    assert_eq!(
        synic.signal_from(address, 8),
        Err(HvStatus::INVALID_PARAMETER)
    );
    let mut expected = [0u64; 32];
    expected[0] = 1 << 3 | 1 << 7;
    assert_eq!(
        synic.receive(p, OWNED_EVENT),
        Ok(Some(Received::Events(expected)))
    );
    assert_eq!(synic.receive(p, OWNED_EVENT), Ok(None));
    assert_eq!(
        synic.signal_from(address, 3),
        Ok(Arrival::Component { ring: true })
    );
    // Through the hypercall's whole path, which never publishes the route.
    assert_eq!(synic.signal_event_fast(p, TO_EVENT, 3), None);
    assert_eq!(synic.signal_event(p, TO_EVENT, 2), Ok(Default::default()));
}

#[test]
fn bad_requests_have_clear_answers() {
    let (mut synic, p) = world();
    let other = synic.add_partition(policy(), vec![MemoryPages::default()]);
    // Duplicate, bad IDs, bad flags.
    assert_eq!(
        synic.create_component_port(p, OWNED_MESSAGE, PortKind::Message, COMPONENT),
        Err(HvStatus::INVALID_PORT_ID)
    );
    assert_eq!(
        synic.create_component_port(p, 1 << 24, PortKind::Message, COMPONENT),
        Err(HvStatus::INVALID_PARAMETER)
    );
    for (base_flag, flag_count) in [(0, 0), (1, 4), (0, 2049)] {
        let kind = PortKind::Event {
            base_flag,
            flag_count,
        };
        assert_eq!(
            synic.create_component_port(p, 0x77, kind, COMPONENT),
            Err(HvStatus::INVALID_PARAMETER),
            "{base_flag} + {flag_count}"
        );
    }
    assert_eq!(
        synic.create_component_port(PartitionRef(9), 0x77, PortKind::Message, COMPONENT),
        Err(HvStatus::INVALID_PARTITION_ID)
    );
    // Another partition may not connect to it.
    let spec = ConnectSpec {
        id: 0x300,
        port: OWNED_MESSAGE,
        port_type: HvPortType::MESSAGE,
    };
    assert_eq!(
        synic.connect(other, spec, p, Owner::Manifest),
        Err(HvStatus::INVALID_PORT_ID)
    );
    // A component posts and signals only VPs' ports.
    let address = synic.connection_target(p, TO_MESSAGE).unwrap();
    assert_eq!(
        synic.post_to_port(address, HvMessageType(5), &[], 0),
        Err(HvStatus::INVALID_PORT_ID)
    );
    let address = synic.connection_target(p, TO_EVENT).unwrap();
    assert_eq!(
        synic.signal_port(address, 0),
        Err(HvStatus::INVALID_PORT_ID)
    );
    // Receiving from a VP's port or from nothing.
    let guest = PortSpec {
        id: GUEST_MESSAGE,
        kind: PortKind::Message,
        vp: 0,
        sint: Sint::new(2).unwrap(),
    };
    synic.create_port(p, guest, Owner::Manifest).unwrap();
    assert_eq!(
        synic.receive(p, GUEST_MESSAGE),
        Err(HvStatus::INVALID_PORT_ID)
    );
    assert_eq!(synic.receive(p, 0x999), Err(HvStatus::INVALID_PORT_ID));
    assert_eq!(
        synic.receive(PartitionRef(9), OWNED_MESSAGE),
        Err(HvStatus::INVALID_PORT_ID)
    );
}

#[test]
fn deleting_the_port_frees_what_waits_and_connections_go_useless() {
    let (mut synic, p) = world();
    post(&mut synic, p, 1).unwrap();
    synic.delete_port(p, OWNED_MESSAGE).unwrap();
    assert_eq!(post(&mut synic, p, 2), Err(HvStatus::INVALID_PORT_ID));
    assert_eq!(
        synic.receive(p, OWNED_MESSAGE),
        Err(HvStatus::INVALID_PORT_ID)
    );
    // A new port with the same ID is not the old one's.
    synic
        .create_component_port(p, OWNED_MESSAGE, PortKind::Message, COMPONENT)
        .unwrap();
    assert_eq!(post(&mut synic, p, 3), Err(HvStatus::INVALID_PORT_ID));
    assert_eq!(synic.receive(p, OWNED_MESSAGE), Ok(None));
}

#[test]
fn a_guest_port_beside_them_still_takes_its_messages() {
    let (mut synic, p) = world();
    for (msr, value) in [
        (SynicMsr::Simp, 0x10 << 12 | 1),
        (SynicMsr::Scontrol, 1),
        (SynicMsr::Sint(Sint::new(2).unwrap()), 0x50),
    ] {
        synic.write_synic(p, 0, msr, value, 0).unwrap();
    }
    let guest = PortSpec {
        id: GUEST_MESSAGE,
        kind: PortKind::Message,
        vp: 0,
        sint: Sint::new(2).unwrap(),
    };
    synic.create_port(p, guest, Owner::Manifest).unwrap();
    let address = synic.connection_target(p, TO_MESSAGE).unwrap();
    let guest_address = tessera_synic::state::PortAddress {
        id: GUEST_MESSAGE,
        serial: synic.port(p, GUEST_MESSAGE).unwrap().serial,
        ..address
    };
    let delivered = synic
        .post_to_port(guest_address, HvMessageType(5), &[1, 2], 0)
        .unwrap();
    assert_eq!(delivered.len(), 1, "the SINT's interrupt");
}
