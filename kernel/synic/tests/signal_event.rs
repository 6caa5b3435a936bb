//! Every status of `HvCallSignalEvent` (TLFS md
//! `hypercalls/HvCallSignalEvent.md`, and the common statuses of
//! `hypercall-interface.md`), fast and from memory, through the kernel's
//! fast path and the component.

mod common;

use common::ports::{EVENT_CONNECTION, EVENT_PORT, MESSAGE_CONNECTION, SINT_EVENTS, world};
use common::{INPUT_GPA, hypercall_policy, s};
use tessera_synic::Owner;
use tessera_synic::ports::{PortKind, PortSpec};
use tlfs::msr as m;
use tlfs::privilege::HvPartitionPrivilegeMask;
use tlfs::{HvStatus, HypercallCode, HypercallInputValue};

#[test]
fn signal_event_success_and_zero_to_one() {
    let mut world = world();
    assert_eq!(world.signal(EVENT_CONNECTION, 1), HvStatus::SUCCESS);
    assert_eq!(world.drain_interrupts(), vec![(1, 0x51)]);
    let pages = world.synic.pages(world.partition, 1).unwrap();
    assert_eq!(pages.event_flags(s(SINT_EVENTS)).flag(9), Some(true));
    // Set already: success, no interrupt.
    assert_eq!(world.signal(EVENT_CONNECTION, 1), HvStatus::SUCCESS);
    assert!(world.drain_interrupts().is_empty());
    // Another flag of the port raises again.
    assert_eq!(world.signal(EVENT_CONNECTION, 3), HvStatus::SUCCESS);
    assert_eq!(world.drain_interrupts(), vec![(1, 0x51)]);
}

#[test]
fn signal_event_from_memory_too() {
    let mut world = world();
    let input: [u8; 8] = (u64::from(EVENT_CONNECTION) | 2 << 32).to_le_bytes();
    tessera_hv1::hypercall::GuestMemory::write(&mut world.memory, INPUT_GPA, &input).unwrap();
    let control = HypercallInputValue::new().with_call_code(HypercallCode::SIGNAL_EVENT);
    assert_eq!(
        world.hypercall(control.into_bits(), INPUT_GPA, 0),
        Ok(HvStatus::SUCCESS)
    );
    let pages = world.synic.pages(world.partition, 1).unwrap();
    assert_eq!(pages.event_flags(s(SINT_EVENTS)).flag(10), Some(true));
}

#[test]
fn signal_event_refusals() {
    let mut world = world();
    let fast = |connection: u64, flag: u64, rsvd: u64| connection | flag << 32 | rsvd << 48;
    let control = HypercallInputValue::new()
        .with_call_code(HypercallCode::SIGNAL_EVENT)
        .with_fast(true)
        .into_bits();
    // Reserved: RsvdZ, ConnectionId bits 31:24.
    assert_eq!(
        world.hypercall(control, fast(EVENT_CONNECTION.into(), 0, 1), 0),
        Ok(HvStatus::INVALID_HYPERCALL_INPUT)
    );
    assert_eq!(
        world.hypercall(
            control,
            fast(0x0100_0000 | u64::from(EVENT_CONNECTION), 0, 0),
            0
        ),
        Ok(HvStatus::INVALID_HYPERCALL_INPUT)
    );
    assert_eq!(world.signal(0x99, 0), HvStatus::INVALID_CONNECTION_ID);
    assert_eq!(
        world.signal(MESSAGE_CONNECTION, 0),
        HvStatus::INVALID_PORT_ID
    );
    assert_eq!(
        world.signal(EVENT_CONNECTION, 4),
        HvStatus::INVALID_PARAMETER
    );
    // Masked SINT; disabled SIEF page; disabled SynIC.
    world
        .wrmsr(1, m::HV_X64_MSR_SINT0 + SINT_EVENTS, 0x1_0051)
        .unwrap();
    assert_eq!(
        world.signal(EVENT_CONNECTION, 0),
        HvStatus::INVALID_SYNIC_STATE
    );
    world.unmask(1, SINT_EVENTS, 0x51);
    world.wrmsr(1, m::HV_X64_MSR_SIEFP, 0).unwrap();
    assert_eq!(
        world.signal(EVENT_CONNECTION, 0),
        HvStatus::INVALID_SYNIC_STATE
    );
    world.wrmsr(1, m::HV_X64_MSR_SIEFP, 0x13_001).unwrap();
    world.wrmsr(1, m::HV_X64_MSR_SCONTROL, 0).unwrap();
    assert_eq!(
        world.signal(EVENT_CONNECTION, 0),
        HvStatus::INVALID_SYNIC_STATE
    );
    world.wrmsr(1, m::HV_X64_MSR_SCONTROL, 1).unwrap();
    assert_eq!(world.signal(EVENT_CONNECTION, 0), HvStatus::SUCCESS);
    // The port deleted: the route is withdrawn, the slow path answers.
    world
        .synic
        .delete_port(world.partition, EVENT_PORT)
        .unwrap();
    assert_eq!(world.signal(EVENT_CONNECTION, 0), HvStatus::INVALID_PORT_ID);
    // Without SignalEvents.
    world.hypercalls = hypercall_policy(HvPartitionPrivilegeMask::new().with_post_messages(true));
    assert_eq!(
        world.hypercall(control, fast(EVENT_CONNECTION.into(), 0, 0), 0),
        Ok(HvStatus::ACCESS_DENIED)
    );
}

#[test]
fn fast_and_slow_paths_agree() {
    // Every signal through the published route and through the full tables
    // (a second partition without published routes) gives the same status.
    let mut world = world();
    let p = world.partition;
    for flag in 0..6 {
        let fast = world
            .synic
            .signal_event_fast(p, EVENT_CONNECTION, flag)
            .unwrap();
        let slow_status = {
            let pages_before = world.synic.pages(p, 1).unwrap().clone();
            world
                .synic
                .pages_mut(p, 1)
                .unwrap()
                .clear_flag(s(SINT_EVENTS), 8 + flag);
            let slow = world.synic.signal_event(p, EVENT_CONNECTION, flag);
            assert_eq!(world.synic.pages(p, 1).unwrap(), &pages_before);
            slow.map(|_| ())
        };
        assert_eq!(fast.map(|_| ()), slow_status, "flag {flag}");
    }
    assert!(
        world
            .synic
            .signal_event_fast(p, MESSAGE_CONNECTION, 0)
            .is_none()
    );
    assert!(world.synic.signal_event_fast(p, 0x99, 0).is_none());
}

#[test]
fn signal_event_vp_index() {
    // HV_STATUS_INVALID_VP_INDEX ("The target VP no longer exists"): an
    // event port can only be created for a VP the partition has (2 here),
    // so a signal never finds its target gone; the status is met at
    // creation, and the refused port routes nothing.
    let mut world = world();
    let spec = PortSpec {
        id: 0x301,
        kind: PortKind::Event {
            base_flag: 0,
            flag_count: 1,
        },
        vp: 2,
        sint: s(SINT_EVENTS),
    };
    assert_eq!(
        world
            .synic
            .create_port(world.partition, spec, Owner::Manifest),
        Err(HvStatus::INVALID_VP_INDEX)
    );
    assert!(world.synic.ports(world.partition).all(|p| p.spec.id != 0x301));
}
