//! Short waits, from the time-stamp counter calibrated against the PIT.
//!
//! Starting an application processor needs waits of 10 ms and 200 µs (the
//! INIT/SIPI protocol); nothing here is precise beyond that.
use super::port;
use core::sync::atomic::{AtomicU64, Ordering};

static TSC_PER_MILLISECOND: AtomicU64 = AtomicU64::new(0);

const PIT_HZ: u64 = 1_193_182;
const PIT_CHANNEL2_DATA: u16 = 0x42;
const PIT_COMMAND: u16 = 0x43;
const SPEAKER_CONTROL: u16 = 0x61;
const CALIBRATION_MS: u64 = 10;
/// Without a PIT the calibration loop would never end; assume 1 GHz then,
/// which only makes the waits longer on faster machines.
const FALLBACK_TSC_PER_MS: u64 = 1_000_000;

pub fn read() -> u64 {
    // SAFETY: RDTSC has no side effects and is allowed at CPL 0.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Measures the TSC against a one-shot of PIT channel 2 (its gate and output
/// are visible in port 0x61, so no interrupt is needed).
pub fn calibrate() -> u64 {
    let count = PIT_HZ * CALIBRATION_MS / 1000;
    // Gate on, speaker off.
    port::write_u8(
        SPEAKER_CONTROL,
        (port::read_u8(SPEAKER_CONTROL) & !0x02) | 0x01,
    );
    // Channel 2, low then high byte, mode 0 (interrupt on terminal count).
    port::write_u8(PIT_COMMAND, 0b1011_0000);
    port::write_u8(PIT_CHANNEL2_DATA, count as u8);
    port::write_u8(PIT_CHANNEL2_DATA, (count >> 8) as u8);
    let start = read();
    let mut polls: u64 = 0;
    let per_ms = loop {
        if port::read_u8(SPEAKER_CONTROL) & 0x20 != 0 {
            break (read() - start) / CALIBRATION_MS;
        }
        polls += 1;
        if polls > 50_000_000 {
            log::warn!("tsc: the PIT never counted down; assuming 1 GHz");
            break FALLBACK_TSC_PER_MS;
        }
    };
    let per_ms = per_ms.max(1);
    TSC_PER_MILLISECOND.store(per_ms, Ordering::Relaxed);
    per_ms * 1000
}

pub fn ticks_per_microsecond() -> u64 {
    let per_ms = TSC_PER_MILLISECOND.load(Ordering::Relaxed);
    (if per_ms == 0 {
        FALLBACK_TSC_PER_MS
    } else {
        per_ms
    } / 1000)
        .max(1)
}

pub fn delay_microseconds(microseconds: u64) {
    let end = read() + microseconds * ticks_per_microsecond();
    while read() < end {
        core::hint::spin_loop();
    }
}
