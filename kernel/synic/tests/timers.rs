//! Synthetic timers through the kernel-held state (TLFS md `timers.md` §
//! Synthetic Timers, TLFS 6.0b §12 and §13.3): one-shot, periodic without
//! drift, lazy, auto-enable, message and direct mode, a timer that fires
//! while SIMP is disabled or its slot is busy.

mod common;

use common::{World, s};
use tessera_synic::timer::{CATCH_UP_LIMIT, Stimer, StimerPolicy, TimerIndex};
use tlfs::msr as m;
use tlfs::timer::{HvStimerConfig, HvTimerMessagePayload};
use tlfs::{HvMessage, HvMessageType};
use zerocopy::FromBytes;

const CONFIG0: u32 = m::HV_X64_MSR_STIMER0_CONFIG;
const COUNT0: u32 = m::HV_X64_MSR_STIMER0_COUNT;
const TIMER_SINT: u32 = 5;
const TIMER_VECTOR: u8 = 0x60;

fn config(periodic: bool, lazy: bool) -> u64 {
    HvStimerConfig::new()
        .with_enable(true)
        .with_periodic(periodic)
        .with_lazy(lazy)
        .with_sintx(TIMER_SINT as u8)
        .into_bits()
}

fn timer_world() -> World {
    let mut world = World::new(2);
    world.enable(0);
    world.unmask(0, TIMER_SINT, TIMER_VECTOR);
    world
}

fn payload(message: &HvMessage) -> HvTimerMessagePayload {
    assert_eq!(message.header.message_type, HvMessageType::TIMER_EXPIRED);
    assert_eq!(message.header.payload_size, 24);
    HvTimerMessagePayload::read_from_bytes(&message.payload_bytes()[..24]).unwrap()
}

#[test]
fn one_shot_message() {
    let mut world = timer_world();
    let start = world.now;
    world.wrmsr(0, COUNT0, start + 500).unwrap();
    world.wrmsr(0, CONFIG0, config(false, false)).unwrap();
    world.advance(499);
    assert!(world.take(0, TIMER_SINT).is_none());
    world.advance(3);
    let message = world.take(0, TIMER_SINT).unwrap();
    let expired = payload(&message);
    assert_eq!(expired.timer_index, 0);
    assert_eq!(expired.expiration_time, start + 500);
    assert_eq!(expired.delivery_time, start + 502);
    assert_eq!(world.drain_interrupts(), vec![(0, TIMER_VECTOR)]);
    // Disabled once expired; never again.
    assert_eq!(world.rdmsr(0, CONFIG0).unwrap() & 1, 0);
    world.advance(10_000);
    assert!(world.take(0, TIMER_SINT).is_none());
}

#[test]
fn one_shot_in_the_past_fires_within_the_write() {
    let mut world = timer_world();
    world.wrmsr(0, COUNT0, 5).unwrap();
    let applied = world.wrmsr(0, CONFIG0, config(false, false)).unwrap();
    assert_eq!(applied.deliveries.len(), 1);
    assert_eq!(
        payload(&world.take(0, TIMER_SINT).unwrap()).expiration_time,
        5
    );
}

#[test]
fn periodic_thousand_periods_without_drift() {
    let mut world = timer_world();
    let period = 10_000;
    world.wrmsr(0, COUNT0, period).unwrap();
    world.wrmsr(0, CONFIG0, config(true, false)).unwrap();
    let start = world.now;
    let mut late = 7_u64;
    for k in 1..=1000 {
        // The guest is scheduled late by a varying amount, less than a
        // period, and takes each message before the next expiration.
        late = (late * 7919 + 13) % (period - 1);
        let target = start + k * period + late;
        world.advance(target - world.now);
        let message = world.take(0, TIMER_SINT).unwrap();
        let expired = payload(&message);
        assert_eq!(expired.expiration_time, start + k * period, "period {k}");
        assert_eq!(expired.delivery_time, target);
    }
    let timer = world
        .synic
        .timer(world.partition, 0, TimerIndex::ALL[0])
        .unwrap();
    assert_eq!(timer.missed(), 0);
    assert_eq!(timer.deadline(), Some(start + 1001 * period));
}

#[test]
fn busy_slot_counts_missed_periods() {
    let mut world = timer_world();
    world.wrmsr(0, COUNT0, 100).unwrap();
    world.wrmsr(0, CONFIG0, config(true, false)).unwrap();
    let start = world.now;
    world.advance(100);
    // The guest does not take it. The next expiration's message waits in
    // the timer's buffer; the ones after it are missed.
    world.advance(100);
    world.advance(100);
    world.advance(100);
    let first = world.take(0, TIMER_SINT).unwrap();
    assert_eq!(payload(&first).expiration_time, start + 100);
    assert!(first.header.message_flags.message_pending());
    // The guest wrote EOM (take does, seeing MessagePending): the buffered
    // expiration comes now, with its own expiration time.
    let second = world.take(0, TIMER_SINT).unwrap();
    assert_eq!(payload(&second).expiration_time, start + 200);
    assert_eq!(payload(&second).delivery_time, world.now);
    let timer = world
        .synic
        .timer(world.partition, 0, TimerIndex::ALL[0])
        .unwrap();
    assert_eq!(timer.missed(), 2);
    // The grid is intact.
    assert_eq!(timer.deadline(), Some(start + 500));
}

#[test]
fn a_buffered_expiration_reaches_a_slot_freed_without_eom() {
    let mut world = timer_world();
    world.wrmsr(0, COUNT0, 100).unwrap();
    world.wrmsr(0, CONFIG0, config(true, true)).unwrap();
    let start = world.now;
    world.advance(100);
    world.advance(100);
    // The second expiration waits in the buffer, the slot says
    // MessagePending; the guest clears the slot with a header read before
    // the flag was set, so the flag goes and no EOM comes.
    let pages = world.synic.pages_mut(world.partition, 0).unwrap();
    let first = pages.take_message(s(TIMER_SINT)).unwrap();
    assert_eq!(payload(&first).expiration_time, start + 100);
    assert!(first.header.message_flags.message_pending());
    world.drain_interrupts();
    // The next poll finds the slot free and delivers what was buffered.
    world.advance(50);
    let second = world.take(0, TIMER_SINT).unwrap();
    assert_eq!(payload(&second).expiration_time, start + 200);
    assert_eq!(world.drain_interrupts(), vec![(0, TIMER_VECTOR)]);
    // And the timer goes on.
    world.advance(100);
    let third = world.take(0, TIMER_SINT).unwrap();
    assert_eq!(payload(&third).expiration_time, start + 300);
}

#[test]
fn fires_while_simp_disabled_and_arrives_when_enabled() {
    let mut world = timer_world();
    world.wrmsr(0, m::HV_X64_MSR_SIMP, 0x10_000).unwrap();
    world.wrmsr(0, COUNT0, world.now + 50).unwrap();
    world.wrmsr(0, CONFIG0, config(false, false)).unwrap();
    world.advance(100);
    assert!(world.drain_interrupts().is_empty());
    let buffered = world
        .synic
        .timer(world.partition, 0, TimerIndex::ALL[0])
        .unwrap()
        .buffered()
        .unwrap();
    assert_eq!(buffered.sint, s(TIMER_SINT));
    world.advance(1000);
    let enabled_at = world.now;
    let applied = world.wrmsr(0, m::HV_X64_MSR_SIMP, 0x10_001).unwrap();
    assert_eq!(applied.deliveries.len(), 1);
    let message = world.take(0, TIMER_SINT).unwrap();
    assert_eq!(payload(&message).expiration_time, enabled_at - 1050);
    assert_eq!(payload(&message).delivery_time, enabled_at);
}

#[test]
fn lazy_delivers_only_the_latest() {
    // A VP away for 10 periods: lazy delivers one expiration (the latest),
    // non-lazy catches up, at most CATCH_UP_LIMIT, the older ones skipped.
    for lazy in [true, false] {
        let mut timer = Stimer::default();
        let policy = StimerPolicy { direct_mode: true };
        timer.write_count(100, 0);
        let direct = HvStimerConfig::new()
            .with_enable(true)
            .with_periodic(true)
            .with_lazy(lazy)
            .with_direct_mode(true)
            .with_apic_vector(0x70);
        timer.write_config(direct.into_bits(), 0, &policy).unwrap();
        let mut expirations = Vec::new();
        while let Some(expiry) = timer.poll(1050) {
            expirations.push(expiry.expiration);
        }
        if lazy {
            assert_eq!(expirations, vec![1000]);
            assert_eq!(timer.missed(), 9);
        } else {
            let caught = CATCH_UP_LIMIT;
            let expected: Vec<u64> = (10 - caught + 1..=10).map(|k| k * 100).collect();
            assert_eq!(expirations, expected);
            assert_eq!(timer.missed(), 10 - caught);
        }
        assert_eq!(timer.deadline(), Some(1100));
    }
}

#[test]
fn auto_enable_and_zero_count() {
    let mut world = timer_world();
    let auto = HvStimerConfig::new()
        .with_auto_enable(true)
        .with_sintx(TIMER_SINT as u8)
        .into_bits();
    world.wrmsr(0, CONFIG0, auto).unwrap();
    assert_eq!(world.rdmsr(0, CONFIG0).unwrap() & 1, 0);
    world.wrmsr(0, COUNT0, world.now + 10).unwrap();
    assert_eq!(world.rdmsr(0, CONFIG0).unwrap() & 1, 1);
    // Count 0 stops it, AutoEnable or not.
    world.wrmsr(0, COUNT0, 0).unwrap();
    assert_eq!(world.rdmsr(0, CONFIG0).unwrap() & 1, 0);
    world.advance(100);
    assert!(world.take(0, TIMER_SINT).is_none());
    // Linux's order: config (Enable | AutoEnable) with count 0, then count.
    world.wrmsr(0, CONFIG0, auto | 1).unwrap();
    assert_eq!(world.rdmsr(0, CONFIG0).unwrap() & 1, 0);
    world.wrmsr(0, COUNT0, world.now + 10).unwrap();
    world.advance(10);
    assert!(world.take(0, TIMER_SINT).is_some());
}

#[test]
fn sintx_zero_disables_a_message_timer() {
    let mut world = timer_world();
    world.wrmsr(0, COUNT0, world.now + 10).unwrap();
    let no_sint = HvStimerConfig::new().with_enable(true).into_bits();
    world.wrmsr(0, CONFIG0, no_sint).unwrap();
    assert_eq!(world.rdmsr(0, CONFIG0), Ok(0));
    // With AutoEnable, a count write does not enable it either.
    world
        .wrmsr(
            0,
            CONFIG0,
            HvStimerConfig::new().with_auto_enable(true).into_bits(),
        )
        .unwrap();
    world.wrmsr(0, COUNT0, world.now + 10).unwrap();
    assert_eq!(world.rdmsr(0, CONFIG0).unwrap() & 1, 0);
}

#[test]
fn direct_mode() {
    let mut world = timer_world();
    let direct = HvStimerConfig::new()
        .with_enable(true)
        .with_direct_mode(true)
        .with_apic_vector(0xEF)
        .into_bits();
    world
        .wrmsr(0, m::HV_X64_MSR_STIMER2_COUNT, world.now + 20)
        .unwrap();
    world
        .wrmsr(0, m::HV_X64_MSR_STIMER2_CONFIG, direct)
        .unwrap();
    world.drain_interrupts();
    world.advance(20);
    assert_eq!(world.drain_interrupts(), vec![(0, 0xEF)]);
    // No message: SINT 0's slot is empty.
    assert!(world.take(0, 0).is_none());
    // Direct mode needs DirectSyntheticTimers and a vector of 16 or more.
    let mut timer = Stimer::default();
    let none = StimerPolicy { direct_mode: false };
    assert!(timer.write_config(direct, 0, &none).is_err());
    let low = HvStimerConfig::from_bits(direct)
        .with_apic_vector(15)
        .into_bits();
    assert!(
        timer
            .write_config(low, 0, &StimerPolicy { direct_mode: true })
            .is_err()
    );
}

#[test]
fn config_reserved_bits() {
    let mut world = timer_world();
    for bit in (13..16).chain(20..64) {
        assert!(
            world
                .wrmsr(0, CONFIG0, config(false, false) | 1 << bit)
                .is_err(),
            "bit {bit}"
        );
    }
    assert_eq!(world.rdmsr(0, CONFIG0), Ok(0));
    // The count takes any value.
    world.wrmsr(0, COUNT0, u64::MAX).unwrap();
    assert_eq!(world.rdmsr(0, COUNT0), Ok(u64::MAX));
}

#[test]
fn next_deadline_is_the_earliest() {
    let mut world = timer_world();
    let now = world.now;
    world.wrmsr(0, COUNT0, now + 300).unwrap();
    world.wrmsr(0, CONFIG0, config(false, false)).unwrap();
    world
        .wrmsr(0, m::HV_X64_MSR_STIMER3_COUNT, now + 200)
        .unwrap();
    world
        .wrmsr(0, m::HV_X64_MSR_STIMER3_CONFIG, config(false, false))
        .unwrap();
    assert_eq!(
        world.synic.next_deadline(world.partition, 0),
        Some(now + 200)
    );
    assert_eq!(world.synic.next_deadline(world.partition, 1), None);
}
