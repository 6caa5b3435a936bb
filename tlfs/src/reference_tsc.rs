//! The partition reference TSC page.
//!
//! TLFS md `timers.md` § Partition Reference Time Stamp Counter Page and §
//! Partition Reference TSC Mechanism; TLFS 6.0b §12.7. The MSR that places
//! the page is [`crate::msr::HvReferenceTscMsr`].
//!
//! The guest computes
//! `ReferenceTime = ((VirtualTsc * TscScale) >> 64) + TscOffset` (a 64×64 →
//! 128-bit multiply, high half), re-reading while `TscSequence` changes; a
//! `TscSequence` of [`HV_REFERENCE_TSC_SEQUENCE_INVALID`] means "use the
//! reference counter MSR instead".

use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout};

/// The `TscSequence` value that marks the page as not a reliable time
/// source.
///
/// TLFS md `timers.md` § Partition Reference TSC Mechanism ("A special value
/// of 0x0").
pub const HV_REFERENCE_TSC_SEQUENCE_INVALID: u32 = 0;

/// `HV_REFERENCE_TSC_PAGE` (4 KiB).
///
/// TLFS md `timers.md` § Partition Reference Time Stamp Counter Page. The
/// hypervisor updates `tsc_sequence`, `tsc_scale` and `tsc_offset` while the
/// guest reads them (`volatile` in the TLFS): code sharing the page with a
/// guest must access these fields with volatile or atomic operations, never
/// through a plain reference held across the update protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct HvReferenceTscPage {
    /// `TscSequence` (offset 0).
    pub tsc_sequence: u32,
    /// `Reserved1` (offset 4).
    pub reserved1: u32,
    /// `TscScale` (offset 8): 64.64 fixed-point multiplier.
    pub tsc_scale: u64,
    /// `TscOffset` (offset 16), in 100 ns units.
    pub tsc_offset: i64,
    /// `Reserved2[509]` (offset 24).
    pub reserved2: [u64; 509],
}

const _: () = assert!(size_of::<HvReferenceTscPage>() == crate::types::HV_PAGE_SIZE);
const _: () = assert!(core::mem::offset_of!(HvReferenceTscPage, tsc_sequence) == 0);
const _: () = assert!(core::mem::offset_of!(HvReferenceTscPage, tsc_scale) == 8);
const _: () = assert!(core::mem::offset_of!(HvReferenceTscPage, tsc_offset) == 16);
const _: () = assert!(core::mem::offset_of!(HvReferenceTscPage, reserved2) == 24);

impl Default for HvReferenceTscPage {
    fn default() -> Self {
        Self::new_zeroed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_bytes() {
        let mut page = HvReferenceTscPage::new_zeroed();
        page.tsc_sequence = 0x0102_0304;
        page.tsc_scale = 0x1122_3344_5566_7788;
        page.tsc_offset = -2;
        let bytes = page.as_bytes();
        assert_eq!(bytes.len(), 4096);
        assert_eq!(&bytes[0..4], &[0x04, 0x03, 0x02, 0x01]);
        assert_eq!(&bytes[8..16], &0x1122_3344_5566_7788_u64.to_le_bytes());
        assert_eq!(
            &bytes[16..24],
            &[0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
        assert!(bytes[24..].iter().all(|&b| b == 0));
    }
}
