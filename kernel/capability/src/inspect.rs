//! Read-only views of capability spaces and the derivation tree.

use crate::cap::{Selector, SlotAddr};
use crate::cdt;
use crate::error::CapError;
use crate::id::CSpaceId;
use crate::object::KernelObject;
use crate::table::CapTable;

impl<O: KernelObject> CapTable<O> {
    /// Number of slots of `cspace`.
    ///
    /// # Errors
    ///
    /// [`CapError::InvalidCSpace`].
    pub fn slots(&self, cspace: CSpaceId) -> Result<Selector, CapError> {
        Ok(Selector::try_from(self.cspace(cspace)?.slots.len()).expect("created from a Selector"))
    }

    /// Number of occupied slots of `cspace`.
    ///
    /// # Errors
    ///
    /// [`CapError::InvalidCSpace`].
    pub fn occupied(&self, cspace: CSpaceId) -> Result<Selector, CapError> {
        Ok(self.cspace(cspace)?.occupied)
    }

    /// Where the parent of the capability at `at` lives, if it has one.
    ///
    /// # Errors
    ///
    /// Slot errors for `at`.
    pub fn parent(&self, at: SlotAddr) -> Result<Option<SlotAddr>, CapError> {
        let n = self.occupied_slot(at)?;
        Ok(cdt::node(&self.nodes, n)
            .parent
            .map(|p| cdt::node(&self.nodes, p).at))
    }

    /// Where the children of the capability at `at` live.
    ///
    /// # Errors
    ///
    /// Slot errors for `at`.
    pub fn children(&self, at: SlotAddr) -> Result<impl Iterator<Item = SlotAddr> + '_, CapError> {
        let n = self.occupied_slot(at)?;
        let mut cur = cdt::node(&self.nodes, n).first_child;
        Ok(core::iter::from_fn(move || {
            let c = cdt::node(&self.nodes, cur?);
            cur = c.next;
            Some(c.at)
        }))
    }

    /// Number of capabilities that name the same object as the one at `at`.
    ///
    /// # Errors
    ///
    /// Slot errors for `at`.
    pub fn object_refs(&self, at: SlotAddr) -> Result<u32, CapError> {
        let n = self.occupied_slot(at)?;
        Ok(self.record(cdt::node(&self.nodes, n).object).refs)
    }
}
