//! Charging other kernel memory to a domain's quota, and reading it.

use crate::error::CapError;
use crate::id::CSpaceId;
use crate::object::KernelObject;
use crate::quota::Quota;
use crate::table::CapTable;

impl<O: KernelObject> CapTable<O> {
    /// Charges `bytes` of other kernel memory (page tables, thread state)
    /// to the quota of `cspace`'s domain.
    ///
    /// # Errors
    ///
    /// [`CapError::InvalidCSpace`], [`CapError::QuotaExhausted`].
    pub fn charge(&mut self, cspace: CSpaceId, bytes: u64) -> Result<(), CapError> {
        let space = self.cspace_mut(cspace)?;
        space.quota.charge(bytes)?;
        space.other += bytes;
        Ok(())
    }

    /// Refunds `bytes` charged with [`Self::charge`].
    ///
    /// # Errors
    ///
    /// [`CapError::InvalidCSpace`].
    ///
    /// # Panics
    ///
    /// If more is refunded than [`Self::charge`] charged: a kernel
    /// accounting bug.
    pub fn refund(&mut self, cspace: CSpaceId, bytes: u64) -> Result<(), CapError> {
        let space = self.cspace_mut(cspace)?;
        assert!(bytes <= space.other, "refund exceeds what charge() charged");
        space.other -= bytes;
        space.quota.refund(bytes);
        Ok(())
    }

    /// The quota of `cspace`'s domain.
    ///
    /// # Errors
    ///
    /// [`CapError::InvalidCSpace`].
    pub fn quota(&self, cspace: CSpaceId) -> Result<Quota, CapError> {
        Ok(self.cspace(cspace)?.quota)
    }
}
