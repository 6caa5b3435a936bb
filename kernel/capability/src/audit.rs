//! A full consistency check of the table, for tests and kernel debug builds.

use crate::cap::SlotAddr;
use crate::cdt;
use crate::id::CSpaceId;
use crate::object::{KernelObject, ObjectKind};
use crate::rights::Rights;
use crate::table::CapTable;

impl<O: KernelObject> CapTable<O> {
    /// Checks every invariant of the table and names the first one broken:
    ///
    /// - each occupied slot holds a live node that records that slot, and
    ///   each node is in exactly the slot it records; slot counts match;
    /// - the derivation tree has no dangling or asymmetric link and no
    ///   cycle; a child names the same object as its parent, holds a
    ///   subset of its rights, and keeps its badge if it had one;
    /// - every capability's rights apply to its kind; only endpoint
    ///   capabilities carry badges;
    /// - each object's count is the number of capabilities naming it;
    /// - each quota's use is its slots, the objects it paid for that are
    ///   still alive, its frames and its other charges; the frames of all
    ///   quotas add up to the total charged.
    ///
    /// O(capabilities × depth); not for hot paths.
    ///
    /// # Errors
    ///
    /// A description of the broken invariant.
    pub fn audit(&self) -> Result<(), &'static str> {
        let mut occupied_total = 0usize;
        let mut frames_total = 0u64;
        for (id, space) in self.cspaces.iter() {
            let cspace = CSpaceId(id);
            let mut occupied = 0;
            for (selector, slot) in space.slots.iter().enumerate() {
                let Some(n) = *slot else { continue };
                occupied += 1;
                let node = self.nodes.by_index(n).ok_or("slot names a free node")?.1;
                let at = SlotAddr::new(cspace, u32::try_from(selector).expect("fits"));
                if node.at != at {
                    return Err("node records another slot than the one holding it");
                }
            }
            if occupied != space.occupied {
                return Err("slot count out of step");
            }
            occupied_total += occupied as usize;
            let mut paid = 0u64;
            for (_, record) in self.objects.iter() {
                if record.payer == cspace {
                    paid += record.bytes;
                }
            }
            let slots = space.slots.len() as u64 * Self::slot_cost();
            let frames = space.frames * crate::accounting::FRAME_BYTES;
            if space.quota.used() != slots + paid + frames + space.other {
                return Err("quota use differs from slots + objects + frames + other charges");
            }
            frames_total += space.frames;
        }
        if frames_total != self.charged_frames {
            return Err("the quotas' frames differ from the total charged");
        }
        if occupied_total != self.nodes.len() {
            return Err("a node is in no slot");
        }
        for (id, node) in self.nodes.iter() {
            let n = id.index();
            let record = self
                .objects
                .get(node.object)
                .ok_or("node names a dead object")?;
            let kind = record.object.kind();
            if !Rights::applicable(kind).contains(node.rights) {
                return Err("rights do not apply to the kind");
            }
            if node.badge.is_some() && kind != ObjectKind::Endpoint {
                return Err("badge on a non-endpoint");
            }
            if self.occupied_slot(node.at) != Ok(n) {
                return Err("node's slot does not hold it");
            }
            match node.prev {
                Some(p) => {
                    let prev = self.nodes.by_index(p).ok_or("dangling prev")?.1;
                    if prev.next != Some(n) || prev.parent != node.parent {
                        return Err("prev/next asymmetric");
                    }
                }
                None => match node.parent {
                    Some(p) => {
                        let parent = self.nodes.by_index(p).ok_or("dangling parent")?.1;
                        if parent.first_child != Some(n) {
                            return Err("first child not linked from its parent");
                        }
                    }
                    None if node.next.is_some() => return Err("root with siblings"),
                    None => {}
                },
            }
            if let Some(x) = node.next {
                let next = self.nodes.by_index(x).ok_or("dangling next")?.1;
                if next.prev != Some(n) {
                    return Err("next/prev asymmetric");
                }
            }
            if let Some(c) = node.first_child {
                let child = self.nodes.by_index(c).ok_or("dangling first child")?.1;
                if child.parent != Some(n) || child.prev.is_some() {
                    return Err("first child does not point back");
                }
            }
            if let Some(p) = node.parent {
                let parent = cdt::node(&self.nodes, p);
                if parent.object != node.object {
                    return Err("child names another object than its parent");
                }
                if !parent.rights.contains(node.rights) {
                    return Err("rights amplified");
                }
                if parent.badge.is_some() && parent.badge != node.badge {
                    return Err("badge changed");
                }
            }
            let mut cur = node.parent;
            let mut steps = 0;
            while let Some(p) = cur {
                steps += 1;
                if steps > self.nodes.len() {
                    return Err("cycle in the derivation tree");
                }
                cur = cdt::node(&self.nodes, p).parent;
            }
        }
        for (id, record) in self.objects.iter() {
            let refs = self.nodes.iter().filter(|(_, n)| n.object == id).count();
            if refs != record.refs as usize || refs == 0 {
                return Err("object count differs from its capabilities");
            }
        }
        Ok(())
    }
}
