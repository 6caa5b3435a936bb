//! Capabilities as the table hands them out, and slot addresses.

use crate::id::CSpaceId;
use crate::rights::Rights;

/// A slot number inside a capability space.
pub type Selector = u32;

/// Where a capability lives: a capability space and a slot in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotAddr {
    /// The capability space.
    pub cspace: CSpaceId,
    /// The slot.
    pub selector: Selector,
}

impl SlotAddr {
    /// Slot `selector` of `cspace`.
    #[must_use]
    pub const fn new(cspace: CSpaceId, selector: Selector) -> Self {
        Self { cspace, selector }
    }
}

/// A value a server gives an endpoint capability before handing it to a
/// client; the kernel delivers it with every call made through that
/// capability (or its descendants), so the server knows who called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Badge(pub u64);

/// A copy of what a slot holds: the object, the rights, and the badge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Capability<O> {
    /// The object named.
    pub object: O,
    /// The rights held on it.
    pub rights: Rights,
    /// The badge (endpoint capabilities only), fixed once set.
    pub badge: Option<Badge>,
}

/// What a deleting operation removed, reported one item at a time to the
/// caller's sink so the kernel can undo mappings and free objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Removal<O> {
    /// The capability at `at` is gone. For a memory capability the kernel
    /// MUST remove the mappings made through it (and shoot down TLBs on
    /// every CPU) before the revoking system call returns.
    CapDeleted {
        /// Where it was.
        at: SlotAddr,
        /// What it was.
        cap: Capability<O>,
    },
    /// The last capability to `object` is gone: the kernel MUST destroy the
    /// object (for an endpoint or notification, via `tessera_ipc`, which
    /// wakes its waiters with an error) and free its memory. The table has
    /// already refunded `bytes` to the quota that paid for it.
    ObjectReclaimed {
        /// The object.
        object: O,
        /// What its creation charged.
        bytes: u64,
    },
}

/// How far a bounded revocation got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RevokeProgress {
    /// No descendant is left.
    Done,
    /// The budget ran out; call again (e.g. after a preemption point).
    More,
}
