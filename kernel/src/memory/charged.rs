//! Frames the kernel takes from its pool on a component's behalf, each one
//! charged to that component's quota (`CapTable::charge_frames`) and
//! refunded when it goes back: page tables, VMCBs, message buffers, nested
//! page tables, overlay pages and region pages. So no component can take
//! more memory than its manifest gave it, and an audit can check that free
//! plus charged plus the kernel's own frames make up the pool.
use super::frames;
use crate::ipc_glue::cap_status;
use tessera_capability::{CSpaceId, CapError, CapTable, Object};
use x86_64::PhysAddr;
use x86_64::structures::paging::{PhysFrame, Size4KiB};

/// Takes and gives back frames for one payer.
#[derive(Debug)]
pub struct Charged<'a> {
    caps: &'a mut CapTable<Object>,
    payer: CSpaceId,
    /// Why the last `take` failed.
    refused: Option<CapError>,
}

impl<'a> Charged<'a> {
    /// Frames charged to `payer`'s quota.
    pub fn to(caps: &'a mut CapTable<Object>, payer: CSpaceId) -> Self {
        Self {
            caps,
            payer,
            refused: None,
        }
    }

    /// A zeroed frame, charged; `None` when the quota or the pool is
    /// exhausted (`status` says which).
    pub fn take(&mut self) -> Option<PhysAddr> {
        if let Err(error) = self.caps.charge_frames(self.payer, 1) {
            self.refused = Some(error);
            return None;
        }
        let frame = frames::allocate_zeroed();
        if frame.is_none() {
            self.refund(1);
            self.refused = Some(CapError::OutOfMemory);
        }
        frame
    }

    /// Gives a frame taken with `take` back to the pool and the quota.
    pub fn give(&mut self, frame: PhysAddr) {
        frames::free(frame);
        self.refund(1);
    }

    fn refund(&mut self, count: u64) {
        if let Err(error) = self.caps.refund_frames(self.payer, count) {
            log::error!("kernel bug: refunding a frame: {error}");
        }
    }

    /// Why the last `take` failed (`QuotaExhausted` or `OutOfMemory`).
    pub fn refusal(&self) -> Option<CapError> {
        self.refused
    }

    /// The status for the last refusal.
    pub fn status(&self) -> u64 {
        cap_status(self.refused.unwrap_or(CapError::OutOfMemory))
    }
}

// SAFETY: every frame returned is freshly allocated, unused and zero-filled.
unsafe impl x86_64::structures::paging::FrameAllocator<Size4KiB> for Charged<'_> {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        self.take().map(PhysFrame::containing_address)
    }
}
