//! The reference TSC page's values: `TscScale` and `TscOffset` such that
//! the guest's `((VirtualTsc × TscScale) >> 64) + TscOffset` is the
//! partition's reference time in 100 ns units, and the `TscSequence`
//! protocol.
//!
//! TLFS md `timers.md` § Partition Reference Time Stamp Counter Page, §
//! Partition Reference TSC Mechanism; TLFS 6.0b §12.7. The page layout is
//! [`tlfs::reference_tsc::HvReferenceTscPage`].
//!
//! # Accuracy
//!
//! With `T` the TSC frequency and `g0` the guest TSC at partition
//! creation, the scale is `⌊2⁶⁴ · 10⁷ / T⌋` and the offset
//! `−⌊g0 · scale / 2⁶⁴⌋`. Then for every guest TSC `g ≥ g0` the page gives
//! exactly 0 at `g0`, is non-decreasing in `g`, and differs from the exact
//! count `⌊(g − g0) · 10⁷ / T⌋` (what
//! [`ReferenceCounter`] returns for
//! `HV_X64_MSR_TIME_REF_COUNT`) by −1 to +2 units: truncating the scale
//! loses less than one unit over the whole 64-bit range, and each of the
//! two floors one more. The property tests check this bound. It holds
//! while the guest TSC does not wrap past 2⁶⁴ (the formula reads the TSC's
//! absolute value): the kernel starts each guest's TSC near 0 (VMCB
//! TSC_OFFSET = −host TSC at creation), which puts a wrap centuries away.
//!
//! The kernel can make the MSR and the page agree exactly by answering
//! `HV_X64_MSR_TIME_REF_COUNT` with [`ReferenceTscValues::time`] on the
//! guest TSC; then a guest that falls back from the page to the MSR (or
//! mixes them across VPs) never sees time step back.

use crate::synthetic_msr::ReferenceCounter;

/// 100 ns units per second.
const UNITS_PER_SECOND: u128 = 10_000_000;

/// The `TscSequence` that marks the page invalid: "a special value of 0x0
/// is used to indicate that this facility is no longer a reliable source of
/// reference time and the VM must fall back to a different source".
pub const SEQUENCE_INVALID: u32 = 0;

/// The values the page holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReferenceTscValues {
    /// `TscSequence` (0: use `HV_X64_MSR_TIME_REF_COUNT`).
    pub sequence: u32,
    /// `TscScale`: 100 ns units per TSC tick, as a 64.64 fraction.
    pub scale: u64,
    /// `TscOffset`, in 100 ns units.
    pub offset: i64,
}

/// `⌊2⁶⁴ · 10⁷ / tsc_hz⌋`, or `None` if it does not fit 64 bits (a TSC
/// at or below 10 MHz: one tick is at least one unit, and the page cannot
/// express it; the sequence-0 fallback covers that).
#[must_use]
pub const fn scale_for(tsc_hz: u64) -> Option<u64> {
    if tsc_hz as u128 <= UNITS_PER_SECOND {
        return None;
    }
    Some(((UNITS_PER_SECOND << 64) / tsc_hz as u128) as u64)
}

/// The sequence number after `previous`: incremented, skipping
/// [`SEQUENCE_INVALID`] and `0xFFFFFFFF` (**Choice**: Linux's KVM skips
/// both; nothing is lost by never using the all-ones value).
#[must_use]
pub const fn next_sequence(previous: u32) -> u32 {
    match previous.wrapping_add(1) {
        0 | u32::MAX => 1,
        next => next,
    }
}

impl ReferenceTscValues {
    /// The page of a partition whose reference counter is `counter` (host
    /// TSC at creation, TSC frequency) and whose guest TSC is the host TSC
    /// plus `tsc_offset` (the VMCB's TSC_OFFSET, two's complement), marked
    /// with `sequence`. If the frequency is too low for a 64-bit scale, the
    /// page is marked invalid (sequence 0, the TLFS fallback), whatever
    /// `sequence` was.
    #[must_use]
    pub const fn new(counter: &ReferenceCounter, tsc_offset: u64, sequence: u32) -> Self {
        let Some(scale) = scale_for(counter.tsc_hz.get()) else {
            return Self::INVALID;
        };
        let creation = counter.base_tsc.wrapping_add(tsc_offset);
        let at_creation = ((creation as u128 * scale as u128) >> 64) as u64;
        Self {
            sequence,
            scale,
            // Two's complement: the guest adds it modulo 2⁶⁴.
            offset: 0_u64.wrapping_sub(at_creation) as i64,
        }
    }

    /// An invalid page: the guest falls back to the MSR.
    pub const INVALID: Self = Self {
        sequence: SEQUENCE_INVALID,
        scale: 0,
        offset: 0,
    };

    /// What a guest computes from the page at guest TSC `tsc` (TLFS md:
    /// "ReferenceTime = ((VirtualTsc * TscScale) >> 64) + TscOffset"), or
    /// `None` while the sequence is invalid.
    #[must_use]
    pub const fn time(&self, tsc: u64) -> Option<u64> {
        if self.sequence == SEQUENCE_INVALID {
            return None;
        }
        let product = ((tsc as u128 * self.scale as u128) >> 64) as u64;
        Some(product.wrapping_add(self.offset as u64))
    }

    /// The stores that publish these values over `previous` on the shared
    /// page, in order: the sequence goes to 0 first, so a guest that reads
    /// the page meanwhile falls back to the MSR or retries, then scale and
    /// offset, then the new sequence. Each store is one aligned write
    /// (x86 keeps stores in order; the kernel must keep the compiler from
    /// reordering them: volatile writes).
    #[must_use]
    pub const fn publication(&self) -> [PageStore; 4] {
        [
            PageStore::Sequence(SEQUENCE_INVALID),
            PageStore::Scale(self.scale),
            PageStore::Offset(self.offset),
            PageStore::Sequence(self.sequence),
        ]
    }
}

/// One store into the reference TSC page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PageStore {
    /// 4 bytes at offset 0.
    Sequence(u32),
    /// 8 bytes at offset 8.
    Scale(u64),
    /// 8 bytes at offset 16.
    Offset(i64),
}

impl PageStore {
    /// The byte offset in the page and the little-endian value.
    #[must_use]
    pub const fn offset_and_bytes(&self) -> (usize, u64, usize) {
        match *self {
            Self::Sequence(v) => (0, v as u64, 4),
            Self::Scale(v) => (8, v, 8),
            Self::Offset(v) => (16, v as u64, 8),
        }
    }

    /// Applies the store to a page image.
    pub fn apply(&self, page: &mut tlfs::reference_tsc::HvReferenceTscPage) {
        match *self {
            Self::Sequence(v) => page.tsc_sequence = v,
            Self::Scale(v) => page.tsc_scale = v,
            Self::Offset(v) => page.tsc_offset = v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::num::NonZeroU64;

    #[test]
    fn scales() {
        // A 10 MHz TSC would need scale 2^64: not representable.
        assert_eq!(scale_for(10_000_000), None);
        assert_eq!(scale_for(1), None);
        // 20 MHz: half a unit per tick.
        assert_eq!(scale_for(20_000_000), Some(1 << 63));
        // 1 GHz: 1/100 unit per tick.
        assert_eq!(
            scale_for(1_000_000_000),
            Some(((1_u128 << 64) / 100) as u64)
        );
    }

    #[test]
    fn sequence_skips_reserved_values() {
        assert_eq!(next_sequence(0), 1);
        assert_eq!(next_sequence(1), 2);
        assert_eq!(next_sequence(u32::MAX - 1), 1);
        assert_eq!(next_sequence(u32::MAX), 1);
    }

    #[test]
    fn slow_tsc_falls_back() {
        let counter = ReferenceCounter::new(0, NonZeroU64::new(10_000_000).unwrap());
        let page = ReferenceTscValues::new(&counter, 0, 7);
        assert_eq!(page, ReferenceTscValues::INVALID);
        assert_eq!(page.time(123), None);
    }

    #[test]
    fn publication_order() {
        let values = ReferenceTscValues {
            sequence: 9,
            scale: 3,
            offset: -4,
        };
        let stores = values.publication();
        assert_eq!(stores[0], PageStore::Sequence(0));
        assert_eq!(stores[3], PageStore::Sequence(9));
        let mut page = tlfs::reference_tsc::HvReferenceTscPage::default();
        for store in stores {
            store.apply(&mut page);
        }
        assert_eq!(
            (page.tsc_sequence, page.tsc_scale, page.tsc_offset),
            (9, 3, -4)
        );
        assert_eq!(PageStore::Offset(-1).offset_and_bytes(), (16, u64::MAX, 8));
    }
}
