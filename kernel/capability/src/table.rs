//! The capability table: every capability space, the derivation tree that
//! links them, the object records, and the quotas.

use alloc::vec::Vec;
use core::mem::size_of;

use crate::arena::Arena;
use crate::cap::{Badge, Capability, Selector, SlotAddr};
use crate::cdt::{self, Node, NodeIdx, Nodes};
use crate::error::CapError;
use crate::id::{CSpaceId, RawId};
use crate::object::{KernelObject, ObjectKind};
use crate::quota::Quota;
use crate::rights::Rights;

/// One object that capabilities name, with its reference count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ObjectRecord<O> {
    pub object: O,
    /// Number of capabilities naming it.
    pub refs: u32,
    /// Charged to `payer` at creation, refunded at reclaim.
    pub bytes: u64,
    pub payer: CSpaceId,
}

/// A capability space: slots addressed by selector, and the owning
/// domain's quota.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CSpace {
    pub slots: Vec<Option<NodeIdx>>,
    pub quota: Quota,
    pub occupied: u32,
    /// Bytes charged through [`CapTable::charge`] and not yet refunded.
    pub other: u64,
    /// Frames charged through [`CapTable::charge_frames`] and not yet
    /// refunded.
    pub frames: u64,
    /// The space whose quota this one's came out of
    /// ([`CapTable::create_child_cspace`]).
    pub parent: Option<CSpaceId>,
    /// Its domain is gone ([`CapTable::retire_cspace`]); the space goes
    /// once nothing it paid for is left.
    pub retired: bool,
}

/// Every capability space and the derivation tree across them.
///
/// Operations that fail change nothing. Lookups are O(1); see each
/// operation for its bound. Once a capability space exists, no operation
/// on it allocates: the node and object arenas are reserved for the slots
/// of every live space when the space is created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapTable<O> {
    pub(crate) cspaces: Arena<CSpace>,
    pub(crate) nodes: Nodes,
    pub(crate) objects: Arena<ObjectRecord<O>>,
    /// Sum of the slots of every live capability space.
    pub(crate) reserved: usize,
    /// Frames charged to every quota together.
    pub(crate) charged_frames: u64,
}

impl<O: KernelObject> Default for CapTable<O> {
    fn default() -> Self {
        Self::new()
    }
}

impl<O: KernelObject> CapTable<O> {
    /// An empty table; allocates nothing.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            cspaces: Arena::new(),
            nodes: Arena::new(),
            objects: Arena::new(),
            reserved: 0,
            charged_frames: 0,
        }
    }

    /// Kernel memory one capability slot costs its domain: the slot, the
    /// derivation-tree node and the object record it may need.
    #[must_use]
    pub const fn slot_cost() -> u64 {
        (size_of::<Option<NodeIdx>>() + size_of::<Node>() + size_of::<ObjectRecord<O>>()) as u64
    }

    /// Creates a capability space of `slots` slots for a domain whose
    /// manifest quota is `quota` bytes, and charges the slots
    /// ([`Self::slot_cost`] each) to that quota.
    ///
    /// # Errors
    ///
    /// [`CapError::QuotaExhausted`] if the quota cannot pay for the slots;
    /// [`CapError::OutOfMemory`] if the kernel heap cannot hold them.
    pub fn create_cspace(&mut self, slots: Selector, quota: u64) -> Result<CSpaceId, CapError> {
        let mut quota = Quota::new(quota);
        quota.charge(u64::from(slots).saturating_mul(Self::slot_cost()))?;
        let slots = slots as usize;
        let reserved = self
            .reserved
            .checked_add(slots)
            .ok_or(CapError::OutOfMemory)?;
        self.nodes
            .ensure_capacity(reserved)
            .map_err(|_| CapError::OutOfMemory)?;
        self.objects
            .ensure_capacity(reserved)
            .map_err(|_| CapError::OutOfMemory)?;
        let mut storage = Vec::new();
        storage
            .try_reserve_exact(slots)
            .map_err(|_| CapError::OutOfMemory)?;
        storage.resize(slots, None);
        let id = self
            .cspaces
            .insert(CSpace {
                slots: storage,
                quota,
                occupied: 0,
                other: 0,
                frames: 0,
                parent: None,
                retired: false,
            })
            .map_err(|_| CapError::OutOfMemory)?;
        self.reserved = reserved;
        Ok(CSpaceId(id))
    }

    /// Like [`Self::create_cspace`], for a domain made by the domain of
    /// `parent`: its quota is charged to `parent`'s (no domain can make
    /// memory it was not given) and returns there when the new space is
    /// retired and settled ([`Self::retire_cspace`]).
    ///
    /// # Errors
    ///
    /// As [`Self::create_cspace`], and [`CapError::InvalidCSpace`] or
    /// [`CapError::QuotaExhausted`] for `parent`; nothing changes then.
    pub fn create_child_cspace(
        &mut self,
        parent: CSpaceId,
        slots: Selector,
        quota: u64,
    ) -> Result<CSpaceId, CapError> {
        self.charge(parent, quota)?;
        match self.create_cspace(slots, quota) {
            Ok(child) => {
                self.cspace_mut(child)?.parent = Some(parent);
                Ok(child)
            }
            Err(error) => {
                self.refund(parent, quota)?;
                Err(error)
            }
        }
    }

    /// Creates the first capability to a new object in the empty slot
    /// `dst`, and charges `bytes` (the object's kernel memory) to the quota
    /// of `dst`'s capability space. The capability is a derivation-tree
    /// root. The kernel MUST call this once per object, with a fresh id.
    ///
    /// # Errors
    ///
    /// Slot errors for `dst`; [`CapError::RightsNotApplicable`] if `rights`
    /// include one that does not apply to the object's kind;
    /// [`CapError::QuotaExhausted`].
    pub fn create_object(
        &mut self,
        dst: SlotAddr,
        object: O,
        rights: Rights,
        bytes: u64,
    ) -> Result<(), CapError> {
        self.empty_slot(dst)?;
        check_applicable(object.kind(), rights)?;
        self.cspace_mut(dst.cspace)?.quota.charge(bytes)?;
        let record = ObjectRecord {
            object,
            refs: 0,
            bytes,
            payer: dst.cspace,
        };
        let obj = match self.objects.insert(record) {
            Ok(obj) => obj,
            Err(_) => {
                self.cspace_mut(dst.cspace)?.quota.refund(bytes);
                return Err(CapError::OutOfMemory);
            }
        };
        self.place(dst, obj, rights, None, None)
    }

    /// The capability at `at`, checked against the kind and rights the
    /// system call needs. O(1).
    ///
    /// # Errors
    ///
    /// In this order: [`CapError::InvalidCSpace`],
    /// [`CapError::InvalidSelector`], [`CapError::EmptySlot`],
    /// [`CapError::WrongType`], [`CapError::InsufficientRights`].
    #[inline]
    pub fn lookup(
        &self,
        at: SlotAddr,
        kind: ObjectKind,
        required: Rights,
    ) -> Result<Capability<O>, CapError> {
        let cap = self.get(at)?;
        if cap.object.kind() != kind {
            return Err(CapError::WrongType);
        }
        if !cap.rights.contains(required) {
            return Err(CapError::InsufficientRights);
        }
        Ok(cap)
    }

    /// The capability at `at`, unchecked beyond its existence. O(1).
    ///
    /// # Errors
    ///
    /// [`CapError::InvalidCSpace`], [`CapError::InvalidSelector`],
    /// [`CapError::EmptySlot`].
    #[inline]
    pub fn get(&self, at: SlotAddr) -> Result<Capability<O>, CapError> {
        let n = self.occupied_slot(at)?;
        Ok(self.capability(n))
    }

    /// Derives, within one capability space, a child of the capability at
    /// `src` into the empty slot `dst`, holding `rights` (a subset of the
    /// source's) and, for an unbadged endpoint capability, `badge`. A child
    /// of a badged capability inherits its badge. Requires
    /// [`Rights::DERIVE`]. O(1).
    ///
    /// # Errors
    ///
    /// Slot errors for `src` then `dst` ([`CapError::SlotOccupied`]);
    /// [`CapError::InsufficientRights`] without `DERIVE` or if `rights`
    /// exceed the source's; [`CapError::RightsNotApplicable`];
    /// [`CapError::BadgeNotApplicable`] for a badge on a non-endpoint;
    /// [`CapError::AlreadyBadged`].
    pub fn derive(
        &mut self,
        cspace: CSpaceId,
        src: Selector,
        dst: Selector,
        rights: Rights,
        badge: Option<Badge>,
    ) -> Result<(), CapError> {
        let src = SlotAddr::new(cspace, src);
        self.mint(
            src,
            SlotAddr::new(cspace, dst),
            Rights::DERIVE,
            rights,
            badge,
        )
    }

    /// Grants a child of the capability at `from` into the empty slot `to`,
    /// usually in another capability space (IPC capability transfer uses
    /// this), holding `rights` (a subset of the source's) and the source's
    /// badge. Requires [`Rights::GRANT`]. Revoking the source revokes the
    /// grant. O(1).
    ///
    /// # Errors
    ///
    /// As [`Self::derive`], with `GRANT` as the right required.
    pub fn grant(&mut self, from: SlotAddr, to: SlotAddr, rights: Rights) -> Result<(), CapError> {
        self.mint(from, to, Rights::GRANT, rights, None)
    }

    /// Like [`Self::grant`], and the new capability carries `badge` (an
    /// endpoint capability that has none yet): how a server's endpoint is
    /// handed to each client with the badge that tells the client apart.
    pub fn grant_badged(
        &mut self,
        from: SlotAddr,
        to: SlotAddr,
        rights: Rights,
        badge: Badge,
    ) -> Result<(), CapError> {
        self.mint(from, to, Rights::GRANT, rights, Some(badge))
    }

    /// Moves the capability at `from` to the empty slot `to`, keeping its
    /// rights, badge and place in the derivation tree. Requires
    /// [`Rights::GRANT`]. O(1).
    ///
    /// # Errors
    ///
    /// Slot errors for `from` then `to`; [`CapError::InsufficientRights`].
    pub fn transfer(&mut self, from: SlotAddr, to: SlotAddr) -> Result<(), CapError> {
        let n = self.occupied_slot(from)?;
        self.empty_slot(to)?;
        if !cdt::node(&self.nodes, n).rights.contains(Rights::GRANT) {
            return Err(CapError::InsufficientRights);
        }
        self.set_slot(from, None)?;
        self.set_slot(to, Some(n))?;
        cdt::node_mut(&mut self.nodes, n).at = to;
        Ok(())
    }

    // ---- internals shared with `remove` and `audit` ----

    fn mint(
        &mut self,
        src: SlotAddr,
        dst: SlotAddr,
        needed: Rights,
        rights: Rights,
        badge: Option<Badge>,
    ) -> Result<(), CapError> {
        let parent = self.occupied_slot(src)?;
        self.empty_slot(dst)?;
        let (object, held, old_badge) = {
            let p = cdt::node(&self.nodes, parent);
            (p.object, p.rights, p.badge)
        };
        if !held.contains(needed) {
            return Err(CapError::InsufficientRights);
        }
        let kind = self.record(object).object.kind();
        check_applicable(kind, rights)?;
        if !held.contains(rights) {
            return Err(CapError::InsufficientRights);
        }
        if badge.is_some() {
            if kind != ObjectKind::Endpoint {
                return Err(CapError::BadgeNotApplicable);
            }
            if old_badge.is_some() {
                return Err(CapError::AlreadyBadged);
            }
        }
        self.place(dst, object, rights, badge.or(old_badge), Some(parent))
    }

    /// Puts a new node for `object` into the empty slot `at`.
    fn place(
        &mut self,
        at: SlotAddr,
        object: RawId,
        rights: Rights,
        badge: Option<Badge>,
        parent: Option<NodeIdx>,
    ) -> Result<(), CapError> {
        let n = self
            .nodes
            .insert(Node {
                object,
                rights,
                badge,
                at,
                parent: None,
                first_child: None,
                prev: None,
                next: None,
            })
            .map_err(|_| CapError::OutOfMemory)?
            .index();
        if let Some(p) = parent {
            cdt::link_first_child(&mut self.nodes, p, n);
        }
        self.set_slot(at, Some(n))?;
        self.objects
            .get_mut(object)
            .expect("live object record")
            .refs += 1;
        Ok(())
    }

    #[inline]
    pub(crate) fn capability(&self, n: NodeIdx) -> Capability<O> {
        let node = cdt::node(&self.nodes, n);
        Capability {
            object: self.record(node.object).object,
            rights: node.rights,
            badge: node.badge,
        }
    }

    #[inline]
    pub(crate) fn record(&self, object: RawId) -> &ObjectRecord<O> {
        self.objects.get(object).expect("live object record")
    }

    #[inline]
    pub(crate) fn cspace(&self, id: CSpaceId) -> Result<&CSpace, CapError> {
        self.cspaces.get(id.raw()).ok_or(CapError::InvalidCSpace)
    }

    pub(crate) fn cspace_mut(&mut self, id: CSpaceId) -> Result<&mut CSpace, CapError> {
        self.cspaces
            .get_mut(id.raw())
            .ok_or(CapError::InvalidCSpace)
    }

    #[inline]
    fn slot(&self, at: SlotAddr) -> Result<Option<NodeIdx>, CapError> {
        self.cspace(at.cspace)?
            .slots
            .get(at.selector as usize)
            .copied()
            .ok_or(CapError::InvalidSelector)
    }

    #[inline]
    pub(crate) fn occupied_slot(&self, at: SlotAddr) -> Result<NodeIdx, CapError> {
        self.slot(at)?.ok_or(CapError::EmptySlot)
    }

    fn empty_slot(&self, at: SlotAddr) -> Result<(), CapError> {
        match self.slot(at)? {
            Some(_) => Err(CapError::SlotOccupied),
            None => Ok(()),
        }
    }

    /// Stores `n` in (or clears) the slot `at`, keeping the count.
    pub(crate) fn set_slot(&mut self, at: SlotAddr, n: Option<NodeIdx>) -> Result<(), CapError> {
        let space = self.cspace_mut(at.cspace)?;
        let slot = space
            .slots
            .get_mut(at.selector as usize)
            .ok_or(CapError::InvalidSelector)?;
        match (slot.is_some(), n.is_some()) {
            (false, true) => space.occupied += 1,
            (true, false) => space.occupied -= 1,
            _ => {}
        }
        *slot = n;
        Ok(())
    }
}

fn check_applicable(kind: ObjectKind, rights: Rights) -> Result<(), CapError> {
    if Rights::applicable(kind).contains(rights) {
        Ok(())
    } else {
        Err(CapError::RightsNotApplicable)
    }
}
