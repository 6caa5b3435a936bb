//! Deleting capabilities: delete, revoke, and the end of a domain.
//!
//! Every removal is reported to the caller's sink as a
//! [`Removal::CapDeleted`], followed by a [`Removal::ObjectReclaimed`] when
//! it was the object's last capability. No removal recurses: revocation
//! walks the derivation tree with its parent links, so the kernel stack
//! stays flat whatever the tree's shape.

use crate::cap::{Removal, RevokeProgress, SlotAddr};
use crate::cdt::{self, NodeIdx};
use crate::error::CapError;
use crate::id::CSpaceId;
use crate::object::KernelObject;
use crate::rights::Rights;
use crate::table::CapTable;

impl<O: KernelObject> CapTable<O> {
    /// Deletes the capability at `at`. Needs no right: a domain may always
    /// drop what it holds.
    ///
    /// Its children are *kept*: they move up to its parent (or become
    /// roots), so a revocation of any ancestor still reaches them.
    /// O(number of its children).
    ///
    /// # Errors
    ///
    /// Slot errors for `at`.
    pub fn delete(
        &mut self,
        at: SlotAddr,
        sink: &mut dyn FnMut(Removal<O>),
    ) -> Result<(), CapError> {
        let n = self.occupied_slot(at)?;
        cdt::reparent_children(&mut self.nodes, n);
        self.remove_node(n, sink);
        Ok(())
    }

    /// Deletes every descendant of the capability at `at`, in every
    /// capability space; the capability itself stays. Requires
    /// [`Rights::REVOKE`]. Returns how many capabilities went.
    /// O(descendants + their depth); see [`Self::revoke_bounded`] to cut
    /// the work into preemptible pieces.
    ///
    /// # Errors
    ///
    /// Slot errors for `at`; [`CapError::InsufficientRights`].
    pub fn revoke(
        &mut self,
        at: SlotAddr,
        sink: &mut dyn FnMut(Removal<O>),
    ) -> Result<usize, CapError> {
        let mut deleted = 0;
        while self.revoke_bounded(at, usize::MAX, &mut |r| {
            if matches!(r, Removal::CapDeleted { .. }) {
                deleted += 1;
            }
            sink(r);
        })? == RevokeProgress::More
        {}
        Ok(deleted)
    }

    /// Like [`Self::revoke`], but deletes at most `budget` capabilities
    /// (O(`budget` + depth of the tree below `at`) work), leaving the tree
    /// consistent. The kernel calls it again after a preemption point until
    /// it returns [`RevokeProgress::Done`]; the revoking system call MUST
    /// NOT return to its caller before that. A `budget` of 0 only checks.
    ///
    /// # Errors
    ///
    /// Slot errors for `at`; [`CapError::InsufficientRights`].
    pub fn revoke_bounded(
        &mut self,
        at: SlotAddr,
        budget: usize,
        sink: &mut dyn FnMut(Removal<O>),
    ) -> Result<RevokeProgress, CapError> {
        let root = self.occupied_slot(at)?;
        if !cdt::node(&self.nodes, root).rights.contains(Rights::REVOKE) {
            return Err(CapError::InsufficientRights);
        }
        let mut next = cdt::deepest_first_leaf(&self.nodes, root);
        let mut left = budget;
        while let Some(leaf) = next {
            if left == 0 {
                return Ok(RevokeProgress::More);
            }
            // `leaf` has no children: post order, so its removal needs no
            // re-parenting. Then continue from its parent's next child.
            let parent = cdt::node(&self.nodes, leaf).parent.expect("a descendant");
            self.remove_node(leaf, sink);
            left -= 1;
            next = if parent == root {
                cdt::deepest_first_leaf(&self.nodes, root)
            } else {
                Some(cdt::deepest_first_leaf(&self.nodes, parent).unwrap_or(parent))
            };
        }
        Ok(RevokeProgress::Done)
    }

    /// Deletes every capability in `cspace` (as [`Self::delete`] each: the
    /// capabilities it granted elsewhere survive, re-parented), for a
    /// domain that faulted or is being destroyed. Returns how many went.
    /// O(slots + their children).
    ///
    /// # Errors
    ///
    /// [`CapError::InvalidCSpace`].
    pub fn delete_all(
        &mut self,
        cspace: CSpaceId,
        sink: &mut dyn FnMut(Removal<O>),
    ) -> Result<usize, CapError> {
        let slots = self.slots(cspace)?;
        let mut deleted = 0;
        for selector in 0..slots {
            let at = SlotAddr::new(cspace, selector);
            if self.occupied_slot(at).is_ok() {
                self.delete(at, sink)?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// Deletes every capability in `cspace` and then the space itself, whose
    /// id goes stale. Objects the domain paid for that others still hold
    /// stay alive, and their charge goes with the domain's quota.
    ///
    /// # Errors
    ///
    /// [`CapError::InvalidCSpace`].
    pub fn destroy_cspace(
        &mut self,
        cspace: CSpaceId,
        sink: &mut dyn FnMut(Removal<O>),
    ) -> Result<(), CapError> {
        self.delete_all(cspace, sink)?;
        let space = self
            .cspaces
            .remove(cspace.raw())
            .ok_or(CapError::InvalidCSpace)?;
        self.reserved -= space.slots.len();
        Ok(())
    }

    /// Deletes every capability in `cspace` (as [`Self::delete_all`]) for a
    /// domain that is gone, and marks the space retired: it stays while
    /// objects or frames it paid for are alive elsewhere (their refunds
    /// still land in its quota), and goes with the last of them — then its
    /// quota returns to the space it came from ([`Self::create_child_cspace`]).
    ///
    /// # Errors
    ///
    /// [`CapError::InvalidCSpace`].
    pub fn retire_cspace(
        &mut self,
        cspace: CSpaceId,
        sink: &mut dyn FnMut(Removal<O>),
    ) -> Result<(), CapError> {
        self.delete_all(cspace, sink)?;
        self.cspace_mut(cspace)?.retired = true;
        self.release_if_settled(cspace);
        Ok(())
    }

    /// Removes a retired space once its quota holds nothing but its own
    /// slots, and gives its quota back to its parent (which may then go
    /// too, if retired and settled).
    pub(crate) fn release_if_settled(&mut self, cspace: CSpaceId) {
        let mut next = Some(cspace);
        while let Some(id) = next.take() {
            let Ok(space) = self.cspace(id) else {
                return;
            };
            let slots = space.slots.len() as u64 * Self::slot_cost();
            if !space.retired || space.quota.used() != slots {
                return;
            }
            let Some(space) = self.cspaces.remove(id.raw()) else {
                return;
            };
            self.reserved -= space.slots.len();
            if let Some(parent) = space.parent
                && let Ok(parent_space) = self.cspace_mut(parent)
            {
                let limit = space.quota.limit();
                parent_space.other -= limit;
                parent_space.quota.refund(limit);
                next = Some(parent);
            }
        }
    }

    /// Removes the childless node `n` from the tree, its slot and its
    /// object's count; reclaims the object if that was the last reference.
    fn remove_node(&mut self, n: NodeIdx, sink: &mut dyn FnMut(Removal<O>)) {
        debug_assert!(cdt::node(&self.nodes, n).first_child.is_none());
        let cap = self.capability(n);
        cdt::unlink(&mut self.nodes, n);
        let node = self.nodes.by_index(n).expect("live node").0;
        let node = self.nodes.remove(node).expect("live node");
        self.set_slot(node.at, None).expect("node's slot exists");
        sink(Removal::CapDeleted { at: node.at, cap });
        let record = self
            .objects
            .get_mut(node.object)
            .expect("live object record");
        record.refs -= 1;
        if record.refs == 0 {
            let record = self.objects.remove(node.object).expect("live");
            // The payer may be gone (destroyed with a quota of its own).
            if let Ok(space) = self.cspace_mut(record.payer) {
                space.quota.refund(record.bytes);
                self.release_if_settled(record.payer);
            }
            sink(Removal::ObjectReclaimed {
                object: record.object,
                bytes: record.bytes,
            });
        }
    }
}
