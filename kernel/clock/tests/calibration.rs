//! The calibration arithmetic against simulated hardware: a TSC and a
//! counter running at known rates, read with realistic jitter.

use proptest::prelude::*;
use tessera_clock::{
    ACPI_PM_TIMER_HZ, CalibrationError, Calibrator, Direction, PIT_HZ, ReferenceClock, Sample,
};

/// A simulated machine: the TSC at `tsc_hz`, the counter at the clock's
/// frequency, both from 0 at time 0 (plus an initial counter value).
struct Machine {
    tsc_hz: u128,
    clock: ReferenceClock,
    counter_start: u64,
}

impl Machine {
    /// The TSC at time `ps` (picoseconds).
    fn tsc(&self, ps: u128) -> u64 {
        (ps * self.tsc_hz / 1_000_000_000_000) as u64
    }

    /// The counter at time `ps`.
    fn counter(&self, ps: u128) -> u64 {
        let ticks = ps * self.clock.numerator as u128
            / (self.clock.denominator as u128 * 1_000_000_000_000);
        let mask = if self.clock.bits >= 64 {
            u64::MAX
        } else {
            (1 << self.clock.bits) - 1
        };
        let value = match self.clock.direction {
            Direction::Up => self.counter_start.wrapping_add(ticks as u64),
            Direction::Down => self.counter_start.wrapping_sub(ticks as u64),
        };
        value & mask
    }

    /// A sample at `ps` whose reads take `read_ps` each.
    fn sample(&self, ps: u128, read_ps: u128) -> Sample {
        Sample {
            tsc_before: self.tsc(ps),
            counter: self.counter(ps + read_ps),
            tsc_after: self.tsc(ps + 2 * read_ps),
        }
    }
}

#[test]
fn frequencies() {
    // ACPI: "3.579545 MHz"; the PIT: a third of it.
    assert_eq!(ACPI_PM_TIMER_HZ, 3_579_545);
    assert_eq!(PIT_HZ, 1_193_182);
    assert_eq!(ReferenceClock::PIT.numerator, PIT_HZ);
}

#[test]
fn wrap_periods() {
    // 2^24 / 3.579545 MHz = 4.687 s; 2^16 / 1.193182 MHz = 54.9 ms.
    assert_eq!(
        ReferenceClock::acpi_pm_timer(false).wrap_ns() / 1_000_000,
        4686
    );
    assert_eq!(
        ReferenceClock::acpi_pm_timer(true).wrap_ns() / 1_000_000_000,
        1199
    );
    assert_eq!(ReferenceClock::PIT.wrap_ns() / 1_000, 54_925);
    // A 14.318 MHz HPET (period 69841279 fs), 32-bit: about 300 s.
    let hpet = ReferenceClock::hpet(69_841_279, false).unwrap();
    assert_eq!(hpet.wrap_ns() / 1_000_000_000, 299);
    assert!(ReferenceClock::hpet(0, true).is_none());
    assert!(ReferenceClock::hpet(100_000_001, true).is_none());
    assert!(ReferenceClock::hpet(100_000_000, true).is_some());
}

#[test]
fn ticks_across_wraps() {
    let pm = ReferenceClock::acpi_pm_timer(false);
    assert_eq!(pm.ticks_between(0xFF_FFF0, 0x10), 0x20);
    assert_eq!(pm.ticks_between(5, 5), 0);
    let pit = ReferenceClock::PIT;
    assert_eq!(pit.ticks_between(0x10, 0xFFF0), 0x20);
    assert_eq!(pit.ticks_between(1000, 10), 990);
}

#[test]
fn pm_timer_over_50_ms_is_within_100_ppm() {
    let m = Machine {
        tsc_hz: 2_994_373_000,
        clock: ReferenceClock::acpi_pm_timer(false),
        counter_start: 0xFF_0000,
    };
    // Samples every 1 ms for 50 ms, reads taking 1 µs each.
    let mut cal = Calibrator::new(m.clock, m.sample(123_456_789, 1_000_000)).unwrap();
    assert_eq!(cal.calibration(), Err(CalibrationError::TooShort));
    for ms in 1..=50_u128 {
        cal.add(m.sample(123_456_789 + ms * 1_000_000_000, 1_000_000))
            .unwrap();
    }
    let c = cal.calibration().unwrap();
    assert!(
        c.min_hz <= 2_994_373_000 && 2_994_373_000 <= c.max_hz,
        "{c:?}"
    );
    assert!(c.error_ppm() < 100, "{}", c.error_ppm());
    assert!(cal.precise_to(100));
    assert!(!cal.precise_to(1));
    assert!((c.tsc_hz as i64 - 2_994_373_000).abs() < 2_994_373_000 / 10_000);
}

#[test]
fn tsc_must_not_go_backwards() {
    let clock = ReferenceClock::PIT;
    let bad = Sample {
        tsc_before: 10,
        counter: 0,
        tsc_after: 9,
    };
    assert_eq!(
        Calibrator::new(clock, bad),
        Err(CalibrationError::TscNotMonotonic)
    );
    let mut cal = Calibrator::new(
        clock,
        Sample {
            tsc_before: 100,
            counter: 50_000,
            tsc_after: 110,
        },
    )
    .unwrap();
    let earlier = Sample {
        tsc_before: 105,
        counter: 49_000,
        tsc_after: 120,
    };
    assert_eq!(cal.add(earlier), Err(CalibrationError::TscNotMonotonic));
    assert_eq!(cal.ticks(), 0, "unchanged");
}

fn clocks() -> impl Strategy<Value = ReferenceClock> {
    prop_oneof![
        Just(ReferenceClock::acpi_pm_timer(false)),
        Just(ReferenceClock::acpi_pm_timer(true)),
        Just(ReferenceClock::PIT),
        (10_000_000..=100_000_000_u64).prop_map(|fs| ReferenceClock::hpet(fs, false).unwrap()),
    ]
}

proptest! {
    /// Whatever the TSC rate, the counter, its start value, the sampling
    /// (always within one wrap) and the read latency, the true frequency
    /// lies within the bounds and the estimate between them.
    #[test]
    fn the_truth_is_within_the_bounds(
        tsc_hz in 100_000_000..6_000_000_000_u64,
        clock in clocks(),
        counter_start in any::<u64>(),
        start_ps in 0..1_000_000_000_000_u128,
        steps in proptest::collection::vec(1..50_000_000_000_u128, 1..40),
        read_ps in 0..5_000_000_u128,
    ) {
        let m = Machine { tsc_hz: tsc_hz as u128, clock, counter_start };
        let wrap_ps = clock.wrap_ns() as u128 * 1000;
        let mut now = start_ps;
        let mut cal = Calibrator::new(clock, m.sample(now, read_ps)).unwrap();
        for step in steps {
            // Sample after the previous one ended, within one wrap of it.
            now += step.min(wrap_ps / 2).max(2 * read_ps);
            cal.add(m.sample(now, read_ps)).unwrap();
        }
        if let Ok(c) = cal.calibration() {
            prop_assert!(c.min_hz <= tsc_hz, "{:?} > {}", c, tsc_hz);
            prop_assert!(tsc_hz <= c.max_hz, "{:?} < {}", c, tsc_hz);
            prop_assert!(c.min_hz <= c.tsc_hz && c.tsc_hz <= c.max_hz, "{:?}", c);
        }
    }
}
