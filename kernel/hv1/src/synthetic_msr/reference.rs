//! The partition reference counter, `HV_X64_MSR_TIME_REF_COUNT`.
//!
//! TLFS md `timers.md` § Partition Reference Counter ("When a partition is
//! created, the value of the reference counter register is set to
//! 0x0000000000000000 … On x64 platforms, any attempt to write to the MSR
//! results in a #GP fault"); TLFS 6.0b §12.4 ("Partition's reference
//! counter value in 100 nanosecond units").

use core::num::NonZeroU64;

/// 100 ns units per second.
const UNITS_PER_SECOND: u128 = 10_000_000;

/// `ticks` of a TSC running at `tsc_hz`, in 100 ns units.
///
/// Computed in 128 bits, so the product `ticks × 10⁷` never overflows (it
/// is below 2⁶⁴ × 2²⁴). The quotient exceeds 64 bits only for a TSC slower
/// than 10 MHz after more than 2⁶⁴ / 10⁷ × `tsc_hz` ticks; it is then
/// truncated to 64 bits, as a free-running 64-bit counter wraps.
/// Flooring a monotonic function keeps the result monotonic in `ticks`.
#[must_use]
pub const fn tsc_to_100ns(ticks: u64, tsc_hz: NonZeroU64) -> u64 {
    (ticks as u128 * UNITS_PER_SECOND / tsc_hz.get() as u128) as u64
}

/// A partition's reference counter: the TSC at partition creation and the
/// (invariant) TSC frequency.
///
/// The count is derived from the host TSC every time it is read, so every
/// VP of the partition reads the same, monotonic time (Requirements §
/// Partition Reference Time Enlightenment asks for synchronised TSCs and a
/// constant TSC rate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReferenceCounter {
    /// Host TSC value at which the count is 0.
    pub base_tsc: u64,
    /// TSC frequency in Hz.
    pub tsc_hz: NonZeroU64,
}

impl ReferenceCounter {
    /// A counter that reads 0 at host TSC `base_tsc` (the partition's
    /// creation).
    #[must_use]
    pub const fn new(base_tsc: u64, tsc_hz: NonZeroU64) -> Self {
        Self { base_tsc, tsc_hz }
    }

    /// The count at host TSC `tsc`, in 100 ns units.
    ///
    /// The elapsed ticks are `tsc - base_tsc` modulo 2⁶⁴, which stays right
    /// across a wrap of the 64-bit TSC.
    #[must_use]
    pub const fn count(&self, tsc: u64) -> u64 {
        tsc_to_100ns(tsc.wrapping_sub(self.base_tsc), self.tsc_hz)
    }

    /// A host TSC at which reference time `count` has certainly passed,
    /// by [`count`](Self::count) and by the reference TSC page's formula
    /// (within −1…+2 units of it) alike: rounded up, plus
    /// [`DEADLINE_MARGIN`] units. What the kernel arms a CPU's timer for
    /// when a synthetic timer expires at `count`: a wake-up is never early.
    #[must_use]
    pub const fn tsc_after(&self, count: u64) -> u64 {
        let units = count as u128 + DEADLINE_MARGIN as u128;
        let ticks = (units * self.tsc_hz.get() as u128).div_ceil(UNITS_PER_SECOND);
        let ticks = if ticks > u64::MAX as u128 {
            u64::MAX
        } else {
            ticks as u64
        };
        self.base_tsc.wrapping_add(ticks)
    }
}

/// The units [`ReferenceCounter::tsc_after`] adds: the page's formula may
/// read up to 1 unit less than the count, and the count is rounded down.
pub const DEADLINE_MARGIN: u64 = 3;

#[cfg(test)]
mod tests {
    use super::*;

    const GHZ_3: NonZeroU64 = NonZeroU64::new(3_000_000_000).unwrap();

    #[test]
    fn conversion() {
        assert_eq!(tsc_to_100ns(0, GHZ_3), 0);
        // One second at 3 GHz.
        assert_eq!(tsc_to_100ns(3_000_000_000, GHZ_3), 10_000_000);
        // 300 ticks = 100 ns.
        assert_eq!(tsc_to_100ns(300, GHZ_3), 1);
        assert_eq!(tsc_to_100ns(299, GHZ_3), 0);
        // A 10 MHz TSC ticks once per unit.
        let mhz_10 = NonZeroU64::new(10_000_000).unwrap();
        assert_eq!(tsc_to_100ns(u64::MAX, mhz_10), u64::MAX);
    }

    #[test]
    fn no_overflow_where_64_bits_would() {
        // ticks × 10⁷ overflows u64 from ~1.84e12 ticks (about ten
        // minutes at 3 GHz); the 128-bit product does not.
        let hour = 3600 * 3_000_000_000_u64;
        assert!(hour.checked_mul(10_000_000).is_none());
        assert_eq!(tsc_to_100ns(hour, GHZ_3), 3600 * 10_000_000);
        // The whole 64-bit range at 3 GHz: ~195 years.
        assert_eq!(
            tsc_to_100ns(u64::MAX, GHZ_3),
            (u64::MAX as u128 * 10_000_000 / 3_000_000_000) as u64
        );
        // A 1 Hz "TSC" (absurd) wraps instead of panicking.
        let one = NonZeroU64::new(1).unwrap();
        assert_eq!(
            tsc_to_100ns(u64::MAX, one),
            (u64::MAX as u128 * 10_000_000) as u64
        );
    }

    #[test]
    fn counter_starts_at_zero_and_survives_tsc_wrap() {
        let counter = ReferenceCounter::new(u64::MAX - 2_999, GHZ_3);
        assert_eq!(counter.count(u64::MAX - 2_999), 0);
        // 3000 ticks later the TSC has wrapped to 0.
        assert_eq!(counter.count(0), 10);
        assert_eq!(counter.count(2_999_997_000), 10_000_000);
    }
}
