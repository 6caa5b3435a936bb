//! The time-stamp counter: reading it, its frequency as measured at boot
//! (`clock.rs`), and short waits (the INIT/SIPI protocol's 10 ms and
//! 200 µs; nothing here is precise beyond that).
use core::sync::atomic::{AtomicU64, Ordering};

static TSC_HZ: AtomicU64 = AtomicU64::new(0);

/// Without a measurement the waits would be meaningless; assume 1 GHz
/// then, which only makes them longer on faster machines.
const FALLBACK_HZ: u64 = 1_000_000_000;

pub fn read() -> u64 {
    // SAFETY: RDTSC has no side effects and is allowed at CPL 0.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Measures the TSC against the ACPI PM timer or the PIT, logs the result
/// with its error bound, and keeps it for [`frequency_hz`].
pub fn calibrate(rsdp: Option<u64>) -> u64 {
    let hz = match super::clock::measure_tsc(rsdp) {
        Some(measurement) => {
            log::info!("tsc: {measurement}");
            measurement.calibration.tsc_hz
        }
        None => {
            log::warn!("tsc: neither the ACPI PM timer nor the PIT counted; assuming 1 GHz");
            FALLBACK_HZ
        }
    };
    let hz = hz.max(1);
    TSC_HZ.store(hz, Ordering::Relaxed);
    hz
}

/// The host TSC frequency in Hz (the fallback before [`calibrate`]).
pub fn frequency_hz() -> u64 {
    match TSC_HZ.load(Ordering::Relaxed) {
        0 => FALLBACK_HZ,
        hz => hz,
    }
}

pub fn ticks_per_microsecond() -> u64 {
    (frequency_hz() / 1_000_000).max(1)
}

pub fn delay_microseconds(microseconds: u64) {
    let end = read() + microseconds * ticks_per_microsecond();
    while read() < end {
        core::hint::spin_loop();
    }
}
