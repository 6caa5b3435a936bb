//! The APIC timer: never early, periodic without drift, current-count
//! readback, mid-count changes, TSC-deadline mode — and through the APIC's
//! registers.

mod common;

use core::num::NonZeroU64;

use common::{CLOCK, set_mmio, x2apic, xapic};
use proptest::prelude::*;
use tessera_lapic::timer::divisor;
use tessera_lapic::{ApicTimer, Effect, TimerClock, TimerMode};

fn clock(tsc_hz: u64, apic_hz: u64) -> TimerClock {
    TimerClock {
        tsc_hz: NonZeroU64::new(tsc_hz).unwrap(),
        apic_hz: NonZeroU64::new(apic_hz).unwrap(),
    }
}

/// ⌈counts · d · T / A⌉, computed independently of the crate.
fn ticks(counts: u128, div: u32, c: TimerClock) -> u64 {
    let num = counts * div as u128 * c.tsc_hz.get() as u128;
    num.div_ceil(c.apic_hz.get() as u128) as u64
}

#[test]
fn one_shot_fires_exactly_at_its_deadline() {
    // 1 GHz TSC, 200 MHz APIC clock, divide by 2: one count = 10 TSC ticks.
    let mut timer = ApicTimer::new(CLOCK);
    timer.set_initial_count(1000, 5_000);
    assert_eq!(timer.next_expiry(), Some(5_000 + 10_000));
    assert_eq!(timer.current_count(5_000), 1000);
    assert_eq!(timer.current_count(5_009), 1000);
    assert_eq!(timer.current_count(5_010), 999);
    assert_eq!(timer.current_count(14_999), 1);
    assert_eq!(timer.poll(14_999), None, "never early");
    assert_eq!(timer.current_count(15_000), 0);
    let expiry = timer.poll(15_000).unwrap();
    assert_eq!((expiry.at, expiry.missed), (15_000, 0));
    assert_eq!(timer.poll(100_000), None, "one shot");
    assert_eq!(timer.next_expiry(), None);
    assert_eq!(timer.current_count(100_000), 0);
    // A write of 0 stops a running timer.
    timer.set_initial_count(50, 0);
    timer.set_initial_count(0, 10);
    assert_eq!(timer.next_expiry(), None);
    assert_eq!(timer.poll(u64::MAX), None);
}

#[test]
fn periodic_1000_periods_without_drift() {
    // A clock whose period is not a whole number of TSC ticks: TSC
    // 3 GHz, APIC 7 MHz, divide by 1, 1000 counts: P = 428571.43 ticks.
    let c = clock(3_000_000_000, 7_000_000);
    let mut timer = ApicTimer::new(c);
    timer.set_mode(TimerMode::Periodic, 0);
    timer.set_divide_configuration(0xB, 0);
    timer.set_initial_count(1000, 777);
    let mut now = 777;
    let mut k = 0_u64;
    let mut delays = 0_u64;
    while k < 1000 {
        let due = timer.next_expiry().unwrap();
        assert_eq!(
            due,
            777 + ticks(1000 * (k as u128 + 1), 1, c),
            "period {}",
            k + 1
        );
        // Polled late by a varying amount, sometimes more than a period.
        delays = (delays * 7 + 13) % 1_000_003;
        now = due + delays;
        let expiry = timer.poll(now).unwrap();
        assert_eq!(expiry.at, due);
        assert!(expiry.at <= now);
        k += 1 + expiry.missed;
        assert_eq!(
            timer.next_expiry().unwrap(),
            777 + ticks(1000 * (k as u128 + 1), 1, c),
            "the grid does not move"
        );
    }
    // After all that, the current count is where the original grid says.
    let t = now + 12_345;
    let dropped = ((t - 777) as u128 * 7_000_000 / 3_000_000_000) as u64;
    assert_eq!(timer.current_count(t) as u64, 1000 - dropped % 1000);
}

#[test]
fn divide_change_keeps_the_count() {
    let mut timer = ApicTimer::new(CLOCK);
    timer.set_initial_count(1000, 0); // 10 ticks per count
    assert_eq!(timer.current_count(2_000), 800);
    // Divide by 16 from now on: 80 ticks per count.
    timer.set_divide_configuration(0b0011, 2_000);
    assert_eq!(divisor(timer.divide_configuration()), 16);
    assert_eq!(timer.current_count(2_000), 800);
    assert_eq!(timer.current_count(2_080), 799);
    assert_eq!(timer.next_expiry(), Some(2_000 + 800 * 80));
    // The same value again changes nothing.
    timer.set_divide_configuration(0b0011 | 4, 3_000);
    assert_eq!(timer.next_expiry(), Some(2_000 + 800 * 80));
}

#[test]
fn mode_changes() {
    let mut timer = ApicTimer::new(CLOCK);
    timer.set_initial_count(100, 0);
    // One-shot -> periodic mid-count: keeps counting, reloads after.
    timer.set_mode(TimerMode::Periodic, 500);
    assert_eq!(timer.current_count(500), 50);
    assert_eq!(timer.poll(1_000).unwrap().at, 1_000);
    assert_eq!(timer.next_expiry(), Some(2_000));
    assert_eq!(timer.current_count(1_000), 100);
    // Periodic -> one-shot: this period still ends, then it stops.
    timer.set_mode(TimerMode::OneShot, 1_500);
    assert_eq!(timer.poll(2_000).unwrap().at, 2_000);
    assert_eq!(timer.next_expiry(), None);
    // To TSC-deadline: disarmed, initial count cleared, counts ignored.
    timer.set_initial_count(100, 3_000);
    timer.set_mode(TimerMode::TscDeadline, 3_100);
    assert_eq!(timer.next_expiry(), None);
    assert_eq!(timer.initial_count(), 0);
    timer.set_initial_count(5, 3_200);
    assert_eq!((timer.initial_count(), timer.current_count(3_300)), (0, 0));
    // Back: the deadline is disarmed too.
    timer.set_tsc_deadline(9_000);
    timer.set_mode(TimerMode::OneShot, 3_300);
    assert_eq!(timer.next_expiry(), None);
    assert_eq!(timer.tsc_deadline(), 0);
}

#[test]
fn tsc_deadline_mode() {
    let mut timer = ApicTimer::new(CLOCK);
    // Outside TSC-deadline mode the MSR is ignored and reads 0.
    timer.set_tsc_deadline(1_000);
    assert_eq!(timer.tsc_deadline(), 0);
    assert_eq!(timer.next_expiry(), None);
    timer.set_mode(TimerMode::TscDeadline, 0);
    timer.set_tsc_deadline(1_000);
    assert_eq!(timer.tsc_deadline(), 1_000);
    assert_eq!(timer.poll(999), None);
    assert_eq!(timer.poll(1_000).unwrap().at, 1_000);
    assert_eq!(timer.tsc_deadline(), 0, "disarmed and cleared");
    assert_eq!(timer.poll(2_000), None);
    // A deadline in the past fires at once.
    timer.set_tsc_deadline(10);
    assert_eq!(timer.poll(2_000).unwrap().at, 10);
    // Writing 0 disarms.
    timer.set_tsc_deadline(5_000);
    timer.set_tsc_deadline(0);
    assert_eq!(timer.poll(u64::MAX), None);
}

#[test]
fn extreme_values_saturate() {
    let slow = clock(u64::MAX, 1);
    let mut timer = ApicTimer::new(slow);
    timer.set_divide_configuration(0b1010, 0); // 128
    timer.set_initial_count(u32::MAX, u64::MAX - 5);
    assert_eq!(timer.next_expiry(), Some(u64::MAX));
    assert_eq!(timer.current_count(u64::MAX), u32::MAX);
    let fast = clock(1, u64::MAX);
    let mut timer = ApicTimer::new(fast);
    timer.set_mode(TimerMode::Periodic, 0);
    timer.set_initial_count(1, 0);
    let expiry = timer.poll(u64::MAX).unwrap();
    assert_eq!(expiry.at, 1);
    assert!(expiry.missed > 0);
}

#[test]
fn through_the_registers() {
    let mut apic = xapic(0);
    // Periodic, vector 0x30, divide by 1, 100 counts = 500 TSC ticks.
    assert_eq!(set_mmio(&mut apic, 0x3E0, 0xB), Effect::TimerChanged);
    assert_eq!(
        apic.write_mmio(0x320, 4, 1 << 17 | 0x30, 0),
        Some(Effect::TimerChanged)
    );
    assert_eq!(
        apic.write_mmio(0x380, 4, 100, 1_000),
        Some(Effect::TimerChanged)
    );
    assert_eq!(apic.next_timer_deadline(), Some(1_500));
    assert_eq!(apic.read_mmio(0x390, 4, 1_250), Some(50));
    assert_eq!(apic.poll_timer(1_499), None);
    assert!(apic.poll_timer(1_500).is_some());
    assert_eq!(apic.pending_vector(), Some(0x30));
    // A register access catches the timer up by itself.
    apic.acknowledge();
    apic.eoi();
    // IRR bits 63:32 (offset 0x210): vector 0x30 is bit 16.
    assert_eq!(apic.read_mmio(0x210, 4, 2_000), Some(1 << 16));
    // Masked: the timer runs, no interrupt.
    apic.acknowledge();
    apic.eoi();
    apic.write_mmio(0x320, 4, 1 << 16 | 1 << 17 | 0x30, 2_100);
    assert!(apic.poll_timer(2_500).is_some());
    assert_eq!(apic.pending_vector(), None);
    // TSC-deadline through MSR 0x6E0 (in xAPIC mode too).
    apic.write_mmio(0x320, 4, 2 << 17 | 0x31, 3_000);
    assert_eq!(
        apic.write_msr(0x6E0, 4_000, 3_000),
        Ok(Effect::TimerChanged)
    );
    assert_eq!(apic.read_msr(0x6E0, 3_000), Ok(4_000));
    assert_eq!(apic.next_timer_deadline(), Some(4_000));
    assert_eq!(apic.read_mmio(0x390, 4, 3_500), Some(0));
    apic.poll_timer(4_000);
    assert_eq!(apic.pending_vector(), Some(0x31));
    assert_eq!(apic.read_msr(0x6E0, 4_000), Ok(0));
    // An illegal timer vector: dropped with ESR bit 6.
    let mut apic = x2apic(0);
    apic.write_msr(0x832, 0x05, 0).unwrap();
    apic.write_msr(0x838, 1, 0).unwrap();
    apic.poll_timer(1_000);
    assert_eq!(apic.pending_vector(), None);
    apic.write_msr(0x828, 0, 0).unwrap();
    assert_eq!(apic.read_msr(0x828, 0), Ok(1 << 6));
}

proptest! {
    /// For any clock, count, divisor, mode and sequence of polls: an
    /// expiry is never reported before it is due, each one is on the grid
    /// t0 + ⌈X_k · d · T / A⌉, and the count reads non-zero before it.
    #[test]
    fn never_early_and_on_the_grid(
        tsc_mhz in 1..5_000_u64,
        apic_mhz in 1..1_000_u64,
        count in 1..100_000_u32,
        dcr in 0..16_u32,
        periodic in any::<bool>(),
        t0 in 0..1_000_000_u64,
        steps in proptest::collection::vec(0..5_000_000_u64, 1..50),
    ) {
        let c = clock(tsc_mhz * 1_000_000, apic_mhz * 1_000_000);
        let mut timer = ApicTimer::new(c);
        timer.set_divide_configuration(dcr, 0);
        let div = divisor(dcr & 0xB);
        if periodic {
            timer.set_mode(TimerMode::Periodic, 0);
        }
        timer.set_initial_count(count, t0);
        let mut now = t0;
        let mut fired = 0_u64;
        for step in steps {
            now += step;
            let due = timer.next_expiry();
            match timer.poll(now) {
                Some(expiry) => {
                    prop_assert_eq!(Some(expiry.at), due);
                    prop_assert!(expiry.at <= now, "early");
                    prop_assert_eq!(expiry.at, t0 + ticks(count as u128 * (fired as u128 + 1), div, c));
                    if expiry.at > t0 {
                        prop_assert!(timer_count_before(&c, count, div, t0, expiry.at - 1, periodic, fired) > 0);
                    }
                    fired += 1 + expiry.missed;
                    prop_assert!(periodic || expiry.missed == 0);
                }
                None => {
                    if let Some(due) = due {
                        prop_assert!(now < due);
                    }
                }
            }
            if !periodic && fired > 0 {
                prop_assert_eq!(timer.next_expiry(), None);
            }
        }
    }
}

/// The current count a fresh timer would show at `t` (the count within
/// the period that ends at the expiry being checked).
fn timer_count_before(
    c: &TimerClock,
    count: u32,
    div: u32,
    t0: u64,
    t: u64,
    periodic: bool,
    fired: u64,
) -> u64 {
    let dropped =
        (t - t0) as u128 * c.apic_hz.get() as u128 / (c.tsc_hz.get() as u128 * div as u128);
    let end = count as u128 * (fired as u128 + 1);
    assert!(periodic || fired == 0);
    (end - dropped.min(end)) as u64
}

#[test]
fn a_saturated_deadline_is_still_never_early() {
    // A deadline beyond the TSC's range reads u64::MAX; polling at
    // u64::MAX must not fire a count that has not reached 0 (the old code
    // compared TSC values and fired early, or underflowed).
    let slow = clock(u64::MAX, 1);
    let mut timer = ApicTimer::new(slow);
    timer.set_mode(TimerMode::Periodic, 0);
    timer.set_initial_count(u32::MAX, 10);
    assert_eq!(timer.next_expiry(), Some(u64::MAX));
    assert_eq!(timer.poll(u64::MAX), None);
    assert_eq!(timer.current_count(u64::MAX), u32::MAX);
}
