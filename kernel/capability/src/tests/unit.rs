use std::vec::Vec;

use crate::{
    Badge, CSpaceId, CapError, CapTable, Capability, EndpointId, FRAME_BYTES, MemoryId,
    NotificationId, Object, ObjectKind, RawId, Removal, RevokeProgress, Rights, SlotAddr, ThreadId,
};

type Table = CapTable<Object>;

const EP: Object = Object::Endpoint(EndpointId::new(0, 0));
const MEM: Object = Object::Memory(MemoryId::new(0, 0));
const NTF: Object = Object::Notification(NotificationId::new(0, 0));
const BIG: u64 = 1 << 20;

fn ep_all() -> Rights {
    Rights::applicable(ObjectKind::Endpoint)
}

fn mem_all() -> Rights {
    Rights::applicable(ObjectKind::Memory)
}

fn at(cs: CSpaceId, sel: u32) -> SlotAddr {
    SlotAddr::new(cs, sel)
}

/// A table with two spaces of 16 slots, an endpoint in (a, 0) and a memory
/// region in (a, 1), each with every applicable right.
fn setup() -> (Table, CSpaceId, CSpaceId) {
    let mut t = Table::new();
    let a = t.create_cspace(16, BIG).unwrap();
    let b = t.create_cspace(16, BIG).unwrap();
    t.create_object(at(a, 0), EP, ep_all(), 100).unwrap();
    t.create_object(at(a, 1), MEM, mem_all(), 200).unwrap();
    t.audit().unwrap();
    (t, a, b)
}

fn collect(
    t: &mut Table,
    f: impl FnOnce(&mut Table, &mut dyn FnMut(Removal<Object>)),
) -> Vec<Removal<Object>> {
    let mut out = Vec::new();
    f(t, &mut |r| out.push(r));
    t.audit().unwrap();
    out
}

fn reclaimed(removals: &[Removal<Object>]) -> Vec<Object> {
    removals
        .iter()
        .filter_map(|r| match r {
            Removal::ObjectReclaimed { object, .. } => Some(*object),
            Removal::CapDeleted { .. } => None,
        })
        .collect()
}

fn deleted(removals: &[Removal<Object>]) -> Vec<SlotAddr> {
    removals
        .iter()
        .filter_map(|r| match r {
            Removal::CapDeleted { at, .. } => Some(*at),
            Removal::ObjectReclaimed { .. } => None,
        })
        .collect()
}

#[test]
fn cspace_charges_its_slots() {
    let mut t = Table::new();
    let cost = Table::slot_cost();
    let cs = t.create_cspace(4, 4 * cost + 10).unwrap();
    let q = t.quota(cs).unwrap();
    assert_eq!((q.used(), q.available()), (4 * cost, 10));
    assert_eq!(t.slots(cs), Ok(4));
    assert_eq!(t.occupied(cs), Ok(0));
    assert_eq!(
        t.create_cspace(4, 4 * cost - 1),
        Err(CapError::QuotaExhausted)
    );
    t.audit().unwrap();
}

#[test]
fn create_object_errors() {
    let (mut t, a, _) = setup();
    assert_eq!(
        t.create_object(at(a, 0), NTF, Rights::WAIT, 0),
        Err(CapError::SlotOccupied)
    );
    assert_eq!(
        t.create_object(at(a, 16), NTF, Rights::WAIT, 0),
        Err(CapError::InvalidSelector)
    );
    assert_eq!(
        t.create_object(at(a, 2), NTF, Rights::CALL, 0),
        Err(CapError::RightsNotApplicable)
    );
    assert_eq!(
        t.create_object(at(a, 2), NTF, Rights::WAIT, BIG),
        Err(CapError::QuotaExhausted)
    );
    let stale = CSpaceId(RawId::new(7, 0));
    assert_eq!(
        t.create_object(at(stale, 0), NTF, Rights::WAIT, 0),
        Err(CapError::InvalidCSpace)
    );
    t.audit().unwrap();
    let before = t.quota(a).unwrap().used();
    t.create_object(at(a, 2), NTF, Rights::WAIT | Rights::SIGNAL, 50)
        .unwrap();
    assert_eq!(t.quota(a).unwrap().used(), before + 50);
    assert_eq!(t.occupied(a), Ok(3));
}

#[test]
fn lookup_checks_in_order() {
    let (t, a, _) = setup();
    let stale = CSpaceId(RawId::new(a.index(), a.generation() + 1));
    let k = ObjectKind::Endpoint;
    assert_eq!(
        t.lookup(at(stale, 0), k, Rights::CALL),
        Err(CapError::InvalidCSpace)
    );
    assert_eq!(
        t.lookup(at(a, 99), k, Rights::CALL),
        Err(CapError::InvalidSelector)
    );
    assert_eq!(
        t.lookup(at(a, 5), k, Rights::CALL),
        Err(CapError::EmptySlot)
    );
    assert_eq!(
        t.lookup(at(a, 1), k, Rights::CALL),
        Err(CapError::WrongType)
    );
    assert_eq!(
        t.lookup(at(a, 1), ObjectKind::Memory, Rights::CALL),
        Err(CapError::InsufficientRights)
    );
    assert_eq!(
        t.lookup(at(a, 0), k, Rights::CALL | Rights::GRANT),
        Ok(Capability {
            object: EP,
            rights: ep_all(),
            badge: None
        })
    );
}

#[test]
fn derive_subsets_and_badges() {
    let (mut t, a, _) = setup();
    t.derive(
        a,
        0,
        2,
        Rights::CALL | Rights::DERIVE | Rights::GRANT,
        Some(Badge(7)),
    )
    .unwrap();
    assert_eq!(t.parent(at(a, 2)), Ok(Some(at(a, 0))));
    let child = t.get(at(a, 2)).unwrap();
    assert_eq!(child.badge, Some(Badge(7)));
    // A grandchild inherits the badge and cannot be re-badged.
    t.derive(a, 2, 3, Rights::CALL, None).unwrap();
    assert_eq!(t.get(at(a, 3)).unwrap().badge, Some(Badge(7)));
    assert_eq!(
        t.derive(a, 2, 4, Rights::CALL, Some(Badge(8))),
        Err(CapError::AlreadyBadged)
    );
    // Rights are never amplified.
    assert_eq!(
        t.derive(a, 2, 4, Rights::RECEIVE, None),
        Err(CapError::InsufficientRights)
    );
    // No DERIVE on the source.
    assert_eq!(
        t.derive(a, 3, 4, Rights::CALL, None),
        Err(CapError::InsufficientRights)
    );
    // Not applicable to the kind, even if asked of a full capability.
    assert_eq!(
        t.derive(a, 1, 4, Rights::CALL, None),
        Err(CapError::RightsNotApplicable)
    );
    assert_eq!(
        t.derive(a, 1, 4, Rights::READ, Some(Badge(1))),
        Err(CapError::BadgeNotApplicable)
    );
    // Slot errors.
    assert_eq!(
        t.derive(a, 9, 4, Rights::READ, None),
        Err(CapError::EmptySlot)
    );
    assert_eq!(
        t.derive(a, 1, 0, Rights::READ, None),
        Err(CapError::SlotOccupied)
    );
    assert_eq!(
        t.derive(a, 1, 1, Rights::READ, None),
        Err(CapError::SlotOccupied)
    );
    assert_eq!(
        t.derive(a, 1, 40, Rights::READ, None),
        Err(CapError::InvalidSelector)
    );
    t.audit().unwrap();
    assert_eq!(t.object_refs(at(a, 0)), Ok(3));
    let kids: Vec<_> = t.children(at(a, 0)).unwrap().collect();
    assert_eq!(kids, [at(a, 2)]);
}

#[test]
fn grant_needs_grant_and_links_across_spaces() {
    let (mut t, a, b) = setup();
    t.derive(a, 1, 2, Rights::READ | Rights::WRITE, None)
        .unwrap();
    assert_eq!(
        t.grant(at(a, 2), at(b, 0), Rights::READ),
        Err(CapError::InsufficientRights)
    );
    t.grant(at(a, 1), at(b, 0), Rights::READ | Rights::GRANT)
        .unwrap();
    assert_eq!(t.parent(at(b, 0)), Ok(Some(at(a, 1))));
    assert_eq!(
        t.grant(at(b, 0), at(b, 1), Rights::WRITE),
        Err(CapError::InsufficientRights)
    );
    assert_eq!(
        t.grant(at(b, 0), at(b, 0), Rights::READ),
        Err(CapError::SlotOccupied)
    );
    t.grant(at(b, 0), at(a, 3), Rights::READ).unwrap();
    t.audit().unwrap();
    let removals = collect(&mut t, |t, s| {
        assert_eq!(t.revoke(at(a, 1), s), Ok(3));
    });
    let mut gone = deleted(&removals);
    gone.sort();
    assert_eq!(gone, [at(a, 2), at(a, 3), at(b, 0)]);
    assert!(reclaimed(&removals).is_empty());
    assert_eq!(t.get(at(a, 1)).unwrap().rights, mem_all());
}

#[test]
fn transfer_moves_and_keeps_tree() {
    let (mut t, a, b) = setup();
    t.derive(
        a,
        0,
        2,
        Rights::CALL | Rights::GRANT | Rights::DERIVE,
        Some(Badge(1)),
    )
    .unwrap();
    t.derive(a, 2, 3, Rights::CALL, None).unwrap();
    assert_eq!(
        t.transfer(at(a, 3), at(b, 0)),
        Err(CapError::InsufficientRights)
    );
    assert_eq!(t.transfer(at(a, 2), at(a, 3)), Err(CapError::SlotOccupied));
    assert_eq!(t.transfer(at(a, 9), at(b, 0)), Err(CapError::EmptySlot));
    t.transfer(at(a, 2), at(b, 5)).unwrap();
    assert_eq!(t.get(at(a, 2)), Err(CapError::EmptySlot));
    assert_eq!(t.parent(at(b, 5)), Ok(Some(at(a, 0))));
    assert_eq!(t.parent(at(a, 3)), Ok(Some(at(b, 5))));
    assert_eq!(t.get(at(b, 5)).unwrap().badge, Some(Badge(1)));
    assert_eq!((t.occupied(a), t.occupied(b)), (Ok(3), Ok(1)));
    t.audit().unwrap();
}

#[test]
fn delete_keeps_children_and_reclaims_last() {
    let (mut t, a, b) = setup();
    // 1 -> 2 -> {3, b0}; 2 -> 4 (deleting 2 moves 3, 4, b0 under 1).
    t.derive(a, 1, 2, mem_all(), None).unwrap();
    t.derive(a, 2, 3, Rights::READ, None).unwrap();
    t.derive(a, 2, 4, Rights::READ, None).unwrap();
    t.grant(at(a, 2), at(b, 0), Rights::READ).unwrap();
    let r = collect(&mut t, |t, s| t.delete(at(a, 2), s).unwrap());
    assert_eq!(deleted(&r), [at(a, 2)]);
    for kid in [at(a, 3), at(a, 4), at(b, 0)] {
        assert_eq!(t.parent(kid), Ok(Some(at(a, 1))));
    }
    // Deleting a root makes its children roots; the object lives on.
    let r = collect(&mut t, |t, s| t.delete(at(a, 1), s).unwrap());
    assert!(reclaimed(&r).is_empty());
    assert_eq!(t.parent(at(a, 3)), Ok(None));
    // Delete needs no rights; the last one reclaims and refunds.
    let used = t.quota(a).unwrap().used();
    collect(&mut t, |t, s| t.delete(at(a, 3), s).unwrap());
    collect(&mut t, |t, s| t.delete(at(a, 4), s).unwrap());
    let r = collect(&mut t, |t, s| t.delete(at(b, 0), s).unwrap());
    assert_eq!(
        r.last(),
        Some(&Removal::ObjectReclaimed {
            object: MEM,
            bytes: 200
        })
    );
    assert_eq!(t.quota(a).unwrap().used(), used - 200);
    assert_eq!(
        collect(&mut t, |t, s| assert_eq!(
            t.delete(at(b, 0), s),
            Err(CapError::EmptySlot)
        ))
        .len(),
        0
    );
}

#[test]
fn revoke_needs_revoke_and_keeps_itself() {
    let (mut t, a, b) = setup();
    t.derive(a, 0, 2, Rights::CALL | Rights::DERIVE | Rights::GRANT, None)
        .unwrap();
    t.derive(a, 2, 3, Rights::CALL | Rights::GRANT, None)
        .unwrap();
    t.grant(at(a, 3), at(b, 3), Rights::CALL).unwrap();
    assert_eq!(
        collect(&mut t, |t, s| assert_eq!(
            t.revoke(at(a, 2), s),
            Err(CapError::InsufficientRights)
        ))
        .len(),
        0
    );
    // Unrelated capabilities stay.
    t.derive(a, 1, 5, Rights::READ, None).unwrap();
    let r = collect(&mut t, |t, s| assert_eq!(t.revoke(at(a, 0), s), Ok(3)));
    // Post order: leaves first.
    assert_eq!(deleted(&r), [at(b, 3), at(a, 3), at(a, 2)]);
    assert_eq!(t.get(at(a, 0)).unwrap().rights, ep_all());
    assert!(t.get(at(a, 5)).is_ok());
    assert_eq!(t.children(at(a, 0)).unwrap().count(), 0);
    assert_eq!(
        collect(&mut t, |t, s| assert_eq!(t.revoke(at(a, 0), s), Ok(0))).len(),
        0
    );
}

#[test]
fn revoke_bounded_makes_progress_and_stays_consistent() {
    let (mut t, a, b) = setup();
    // A bushy tree: 0 -> {2, 3}, 2 -> {4, b0, b1}, 3 -> {5}, 5 -> {6}.
    let all = ep_all();
    t.derive(a, 0, 2, all, None).unwrap();
    t.derive(a, 0, 3, all, None).unwrap();
    t.derive(a, 2, 4, all, None).unwrap();
    t.grant(at(a, 2), at(b, 0), all).unwrap();
    t.grant(at(a, 2), at(b, 1), all).unwrap();
    t.derive(a, 3, 5, all, None).unwrap();
    t.derive(a, 5, 6, all, None).unwrap();
    let mut steps = 0;
    let mut total = 0;
    loop {
        let mut n = 0;
        let p = t.revoke_bounded(at(a, 0), 2, &mut |r| {
            if matches!(r, Removal::CapDeleted { .. }) {
                n += 1;
            }
        });
        t.audit().unwrap();
        total += n;
        steps += 1;
        assert!(n <= 2);
        if p == Ok(RevokeProgress::Done) {
            break;
        }
        assert_eq!(p, Ok(RevokeProgress::More));
    }
    assert_eq!((total, steps), (7, 4));
    assert_eq!(t.occupied(b), Ok(0));
    assert_eq!(
        t.revoke_bounded(at(a, 0), 0, &mut |_| {}),
        Ok(RevokeProgress::Done)
    );
}

#[test]
fn revoke_of_a_deep_chain_does_not_recurse() {
    let mut t = Table::new();
    let n = 20_000;
    let cs = t.create_cspace(n, u64::MAX).unwrap();
    t.create_object(at(cs, 0), EP, ep_all(), 0).unwrap();
    for i in 1..n {
        t.derive(cs, i - 1, i, ep_all(), None).unwrap();
    }
    assert_eq!(t.revoke(at(cs, 0), &mut |_| {}), Ok(n as usize - 1));
    assert_eq!(t.occupied(cs), Ok(1));
    t.audit().unwrap();
}

#[test]
fn delete_all_and_destroy() {
    let (mut t, a, b) = setup();
    t.grant(at(a, 0), at(b, 0), Rights::CALL).unwrap();
    t.create_object(at(b, 1), NTF, Rights::WAIT, 30).unwrap();
    t.grant(at(b, 1), at(a, 2), Rights::WAIT).unwrap_err();
    t.create_object(
        at(b, 2),
        Object::Thread(ThreadId::new(3, 1)),
        Rights::CONTROL | Rights::GRANT,
        40,
    )
    .unwrap();
    t.grant(at(b, 2), at(a, 2), Rights::CONTROL).unwrap();
    let r = collect(&mut t, |t, s| assert_eq!(t.delete_all(b, s), Ok(3)));
    // The notification went with b; the endpoint and the thread live on in a.
    assert_eq!(reclaimed(&r), [NTF]);
    assert_eq!(t.parent(at(a, 2)), Ok(None));
    assert_eq!(t.quota(b).unwrap().used(), 16 * Table::slot_cost() + 40);
    t.destroy_cspace(b, &mut |_| {}).unwrap();
    assert_eq!(t.get(at(b, 0)), Err(CapError::InvalidCSpace));
    assert_eq!(
        t.destroy_cspace(b, &mut |_| {}),
        Err(CapError::InvalidCSpace)
    );
    // The thread's payer is gone: its refund goes nowhere.
    let r = collect(&mut t, |t, s| t.delete(at(a, 2), s).unwrap());
    assert_eq!(reclaimed(&r).len(), 1);
    // A new space reusing b's index gets a new generation.
    let c = t.create_cspace(4, BIG).unwrap();
    assert_eq!(c.index(), b.index());
    assert_ne!(c, b);
    t.audit().unwrap();
}

#[test]
fn other_charges() {
    let (mut t, a, _) = setup();
    let avail = t.quota(a).unwrap().available();
    t.charge(a, 1000).unwrap();
    assert_eq!(t.quota(a).unwrap().available(), avail - 1000);
    assert_eq!(t.charge(a, avail), Err(CapError::QuotaExhausted));
    t.audit().unwrap();
    t.refund(a, 1000).unwrap();
    assert_eq!(t.quota(a).unwrap().available(), avail);
}

#[test]
fn frames_are_charged_per_quota_and_counted_in_total() {
    let (mut t, a, b) = setup();
    let avail = t.quota(a).unwrap().available();
    t.charge_frames(a, 3).unwrap();
    t.charge_frames(b, 2).unwrap();
    assert_eq!(t.quota(a).unwrap().available(), avail - 3 * FRAME_BYTES);
    assert_eq!((t.frames(a), t.frames(b)), (Ok(3), Ok(2)));
    assert_eq!(t.charged_frames(), 5);
    t.audit().unwrap();
    // More frames than the quota holds: refused, nothing charged.
    let left = t.quota(a).unwrap().available() / FRAME_BYTES;
    assert_eq!(t.charge_frames(a, left + 1), Err(CapError::QuotaExhausted));
    assert_eq!(t.charge_frames(a, u64::MAX), Err(CapError::QuotaExhausted));
    assert_eq!(t.charged_frames(), 5);
    t.refund_frames(a, 3).unwrap();
    assert_eq!(t.quota(a).unwrap().available(), avail);
    assert_eq!(t.charged_frames(), 2);
    t.audit().unwrap();
}

#[test]
fn a_child_space_is_paid_from_its_parent_and_pays_it_back_when_retired() {
    let (mut t, a, _) = setup();
    let before = t.quota(a).unwrap().available();
    let child = t.create_child_cspace(a, 4, 10_000).unwrap();
    assert_eq!(t.quota(a).unwrap().available(), before - 10_000);
    // More than the parent has: refused, nothing charged.
    assert_eq!(
        t.create_child_cspace(a, 4, before),
        Err(CapError::QuotaExhausted)
    );
    t.charge_frames(child, 1).unwrap();
    t.audit().unwrap();
    t.retire_cspace(child, &mut |_| {}).unwrap();
    // A frame it paid for is still out: the space stays, retired.
    assert!(t.quota(child).is_ok());
    assert_eq!(t.quota(a).unwrap().available(), before - 10_000);
    t.refund_frames(child, 1).unwrap();
    assert_eq!(t.quota(child), Err(CapError::InvalidCSpace));
    assert_eq!(t.quota(a).unwrap().available(), before);
    t.audit().unwrap();
}

#[test]
fn a_retired_space_stays_while_an_object_it_paid_for_lives_elsewhere() {
    let (mut t, a, b) = setup();
    let before = t.quota(a).unwrap().available();
    let child = t.create_child_cspace(a, 4, 10_000).unwrap();
    t.create_object(at(child, 0), MEM, mem_all(), 300).unwrap();
    t.grant(at(child, 0), at(b, 5), Rights::READ).unwrap();
    let mut reclaimed = Vec::new();
    t.retire_cspace(child, &mut |r| reclaimed.push(r)).unwrap();
    assert!(
        !reclaimed
            .iter()
            .any(|r| matches!(r, Removal::ObjectReclaimed { .. })),
        "the grant in b keeps the region"
    );
    assert!(t.quota(child).is_ok());
    t.audit().unwrap();
    t.delete(at(b, 5), &mut |_| {}).unwrap();
    assert_eq!(t.quota(child), Err(CapError::InvalidCSpace));
    assert_eq!(t.quota(a).unwrap().available(), before);
    t.audit().unwrap();
}

#[test]
#[should_panic(expected = "frame refund exceeds")]
fn refunding_frames_never_charged_is_a_kernel_bug() {
    let (mut t, a, _) = setup();
    t.refund_frames(a, 1).unwrap();
}

#[test]
#[should_panic(expected = "refund exceeds")]
fn over_refund_is_a_kernel_bug() {
    let (mut t, a, _) = setup();
    t.refund(a, 1).unwrap();
}

#[test]
fn error_codes_are_stable() {
    assert_eq!(CapError::InvalidCSpace.code(), 1);
    assert_eq!(CapError::QuotaExhausted.code(), 10);
    assert_eq!(CapError::OutOfMemory.code(), 11);
}

#[test]
fn rights_table() {
    for kind in ObjectKind::ALL {
        assert!(Rights::applicable(kind).contains(Rights::GENERIC));
    }
    assert!(!Rights::applicable(ObjectKind::Endpoint).contains(Rights::READ));
    assert!(Rights::applicable(ObjectKind::Vp).contains(Rights::CONTROL));
}

#[test]
fn grant_badged_badges_an_endpoint_across_spaces_once() {
    let (mut t, a, b) = setup();
    t.grant_badged(at(a, 0), at(b, 0), Rights::CALL, Badge(7))
        .unwrap();
    let cap = t.get(at(b, 0)).unwrap();
    assert_eq!(cap.badge, Some(Badge(7)));
    assert_eq!(cap.rights, Rights::CALL);
    assert_eq!(t.parent(at(b, 0)), Ok(Some(at(a, 0))));
    // A badged capability cannot be re-badged, and memory takes no badge.
    t.grant(at(a, 0), at(b, 1), Rights::CALL | Rights::GRANT)
        .unwrap();
    t.grant_badged(at(b, 1), at(b, 2), Rights::CALL, Badge(8))
        .unwrap();
    assert_eq!(
        t.grant_badged(at(b, 2), at(b, 3), Rights::CALL, Badge(9)),
        Err(CapError::InsufficientRights)
    );
    t.grant_badged(at(a, 0), at(b, 4), Rights::CALL | Rights::GRANT, Badge(1))
        .unwrap();
    assert_eq!(
        t.grant_badged(at(b, 4), at(b, 5), Rights::CALL, Badge(2)),
        Err(CapError::AlreadyBadged)
    );
    assert_eq!(
        t.grant_badged(at(a, 1), at(b, 6), Rights::READ, Badge(3)),
        Err(CapError::BadgeNotApplicable)
    );
    t.audit().unwrap();
}
