//! Charging other kernel memory to a domain's quota, and reading it.
//!
//! Frames are counted apart from bytes: every frame the kernel takes from
//! its pool on a component's behalf (page tables, VMCBs, message buffers,
//! nested page tables, overlay pages, region pages) is charged
//! [`FRAME_BYTES`] to that component's quota and counted, per quota and in
//! total, so an audit can check that free frames plus charged frames plus
//! the kernel's own make up the whole pool.

use crate::error::CapError;
use crate::id::CSpaceId;
use crate::object::KernelObject;
use crate::quota::Quota;
use crate::table::CapTable;

/// What one frame costs a quota.
pub const FRAME_BYTES: u64 = 4096;

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
        self.release_if_settled(cspace);
        Ok(())
    }

    /// Charges `frames` frames (taken from the kernel's pool for
    /// `cspace`'s domain) to its quota, [`FRAME_BYTES`] each.
    ///
    /// # Errors
    ///
    /// [`CapError::InvalidCSpace`], [`CapError::QuotaExhausted`]; nothing
    /// is charged then.
    pub fn charge_frames(&mut self, cspace: CSpaceId, frames: u64) -> Result<(), CapError> {
        let bytes = frames
            .checked_mul(FRAME_BYTES)
            .ok_or(CapError::QuotaExhausted)?;
        let space = self.cspace_mut(cspace)?;
        space.quota.charge(bytes)?;
        space.frames += frames;
        self.charged_frames += frames;
        Ok(())
    }

    /// Refunds `frames` frames charged with [`Self::charge_frames`] (they
    /// went back to the pool).
    ///
    /// # Errors
    ///
    /// [`CapError::InvalidCSpace`].
    ///
    /// # Panics
    ///
    /// If more frames are refunded than were charged: a kernel accounting
    /// bug.
    pub fn refund_frames(&mut self, cspace: CSpaceId, frames: u64) -> Result<(), CapError> {
        let space = self.cspace_mut(cspace)?;
        assert!(frames <= space.frames, "frame refund exceeds charges");
        space.frames -= frames;
        space.quota.refund(frames * FRAME_BYTES);
        self.charged_frames -= frames;
        self.release_if_settled(cspace);
        Ok(())
    }

    /// Frames charged to `cspace`'s quota and not yet refunded.
    ///
    /// # Errors
    ///
    /// [`CapError::InvalidCSpace`].
    pub fn frames(&self, cspace: CSpaceId) -> Result<u64, CapError> {
        Ok(self.cspace(cspace)?.frames)
    }

    /// Frames charged to all quotas together.
    #[must_use]
    pub const fn charged_frames(&self) -> u64 {
        self.charged_frames
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
