//! The lock-free event-route table: single-threaded behaviour against a
//! map, and readers racing a writer never seeing a torn route.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use proptest::prelude::*;
use tessera_synic::published::{EventRoute, EventRouteTable, Lookup};
use tessera_synic::{PartitionRef, Sint};

fn route(n: u32) -> EventRoute {
    EventRoute {
        partition: PartitionRef(n % 3),
        port: n & 0xFF_FFFF,
        vp: n % 5,
        sint: Sint::new(n % 16).unwrap(),
        base_flag: (n % 2000) as u16,
        flag_count: (n % 48 + 1) as u16,
        serial: u64::from(n) << 20 | 7,
    }
}

#[test]
fn insert_lookup_remove() {
    let table = EventRouteTable::<8>::new();
    assert_eq!(table.lookup(5), Lookup::Absent);
    assert!(table.insert(5, route(1)));
    assert_eq!(table.lookup(5), Lookup::Found(route(1)));
    // Replace in place.
    assert!(table.insert(5, route(2)));
    assert_eq!(table.lookup(5), Lookup::Found(route(2)));
    assert!(table.remove(5));
    assert!(!table.remove(5));
    assert_eq!(table.lookup(5), Lookup::Absent);
    // Eight fit, a ninth does not; a removal makes room again.
    for id in 0..8 {
        assert!(table.insert(id, route(id)));
    }
    assert!(!table.insert(8, route(8)));
    assert_eq!(table.lookup(8), Lookup::Absent);
    assert!(table.remove(3));
    assert!(table.insert(8, route(8)));
    for id in (0..9).filter(|id| *id != 3) {
        assert_eq!(table.lookup(id), Lookup::Found(route(id)), "{id}");
    }
    // Withdrawing by route.
    let removed = table.remove_where(|r| r.partition == PartitionRef(0));
    assert_eq!(removed, (0..9).filter(|id| *id != 3 && id % 3 == 0).count());
    assert_eq!(table.lookup(6), Lookup::Absent);
    assert_eq!(table.lookup(7), Lookup::Found(route(7)));
}

#[test]
fn fields_round_trip_at_their_limits() {
    let table = EventRouteTable::<4>::new();
    let extreme = EventRoute {
        partition: PartitionRef(u32::MAX),
        port: 0xFF_FFFF,
        vp: u32::MAX,
        sint: Sint::new(15).unwrap(),
        base_flag: 2047,
        flag_count: 2048,
        serial: u64::MAX,
    };
    assert!(table.insert(0xFF_FFFF, extreme));
    assert_eq!(table.lookup(0xFF_FFFF), Lookup::Found(extreme));
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u32, u32),
    Remove(u32),
}

proptest! {
    /// Any sequence of inserts and removes behaves like a map (while it
    /// fits; an insert that does not fit changes nothing).
    #[test]
    fn behaves_like_a_map(ops in prop::collection::vec(prop_oneof![
        (0..24_u32, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        (0..24_u32).prop_map(Op::Remove),
    ], 1..200)) {
        let table = EventRouteTable::<16>::new();
        let mut model = BTreeMap::new();
        for op in ops {
            match op {
                Op::Insert(key, value) => {
                    if table.insert(key, route(value)) {
                        model.insert(key, route(value));
                    } else {
                        prop_assert!(model.len() >= 16 || !model.contains_key(&key));
                    }
                }
                Op::Remove(key) => {
                    prop_assert_eq!(table.remove(key), model.remove(&key).is_some());
                }
            }
            for key in 0..24 {
                let expected = model.get(&key).map_or(Lookup::Absent, |r| Lookup::Found(*r));
                prop_assert_eq!(table.lookup(key), expected);
            }
        }
    }
}

/// Readers on other threads while one writer rewrites the same
/// connections: every read is absent, contended, or exactly one of the
/// routes written for that connection.
#[test]
fn readers_never_see_a_torn_route() {
    let table = EventRouteTable::<16>::new();
    let done = AtomicBool::new(false);
    let valid = |connection: u32, route: &EventRoute| {
        (0..64).any(|generation| *route == self::route(connection * 1000 + generation))
    };
    thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                let mut reads = 0_u64;
                while !done.load(Ordering::Relaxed) || reads < 1000 {
                    for connection in 0..8 {
                        if let Lookup::Found(route) = table.lookup(connection) {
                            assert!(valid(connection, &route), "torn: {route:?}");
                        }
                    }
                    reads += 1;
                }
            });
        }
        for round in 0..20_000_u32 {
            let connection = round % 8;
            let generation = round / 8 % 64;
            if round % 5 == 4 {
                table.remove(connection);
            } else {
                table.insert(connection, route(connection * 1000 + generation));
            }
        }
        done.store(true, Ordering::Relaxed);
    });
}
