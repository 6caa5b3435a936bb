//! The reference TSC page against `HV_X64_MSR_TIME_REF_COUNT`: they agree
//! within −1..+2 units of 100 ns, the page reads 0 at partition creation
//! and never goes back.

use core::num::NonZeroU64;

use proptest::prelude::*;
use tessera_hv1::synthetic_msr::ReferenceCounter;
use tessera_hv1::time::reference_tsc::{ReferenceTscValues, next_sequence};

fn counter(base: u64, hz: u64) -> ReferenceCounter {
    ReferenceCounter::new(base, NonZeroU64::new(hz).unwrap())
}

#[test]
fn a_3ghz_partition() {
    // Created at host TSC 10^12, guest TSC offset −10^12 (the guest starts
    // at 0), 3 GHz.
    let c = counter(1_000_000_000_000, 3_000_000_000);
    let offset = 0_u64.wrapping_sub(1_000_000_000_000);
    let page = ReferenceTscValues::new(&c, offset, 1);
    assert_eq!(page.time(0), Some(0));
    // One second of guest TSC is 10^7 units, give or take the bound.
    let second = page.time(3_000_000_000).unwrap();
    assert!((9_999_999..=10_000_002).contains(&second), "{second}");
    // The MSR at the same instant (host TSC = guest TSC − offset).
    let msr = c.count(3_000_000_000_u64.wrapping_sub(offset));
    assert_eq!(msr, 10_000_000);
}

proptest! {
    #[test]
    fn page_and_msr_agree_and_page_is_monotonic(
        hz in 10_000_001..10_000_000_000_u64,
        base in any::<u64>(),
        offset in any::<u64>(),
        elapsed in proptest::collection::vec(0..(1_u64 << 62), 1..20),
    ) {
        let c = counter(base, hz);
        let page = ReferenceTscValues::new(&c, offset, next_sequence(0));
        let creation = base.wrapping_add(offset);
        let mut previous = 0;
        let mut sorted = elapsed.clone();
        sorted.sort_unstable();
        // The guest TSC at creation, and after each elapsed time (the TSC
        // runs forward from creation; 2^62 ticks is over 45 years at
        // 3 GHz).
        prop_assert_eq!(page.time(creation), Some(0));
        for e in sorted {
            // The guest TSC does not wrap (the page's formula is over the
            // TSC's absolute value; the kernel starts a guest's TSC near 0,
            // so a wrap is centuries away).
            let Some(guest_tsc) = creation.checked_add(e) else { break };
            let from_page = page.time(guest_tsc).unwrap();
            let from_msr = c.count(guest_tsc.wrapping_sub(offset));
            let diff = from_page as i128 - from_msr as i128;
            prop_assert!((-1..=2).contains(&diff), "page {} msr {} (diff {})", from_page, from_msr, diff);
            prop_assert!(from_page >= previous, "monotonic");
            previous = from_page;
        }
    }

    /// Every pair of readings taken in TSC order is ordered the same way,
    /// on any VP (they share the page and the TSC).
    #[test]
    fn page_is_monotonic_tick_by_tick(
        hz in 10_000_001..5_000_000_000_u64,
        start in 0..(1_u64 << 62),
        ticks in 1..2_000_u64,
    ) {
        let c = counter(0, hz);
        let page = ReferenceTscValues::new(&c, 0, 1);
        let mut last = page.time(start).unwrap();
        for t in start + 1..start + ticks {
            let now = page.time(t).unwrap();
            prop_assert!(now >= last);
            prop_assert!(now - last <= 1, "a tick of a >10 MHz TSC is under one unit");
            last = now;
        }
    }
}

proptest! {
    /// The TSC a synthetic timer's deadline is armed for (`tsc_after`): by
    /// then both the count and the page read at least the deadline, and
    /// not much more (the margin and one unit of rounding).
    #[test]
    fn a_deadline_is_never_early_and_not_much_late(
        hz in 10_000_001..10_000_000_000_u64,
        base in any::<u64>(),
        deadline in 0..(1_u64 << 50),
    ) {
        let c = counter(base, hz);
        let page = ReferenceTscValues::new(&c, 0, next_sequence(0));
        let at = c.tsc_after(deadline);
        let count = c.count(at);
        prop_assert!(count >= deadline, "count {count} < {deadline}");
        prop_assert!(
            count <= deadline + tessera_hv1::synthetic_msr::DEADLINE_MARGIN + 1,
            "count {count} for {deadline}"
        );
        if let Some(time) = page.time(at) {
            prop_assert!(time >= deadline, "page {time} < {deadline}");
        }
    }
}
