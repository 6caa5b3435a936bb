//! The kernel's lock-free `HvSignalEvent` (`tessera_synic::fast_signal`)
//! decides as the locked path does: wherever it answers, the locked path
//! (the kernel's pair `Synic::connection_target` + `Synic::signal_port`)
//! gives `HV_STATUS_SUCCESS`, sets the same flag and raises the same
//! interrupt; wherever it declines, it has touched nothing. Worlds are
//! random: registers, event and message ports on either VP, connections,
//! ports deleted after their connections were made (and their IDs taken
//! again), calls from either VP with any input.

mod common;

use common::{World, s};
use proptest::prelude::*;
use tessera_synic::event::set_flag;
use tessera_synic::fast_signal::{PublishedVp, own_route};
use tessera_synic::hypercall::fast_signal_input;
use tessera_synic::ports::{ConnectSpec, PortKind, PortSpec};
use tessera_synic::{MemoryPages, Owner, PartitionRef, SynicRegisters};
use tlfs::HvStatus;
use tlfs::msr as m;
use tlfs::synic::{HvSynicScontrol, HvSynicSiefp, HvSynicSint};

/// A SINT register from its interesting bits.
fn sint_value(vector: u8, masked: bool, auto_eoi: bool, polling: bool) -> HvSynicSint {
    HvSynicSint::new()
        .with_vector(vector)
        .with_masked(masked)
        .with_auto_eoi(auto_eoi)
        .with_polling(polling)
}

/// Mostly true: most worlds get far enough for the fast path to answer.
fn likely() -> impl Strategy<Value = bool> {
    prop::bool::weighted(0.85)
}

fn unlikely() -> impl Strategy<Value = bool> {
    prop::bool::weighted(0.15)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// `PublishedVp::set_flag` against `event::set_flag`, register by
    /// register.
    #[test]
    fn published_flag_is_set_flag(
        scontrol in any::<bool>(),
        siefp in any::<bool>(),
        (vector, masked, auto_eoi, polling) in (16_u8.., any::<bool>(), any::<bool>(), any::<bool>()),
        sint in 0_u32..16,
        flag in prop_oneof![0_u16..2048, 2040_u16..2100, any::<u16>()],
        already in any::<bool>(),
    ) {
        let sint = s(sint);
        let mut registers = SynicRegisters {
            scontrol: HvSynicScontrol::new().with_enable(scontrol),
            siefp: HvSynicSiefp::new().with_enable(siefp).with_base_gpn(0x20),
            ..SynicRegisters::default()
        };
        registers.sints[sint.index()] = sint_value(vector, masked, auto_eoi, polling);
        let mut locked_pages = MemoryPages::new();
        if already && flag < 2048 {
            set_flag(&mut locked_pages, &SynicRegisters {
                scontrol: HvSynicScontrol::new().with_enable(true),
                siefp: HvSynicSiefp::new().with_enable(true),
                sints: [HvSynicSint::new(); 16],
                ..registers
            }, sint, flag).unwrap();
        }
        let mut fast_pages = locked_pages.clone();
        let before = locked_pages.clone();
        let published = PublishedVp::new();
        published.publish(&registers, 0x1000);
        let locked = set_flag(&mut locked_pages, &registers, sint, flag);
        match published.set_flag(&mut fast_pages, sint, flag) {
            Some(fast) => {
                prop_assert_eq!(locked, Ok(fast));
                prop_assert!(fast_pages == locked_pages);
            }
            None => {
                prop_assert!(fast_pages == before, "declined but touched the page");
                let auto_eoi_interrupt = locked.is_ok_and(|set| {
                    !polling && !masked && auto_eoi && (set.interrupt.is_some() || !set.newly_set)
                });
                prop_assert!(locked.is_err() || auto_eoi_interrupt, "{:?}", locked);
            }
        }
    }

    /// The whole fast path (input, route, published registers, flag)
    /// against the kernel's locked pair, in random worlds.
    #[test]
    fn fast_signal_decides_as_the_locked_path(
        vp_setup in prop::collection::vec(
            (likely(), likely(), 0_u32..4, 16_u8.., unlikely(), unlikely(), unlikely()),
            2,
        ),
        ports in prop::collection::vec(
            (1_u32..5, 0_u32..3, 0_u32..4, 0_u16..2048, 1_u16..64, likely(), unlikely()),
            0..6,
        ),
        calls in prop::collection::vec(
            (0_u32..2, 0_u32..6, prop_oneof![3 => 0_u64..4, 1 => 0_u64..70], prop_oneof![3 => Just(0_u64), 1 => any::<u64>()]),
            1..8,
        ),
    ) {
        let mut world = World::new(2);
        let p = world.partition;
        for (vp, (scontrol, siefp, sint, vector, masked, auto_eoi, polling)) in
            vp_setup.iter().copied().enumerate()
        {
            let vp = vp as u32;
            let page = 0x10 + u64::from(vp) * 2;
            world.wrmsr(vp, m::HV_X64_MSR_SIMP, page << 12 | 1).unwrap();
            world.wrmsr(vp, m::HV_X64_MSR_SIEFP, (page + 1) << 12 | u64::from(siefp)).unwrap();
            world.wrmsr(vp, m::HV_X64_MSR_SCONTROL, u64::from(scontrol)).unwrap();
            // SINTs 0..4 (those the ports use), one of them with its own
            // vector and bits. A value the component refuses (AutoEOI or
            // polling not offered) leaves the SINT as it was.
            for n in 0..4 {
                let value = if n == sint {
                    sint_value(vector, masked, auto_eoi, polling)
                } else {
                    sint_value(0x40 + n as u8, false, false, false)
                };
                let _ = world.wrmsr(vp, m::HV_X64_MSR_SINT0 + n, value.into_bits());
            }
        }
        // Ports 1..5 (the last one made with an ID wins), connection n to
        // port n; `delete` deletes the port after the connection exists,
        // `event` picks the kind.
        for (id, vp, sint, base, count, event, delete) in ports {
            let count = count.min(2048 - base).max(1);
            let kind = if event {
                PortKind::Event { base_flag: base, flag_count: count }
            } else {
                PortKind::Message
            };
            // VP 2 does not exist: the port is refused or its signals
            // are INVALID_VP_INDEX.
            let spec = PortSpec { id, kind, vp, sint: s(sint) };
            let _ = world.synic.delete_port(p, id);
            if world.synic.create_port(p, spec, Owner::Manifest).is_err() {
                continue;
            }
            let _ = world.synic.disconnect(p, id);
            let connect = ConnectSpec { id, port: id, port_type: kind.port_type() };
            let _ = world.synic.connect(p, connect, p, Owner::Manifest);
            if delete {
                world.synic.delete_port(p, id).unwrap();
            }
        }
        for (caller, connection, flag, noise) in calls {
            let rdx = u64::from(connection) | flag << 32 | noise & 0xFFFF_0000_FF00_0000;
            let published = PublishedVp::new();
            published.publish(world.synic.registers(p, caller).unwrap(), 0x1000);
            let mut fast_pages = world.synic.pages(p, caller).unwrap().clone();
            let fast = fast_signal_input(rdx).and_then(|input| {
                let routes = world.synic.event_routes(p).unwrap();
                let (route, flag) = own_route(routes, p, 0, caller, input.connection, input.flag)?;
                published.set_flag(&mut fast_pages, route.sint, flag).map(|set| (route, set))
            });
            let untouched = world.synic.pages(p, caller).unwrap().clone();
            let input = fast_signal_input(rdx);
            let locked = match input {
                None => Err(HvStatus::INVALID_HYPERCALL_INPUT),
                Some(input) => world
                    .synic
                    .connection_target(p, input.connection)
                    .and_then(|address| world.synic.signal_port(address, input.flag)),
            };
            match fast {
                Some((route, set)) => {
                    let deliveries = locked.expect("the fast path answered success");
                    prop_assert_eq!(route.vp, caller);
                    prop_assert!(&fast_pages == world.synic.pages(p, caller).unwrap());
                    let raised: Vec<_> = deliveries.iter().map(|d| (d.vp, d.interrupt)).collect();
                    let expected: Vec<_> = set.interrupt.map(|i| (caller, i)).into_iter().collect();
                    prop_assert_eq!(raised, expected);
                }
                None => prop_assert!(fast_pages == untouched, "declined but touched the page"),
            }
        }
    }
}

/// Event port `id` of VP 0: flags `0..count` of SINT `sint`.
fn event_port(id: u32, count: u16, sint: u32) -> PortSpec {
    PortSpec {
        id,
        kind: PortKind::Event {
            base_flag: 0,
            flag_count: count,
        },
        vp: 0,
        sint: s(sint),
    }
}

/// A route whose port serial is older than the partition's incarnation
/// (`serial_base`) or names another partition is never followed.
#[test]
fn stale_or_foreign_routes_are_not_followed() {
    let mut world = World::new(1);
    world.enable(0);
    world.unmask(0, 3, 0x51);
    let p = world.partition;
    let spec = event_port(7, 4, 3);
    world.synic.create_port(p, spec, Owner::Manifest).unwrap();
    let connect = ConnectSpec {
        id: 7,
        port: 7,
        port_type: spec.kind.port_type(),
    };
    world.synic.connect(p, connect, p, Owner::Manifest).unwrap();
    let routes = world.synic.event_routes(p).unwrap();
    assert!(own_route(routes, p, 0, 0, 7, 1).is_some());
    // The same slot, a later generation: the route is older.
    assert!(own_route(routes, p, 1 << 32, 0, 7, 1).is_none());
    assert!(own_route(routes, PartitionRef(p.0 + 1), 0, 0, 7, 1).is_none());
    // Another VP, a flag past the count.
    assert!(own_route(routes, p, 0, 1, 7, 1).is_none());
    assert!(own_route(routes, p, 0, 0, 7, 4).is_none());
    // Deleting the port withdraws the route.
    world.synic.delete_port(p, 7).unwrap();
    let routes = world.synic.event_routes(p).unwrap();
    assert!(own_route(routes, p, 0, 0, 7, 1).is_none());
}

/// A route that names the port's partition by another reference (the
/// kernel's slot index, with one `Synic` per partition) is withdrawn by
/// `withdraw_routes_to` with that reference; before the fix only routes
/// naming the deleting `Synic`'s own reference went.
#[test]
fn routes_named_by_slot_index_are_withdrawn() {
    let mut world = World::new(1);
    let p = world.partition;
    let spec = event_port(9, 1, 1);
    world.synic.create_port(p, spec, Owner::Manifest).unwrap();
    let port = world.synic.port(p, 9).unwrap();
    let connect = ConnectSpec {
        id: 3,
        port: 9,
        port_type: spec.kind.port_type(),
    };
    let slot_index = PartitionRef(5);
    world
        .synic
        .connect_to(p, connect, slot_index, port, Owner::Manifest)
        .unwrap();
    let lookup = |world: &World| world.synic.event_routes(p).unwrap().lookup(3);
    assert!(matches!(
        lookup(&world),
        tessera_synic::published::Lookup::Found(_)
    ));
    world.synic.delete_port(p, 9).unwrap();
    // Named by slot index: the Synic's own delete cannot tell.
    assert!(matches!(
        lookup(&world),
        tessera_synic::published::Lookup::Found(_)
    ));
    world.synic.withdraw_routes_to(slot_index, 9);
    assert_eq!(lookup(&world), tessera_synic::published::Lookup::Absent);
}

proptest! {
    /// The published AutoEOI set is the registers' (`auto_eoi_vectors`),
    /// and withdrawing empties it.
    #[test]
    fn published_auto_eoi_is_the_registers(
        sints in prop::collection::vec((16_u8.., any::<bool>(), any::<bool>(), any::<bool>()), 16),
    ) {
        let mut registers = SynicRegisters::default();
        for (register, (vector, masked, auto_eoi, polling)) in registers.sints.iter_mut().zip(sints) {
            *register = sint_value(vector, masked, auto_eoi, polling);
        }
        let published = PublishedVp::new();
        published.publish(&registers, 0x1000);
        let set = registers.auto_eoi_vectors();
        for vector in 0..=255_u8 {
            let expected = set[usize::from(vector / 64)] & 1 << (vector % 64) != 0;
            prop_assert_eq!(published.auto_eoi(vector), expected);
        }
        published.withdraw();
        prop_assert!((0..=255_u8).all(|vector| !published.auto_eoi(vector)));
    }
}
