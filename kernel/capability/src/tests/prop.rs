//! Random derive/grant/transfer/delete/revoke sequences over a few spaces,
//! with every invariant checked after each step against a snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::vec::Vec;

use proptest::prelude::*;

use crate::{
    Badge, CSpaceId, CapTable, Capability, EndpointId, KernelObject, MemoryId, NotificationId,
    Object, Removal, RevokeProgress, Rights, SlotAddr,
};

const SPACES: u32 = 3;
const SLOTS: u32 = 8;

#[derive(Clone, Debug)]
enum Op {
    Create {
        dst: (u32, u32),
        kind: u8,
        rights: Ask,
    },
    Derive {
        src: Pick,
        dst: u32,
        rights: Ask,
        badge: Option<u64>,
    },
    Grant {
        from: Pick,
        to: (u32, u32),
        rights: Ask,
    },
    Transfer {
        from: Pick,
        to: (u32, u32),
    },
    Delete {
        at: Pick,
    },
    Revoke {
        at: Pick,
    },
    RevokeBounded {
        at: Pick,
        budget: usize,
    },
    DeleteAll {
        cs: u32,
    },
}

/// A source slot: mostly the n-th occupied one (so most operations have a
/// capability to work on), sometimes any slot.
#[derive(Clone, Copy, Debug)]
enum Pick {
    Occupied(usize),
    Any((u32, u32)),
}

fn slot() -> impl Strategy<Value = (u32, u32)> {
    // One selector past the end, to exercise InvalidSelector.
    (0..SPACES, 0..=SLOTS)
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![5 => any::<usize>().prop_map(Pick::Occupied), 1 => slot().prop_map(Pick::Any)]
}

/// Rights to ask for: `Mask` keeps only those the source holds (so most
/// derivations succeed), `Exact` asks for arbitrary bits.
#[derive(Clone, Copy, Debug)]
enum Ask {
    Mask(u32),
    Exact(u32),
}

fn rights() -> impl Strategy<Value = Ask> {
    prop_oneof![
        4 => any::<u32>().prop_map(|r| Ask::Mask(r | 0x700)),
        1 => any::<u32>().prop_map(Ask::Exact),
    ]
}

fn ask(t: &CapTable<Object>, src: SlotAddr, ask: Ask) -> Rights {
    match ask {
        Ask::Exact(bits) => Rights::from_bits_truncate(bits),
        Ask::Mask(bits) => t.get(src).map_or(Rights::empty(), |c| {
            c.rights & Rights::from_bits_truncate(bits)
        }),
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (slot(), 0u8..3, rights()).prop_map(|(dst, kind, rights)| Op::Create { dst, kind, rights }),
        8 => (pick(), 0..=SLOTS, rights(), proptest::option::weighted(0.25, 0u64..4))
            .prop_map(|(src, dst, rights, badge)| Op::Derive { src, dst, rights, badge }),
        6 => (pick(), slot(), rights()).prop_map(|(from, to, rights)| Op::Grant { from, to, rights }),
        2 => (pick(), slot()).prop_map(|(from, to)| Op::Transfer { from, to }),
        2 => pick().prop_map(|at| Op::Delete { at }),
        2 => pick().prop_map(|at| Op::Revoke { at }),
        1 => (pick(), 0usize..4).prop_map(|(at, budget)| Op::RevokeBounded { at, budget }),
        1 => (0..SPACES).prop_map(|cs| Op::DeleteAll { cs }),
    ]
}

type Snap = BTreeMap<SlotAddr, (Capability<Object>, Option<SlotAddr>)>;

fn snapshot(t: &CapTable<Object>, spaces: &[CSpaceId]) -> Snap {
    let mut snap = BTreeMap::new();
    for &cs in spaces {
        for sel in 0..t.slots(cs).unwrap() {
            let at = SlotAddr::new(cs, sel);
            if let Ok(cap) = t.get(at) {
                snap.insert(at, (cap, t.parent(at).unwrap()));
            }
        }
    }
    snap
}

fn descendants(snap: &Snap, root: SlotAddr) -> BTreeSet<SlotAddr> {
    snap.keys()
        .copied()
        .filter(|&at| {
            let mut cur = snap[&at].1;
            while let Some(p) = cur {
                if p == root {
                    return true;
                }
                cur = snap[&p].1;
            }
            false
        })
        .collect()
}

fn objects(snap: &Snap) -> BTreeSet<Object> {
    snap.values().map(|(c, _)| c.object).collect()
}

/// Every capability of `before` not in `changed` is still there, unchanged,
/// with its parent mapped by `parent_of` (identity unless re-parented).
fn untouched(
    before: &Snap,
    after: &Snap,
    changed: &BTreeSet<SlotAddr>,
    parent_of: impl Fn(SlotAddr, Option<SlotAddr>) -> Option<SlotAddr>,
) -> Result<(), TestCaseError> {
    for (at, (cap, parent)) in before {
        if changed.contains(at) {
            continue;
        }
        let Some((now, now_parent)) = after.get(at) else {
            return Err(TestCaseError::fail(std::format!("{at:?} vanished")));
        };
        prop_assert_eq!(now, cap, "capability at {:?} changed", at);
        prop_assert_eq!(*now_parent, parent_of(*at, *parent), "parent of {:?}", at);
    }
    for at in after.keys() {
        prop_assert!(
            before.contains_key(at) || changed.contains(at),
            "{:?} appeared",
            at
        );
    }
    Ok(())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut t = CapTable::<Object>::new();
    let spaces: Vec<CSpaceId> = (0..SPACES)
        .map(|_| t.create_cspace(SLOTS, 1 << 40).unwrap())
        .collect();
    let mut next_object = 0u32;
    for op in ops {
        let before = snapshot(&t, &spaces);
        let table_before = t.clone();
        let a = |(cs, sel): (u32, u32)| SlotAddr::new(spaces[cs as usize], sel);
        let occupied: Vec<SlotAddr> = before.keys().copied().collect();
        let p = |pick: Pick| match pick {
            Pick::Occupied(n) if !occupied.is_empty() => occupied[n % occupied.len()],
            Pick::Occupied(_) => a((0, 0)),
            Pick::Any(x) => a(x),
        };
        let mut removals = Vec::new();
        let mut sink = |r| removals.push(r);
        let result: Result<Option<RevokeProgress>, _> = match op.clone() {
            Op::Create { dst, kind, rights } => {
                next_object += 1;
                let object = match kind {
                    0 => Object::Endpoint(EndpointId::new(next_object, 0)),
                    1 => Object::Memory(MemoryId::new(next_object, 0)),
                    _ => Object::Notification(NotificationId::new(next_object, 0)),
                };
                let bits = match rights {
                    Ask::Mask(bits) => bits | 0x700,
                    Ask::Exact(bits) => bits,
                };
                let rights = Rights::from_bits_truncate(bits) & Rights::applicable(object.kind());
                t.create_object(a(dst), object, rights, 8).map(|()| None)
            }
            Op::Derive {
                src,
                dst,
                rights,
                badge,
            } => {
                let src = p(src);
                let rights = ask(&t, src, rights);
                t.derive(src.cspace, src.selector, dst, rights, badge.map(Badge))
                    .map(|()| None)
            }
            Op::Grant { from, to, rights } => {
                let rights = ask(&t, p(from), rights);
                t.grant(p(from), a(to), rights).map(|()| None)
            }
            Op::Transfer { from, to } => t.transfer(p(from), a(to)).map(|()| None),
            Op::Delete { at } => t.delete(p(at), &mut sink).map(|()| None),
            Op::Revoke { at } => t.revoke(p(at), &mut sink).map(|_| None),
            Op::RevokeBounded { at, budget } => {
                t.revoke_bounded(p(at), budget, &mut sink).map(Some)
            }
            Op::DeleteAll { cs } => t.delete_all(spaces[cs as usize], &mut sink).map(|_| None),
        };
        t.audit().map_err(TestCaseError::fail)?;
        let after = snapshot(&t, &spaces);

        // Never amplified, badges only on endpoints, checked directly too.
        for (at, (cap, parent)) in &after {
            if let Some(p) = parent {
                let (pcap, _) = &after[p];
                prop_assert!(pcap.rights.contains(cap.rights), "amplified at {:?}", at);
                prop_assert_eq!(pcap.object, cap.object);
                if pcap.badge.is_some() {
                    prop_assert_eq!(pcap.badge, cap.badge);
                }
            }
        }
        // Reclaimed exactly the objects that lost their last capability.
        let gone: BTreeSet<Object> = objects(&before)
            .difference(&objects(&after))
            .copied()
            .collect();
        let reported: BTreeSet<Object> = removals
            .iter()
            .filter_map(|r| match r {
                Removal::ObjectReclaimed { object, .. } => Some(*object),
                Removal::CapDeleted { .. } => None,
            })
            .collect();
        prop_assert_eq!(&gone, &reported);
        let deleted: BTreeSet<SlotAddr> = removals
            .iter()
            .filter_map(|r| match r {
                Removal::CapDeleted { at, .. } => Some(*at),
                Removal::ObjectReclaimed { .. } => None,
            })
            .collect();

        if result.is_err() {
            prop_assert!(t == table_before, "a failed {:?} changed the table", op);
            continue;
        }
        match op {
            Op::Create { dst, .. } => {
                let dst = a(dst);
                prop_assert_eq!(after[&dst].1, None);
                untouched(&before, &after, &BTreeSet::from([dst]), |_, p| p)?;
            }
            Op::Derive {
                src, dst, badge, ..
            } => {
                let src = p(src);
                let dst = SlotAddr::new(src.cspace, dst);
                let (child, parent) = after[&dst];
                let (scap, _) = before[&src];
                prop_assert_eq!(parent, Some(src));
                prop_assert!(scap.rights.contains(child.rights | Rights::DERIVE));
                prop_assert!(scap.badge.is_none() || badge.is_none());
                prop_assert_eq!(child.badge, badge.map(Badge).or(scap.badge));
                untouched(&before, &after, &BTreeSet::from([dst]), |_, p| p)?;
            }
            Op::Grant { from, to, .. } => {
                let (child, parent) = after[&a(to)];
                let (scap, _) = before[&p(from)];
                prop_assert_eq!(parent, Some(p(from)));
                prop_assert!(scap.rights.contains(child.rights | Rights::GRANT));
                prop_assert_eq!(child.badge, scap.badge);
                untouched(&before, &after, &BTreeSet::from([a(to)]), |_, p| p)?;
            }
            Op::Transfer { from, to } => {
                let (from, to) = (p(from), a(to));
                prop_assert!(!after.contains_key(&from));
                prop_assert_eq!(after[&to].0, before[&from].0);
                prop_assert_eq!(after[&to].1, before[&from].1);
                let moved = |_, p| if p == Some(from) { Some(to) } else { p };
                untouched(&before, &after, &BTreeSet::from([from, to]), moved)?;
            }
            Op::Delete { at } => {
                let at = p(at);
                prop_assert_eq!(&deleted, &BTreeSet::from([at]));
                let grand = before[&at].1;
                untouched(&before, &after, &deleted, |_, p| {
                    if p == Some(at) { grand } else { p }
                })?;
            }
            Op::Revoke { at } => {
                let at = p(at);
                let desc = descendants(&before, at);
                prop_assert_eq!(&deleted, &desc);
                prop_assert!(after.keys().all(|k| !desc.contains(k)));
                prop_assert!(after[&at].0.rights.contains(Rights::REVOKE));
                untouched(&before, &after, &desc, |_, p| p)?;
            }
            Op::RevokeBounded { at, budget } => {
                let at = p(at);
                let desc = descendants(&before, at);
                prop_assert!(deleted.is_subset(&desc));
                prop_assert!(deleted.len() <= budget);
                if result == Ok(Some(RevokeProgress::Done)) {
                    prop_assert_eq!(&deleted, &desc);
                } else {
                    prop_assert_eq!(deleted.len(), budget);
                }
                untouched(&before, &after, &deleted, |_, p| p)?;
            }
            Op::DeleteAll { cs } => {
                let cs = spaces[cs as usize];
                let mine: BTreeSet<SlotAddr> =
                    before.keys().copied().filter(|k| k.cspace == cs).collect();
                prop_assert_eq!(&deleted, &mine);
                // Survivors hang from their nearest surviving ancestor.
                let nearest = |_, mut p: Option<SlotAddr>| {
                    while let Some(x) = p {
                        if x.cspace != cs {
                            break;
                        }
                        p = before[&x].1;
                    }
                    p
                };
                untouched(&before, &after, &mine, nearest)?;
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_operation_sequences_keep_every_invariant(ops in proptest::collection::vec(op(), 1..120)) {
        run(ops)?;
    }
}
