//! Capability errors.

use core::fmt;

/// Why a capability operation failed. A failed operation changes nothing.
///
/// The discriminants are stable error codes: the kernel returns them to the
/// component (the ABI crate may re-export them), never faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum CapError {
    /// The capability space id is stale or was never handed out.
    InvalidCSpace = 1,
    /// The selector is beyond the capability space's slots.
    InvalidSelector = 2,
    /// The slot holds no capability.
    EmptySlot = 3,
    /// The destination slot already holds a capability.
    SlotOccupied = 4,
    /// The capability names an object of another kind.
    WrongType = 5,
    /// The capability lacks a right the operation needs, or a derivation
    /// asked for a right its source does not hold.
    InsufficientRights = 6,
    /// A requested right does not apply to the object's kind.
    RightsNotApplicable = 7,
    /// The source capability already carries a badge.
    AlreadyBadged = 8,
    /// Badges apply to endpoint capabilities only.
    BadgeNotApplicable = 9,
    /// The domain's kernel-memory quota cannot cover the request.
    QuotaExhausted = 10,
    /// The kernel heap could not reserve bookkeeping storage.
    OutOfMemory = 11,
}

impl CapError {
    /// The stable error code.
    #[must_use]
    pub const fn code(self) -> u32 {
        self as u32
    }
}

impl fmt::Display for CapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::InvalidCSpace => "no such capability space",
            Self::InvalidSelector => "selector out of range",
            Self::EmptySlot => "empty capability slot",
            Self::SlotOccupied => "destination slot occupied",
            Self::WrongType => "capability names another kind of object",
            Self::InsufficientRights => "insufficient rights",
            Self::RightsNotApplicable => "right does not apply to this kind of object",
            Self::AlreadyBadged => "capability is already badged",
            Self::BadgeNotApplicable => "only endpoint capabilities carry badges",
            Self::QuotaExhausted => "kernel-memory quota exhausted",
            Self::OutOfMemory => "kernel heap exhausted",
        };
        f.write_str(text)
    }
}

impl core::error::Error for CapError {}
