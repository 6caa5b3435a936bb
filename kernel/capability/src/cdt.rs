//! The capability derivation tree: nodes and their links.
//!
//! One node per capability, in one arena for every capability space, so a
//! derivation can cross spaces (a grant) and revocation can find every
//! descendant wherever it went. Links are arena indices: parent, first
//! child, and previous/next sibling, so linking and unlinking are O(1).
//! Roots (capabilities made by object creation, or orphaned by deletion of
//! a root) have no parent and no siblings.

use crate::arena::Arena;
use crate::cap::{Badge, SlotAddr};
use crate::id::RawId;
use crate::rights::Rights;

/// Index of a node in the node arena.
pub(crate) type NodeIdx = u32;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Node {
    /// The object record (see `table::ObjectRecord`).
    pub object: RawId,
    pub rights: Rights,
    pub badge: Option<Badge>,
    /// The slot that holds this capability.
    pub at: SlotAddr,
    pub parent: Option<NodeIdx>,
    pub first_child: Option<NodeIdx>,
    pub prev: Option<NodeIdx>,
    pub next: Option<NodeIdx>,
}

pub(crate) type Nodes = Arena<Node>;

#[inline]
pub(crate) fn node(nodes: &Nodes, n: NodeIdx) -> &Node {
    nodes
        .by_index(n)
        .map(|(_, node)| node)
        .expect("CDT link to a free node")
}

pub(crate) fn node_mut(nodes: &mut Nodes, n: NodeIdx) -> &mut Node {
    nodes.by_index_mut(n).expect("CDT link to a free node")
}

/// Makes the unlinked node `child` the first child of `parent`.
pub(crate) fn link_first_child(nodes: &mut Nodes, parent: NodeIdx, child: NodeIdx) {
    let old_first = node(nodes, parent).first_child;
    {
        let c = node_mut(nodes, child);
        debug_assert!(c.parent.is_none() && c.prev.is_none() && c.next.is_none());
        c.parent = Some(parent);
        c.next = old_first;
    }
    if let Some(f) = old_first {
        node_mut(nodes, f).prev = Some(child);
    }
    node_mut(nodes, parent).first_child = Some(child);
}

/// Takes `n` out of its parent's child list; its own children stay with it.
pub(crate) fn unlink(nodes: &mut Nodes, n: NodeIdx) {
    let (parent, prev, next) = {
        let x = node(nodes, n);
        (x.parent, x.prev, x.next)
    };
    match prev {
        Some(p) => node_mut(nodes, p).next = next,
        None => {
            if let Some(p) = parent {
                node_mut(nodes, p).first_child = next;
            }
        }
    }
    if let Some(x) = next {
        node_mut(nodes, x).prev = prev;
    }
    let x = node_mut(nodes, n);
    x.parent = None;
    x.prev = None;
    x.next = None;
}

/// Hands the children of `n` to `n`'s parent (in order, in front of the
/// parent's other children), or makes each a root if `n` is one.
/// O(number of children of `n`).
pub(crate) fn reparent_children(nodes: &mut Nodes, n: NodeIdx) {
    let Some(first) = node_mut(nodes, n).first_child.take() else {
        return;
    };
    let grandparent = node(nodes, n).parent;
    let mut cur = Some(first);
    let mut last = first;
    while let Some(c) = cur {
        let x = node_mut(nodes, c);
        x.parent = grandparent;
        last = c;
        cur = x.next;
        if grandparent.is_none() {
            x.prev = None;
            x.next = None;
        }
    }
    if let Some(g) = grandparent {
        let old_first = node(nodes, g).first_child;
        node_mut(nodes, last).next = old_first;
        if let Some(f) = old_first {
            node_mut(nodes, f).prev = Some(last);
        }
        node_mut(nodes, g).first_child = Some(first);
    }
}

/// The next descendant of `root` to delete in post order: a leaf, found by
/// descending first children from `root`'s first child. O(depth).
pub(crate) fn deepest_first_leaf(nodes: &Nodes, root: NodeIdx) -> Option<NodeIdx> {
    let mut cur = node(nodes, root).first_child?;
    while let Some(c) = node(nodes, cur).first_child {
        cur = c;
    }
    Some(cur)
}
