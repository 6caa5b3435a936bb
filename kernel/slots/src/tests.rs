use std::collections::BTreeMap;
use std::vec::Vec;

use proptest::prelude::*;

use crate::fallible::{try_push, try_with_capacity};
use crate::{Arena, OutOfMemory, RawId, SlotId, Slots};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PartitionId(RawId);

impl SlotId for PartitionId {
    fn from_raw(raw: RawId) -> Self {
        Self(raw)
    }

    fn to_raw(self) -> RawId {
        self.0
    }
}

#[test]
fn an_id_survives_a_trip_through_one_word() {
    let id = RawId::new(0xFFFF_FFFE, 7);
    assert_eq!(RawId::from_word(id.to_word()), id);
    assert_ne!(RawId::new(1, 0).to_word(), RawId::new(0, 1).to_word());
}

#[test]
fn arena_generations() {
    let mut arena = Arena::new();
    let a = arena.insert('a').unwrap();
    arena.remove(a).unwrap();
    let b = arena.insert('b').unwrap();
    assert_eq!(a.index(), b.index());
    assert_ne!(a, b);
    assert_eq!(arena.get(a), None);
    assert_eq!(arena.get(b), Some(&'b'));
    assert_eq!(arena.remove(a), None);
    assert_eq!(arena.len(), 1);
}

/// What issue 9 finding 2 was about: create and delete in a loop must not
/// grow the table (the kernel's tables used to append forever).
#[test]
fn churn_reuses_one_slot_and_the_storage_stays_flat() {
    let mut table: Slots<PartitionId, [u64; 8]> = Slots::new();
    let kept = table.insert([1; 8]).unwrap();
    let mut last = None;
    for round in 0..200_000u64 {
        let id = table.insert([round; 8]).unwrap();
        assert_eq!(table.get(id), Some(&[round; 8]));
        assert_eq!(table.remove(id), Some([round; 8]));
        if let Some(previous) = last {
            assert_eq!(table.get(previous), None, "a stale id finds nothing");
        }
        last = Some(id);
    }
    assert_eq!(table.slots_used(), 2);
    assert_eq!(table.len(), 1);
    assert_eq!(table.get(kept), Some(&[1; 8]));
}

#[test]
fn a_stale_id_neither_reads_nor_removes_the_new_occupant() {
    let mut table: Slots<PartitionId, &str> = Slots::new();
    let old = table.insert("old").unwrap();
    table.remove(old);
    let new = table.insert("new").unwrap();
    assert_eq!(old.0.index(), new.0.index());
    assert_eq!(table.get(old), None);
    assert_eq!(table.get_mut(old), None);
    assert_eq!(table.remove(old), None);
    assert!(!table.contains(old));
    assert_eq!(table.get(new), Some(&"new"));
}

#[test]
fn next_id_walks_live_values_while_the_table_changes() {
    let mut table: Slots<PartitionId, u32> = Slots::new();
    let ids: Vec<PartitionId> = (0..6).map(|n| table.insert(n).unwrap()).collect();
    table.remove(ids[1]);
    table.remove(ids[4]);
    let mut seen = Vec::new();
    let mut at = table.next_id(None);
    while let Some(id) = at {
        seen.push(*table.get(id).unwrap());
        // Removing what the walk stands on does not lose its place.
        table.remove(id);
        at = table.next_id(Some(id));
    }
    assert_eq!(seen, [0, 2, 3, 5]);
    assert!(table.is_empty());
}

#[test]
fn reserve_makes_room_without_moving_live_values() {
    let mut table: Slots<PartitionId, u8> = Slots::new();
    table.reserve(4).unwrap();
    let before = table.slots_used();
    let ids: Vec<PartitionId> = (0..4).map(|n| table.insert(n).unwrap()).collect();
    assert_eq!(before, 0);
    assert_eq!(table.iter().map(|(id, _)| id).collect::<Vec<_>>(), ids);
}

#[test]
fn fallible_helpers_fail_instead_of_aborting() {
    let mut vec = Vec::new();
    try_push(&mut vec, 1u8).unwrap();
    assert_eq!(vec, [1]);
    // More than any allocator can give: an error, not an abort.
    assert_eq!(
        try_with_capacity::<u64>(usize::MAX / 4).err(),
        Some(OutOfMemory)
    );
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u16),
    Remove(usize),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            any::<u16>().prop_map(Op::Insert),
            any::<usize>().prop_map(Op::Remove),
        ],
        0..300,
    )
}

proptest! {
    /// Against a map of what should be live: every live id finds its value,
    /// every removed id finds nothing, and the storage never grows past
    /// the most values that were live at once.
    #[test]
    fn slots_match_a_model(ops in ops()) {
        let mut table: Slots<PartitionId, u16> = Slots::new();
        let mut live: BTreeMap<(u32, u32), (PartitionId, u16)> = BTreeMap::new();
        let mut dead: Vec<PartitionId> = Vec::new();
        let mut most = 0;
        for op in ops {
            match op {
                Op::Insert(value) => {
                    let id = table.insert(value).unwrap();
                    let key = (id.0.index(), id.0.generation());
                    prop_assert!(live.insert(key, (id, value)).is_none());
                }
                Op::Remove(pick) if !live.is_empty() => {
                    let key = *live.keys().nth(pick % live.len()).unwrap();
                    let (id, value) = live.remove(&key).unwrap();
                    prop_assert_eq!(table.remove(id), Some(value));
                    dead.push(id);
                }
                Op::Remove(_) => {}
            }
            most = most.max(live.len());
            prop_assert_eq!(table.len(), live.len());
            prop_assert!(table.slots_used() as usize <= most);
        }
        for (id, value) in live.values() {
            prop_assert_eq!(table.get(*id), Some(value));
        }
        for id in dead {
            prop_assert_eq!(table.get(id), None);
        }
    }
}
