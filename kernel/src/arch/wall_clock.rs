//! The time of day: the host's CMOS real-time clock, read once at boot,
//! carried forward by the TSC. Components read it with
//! `Syscall::WallClock` (the `platform` component's emulated clock starts
//! its guests' from it); nothing in the kernel depends on it.
use super::{port, tsc};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tessera_clock::cmos::{self, Fields, Format, register};

const INDEX_PORT: u16 = 0x70;
const DATA_PORT: u16 = 0x71;

/// Unix time in nanoseconds when the TSC read [`AT_TSC`].
static UNIX_NS: AtomicU64 = AtomicU64::new(0);
static AT_TSC: AtomicU64 = AtomicU64::new(0);
static KNOWN: AtomicBool = AtomicBool::new(false);

/// An update takes at most 2 ms after UIP rises (MC146818A data sheet);
/// a clock that stays busy longer than this is not counting.
const UPDATE_WAIT_US: u64 = 10_000;
/// Reads that straddle an update differ; a few attempts find a stable one.
const ATTEMPTS: usize = 4;

fn read_register(index: u8) -> u8 {
    // Bit 7 of the index clear: NMIs stay enabled, as the firmware left them.
    port::write_u8(INDEX_PORT, index & 0x7F);
    port::read_u8(DATA_PORT)
}

/// Waits for no update to be in progress; false if one never ends.
fn settled() -> bool {
    let deadline = tsc::read() + UPDATE_WAIT_US * tsc::ticks_per_microsecond();
    while read_register(register::STATUS_A) & cmos::UPDATE_IN_PROGRESS != 0 {
        if tsc::read() > deadline {
            return false;
        }
        core::hint::spin_loop();
    }
    true
}

fn fields(century_index: Option<u8>) -> Fields {
    Fields {
        seconds: read_register(register::SECONDS),
        minutes: read_register(register::MINUTES),
        hours: read_register(register::HOURS),
        day_of_week: read_register(register::DAY_OF_WEEK),
        day_of_month: read_register(register::DAY_OF_MONTH),
        month: read_register(register::MONTH),
        year: read_register(register::YEAR),
        century: century_index.map_or(0, read_register),
    }
}

/// Reads the host's clock. `century_index` is the FADT's `CENTURY` (ACPI
/// 6.5 §5.2.9): without one, the years are taken as 2000-2099.
pub fn read_host(century_index: Option<u8>) {
    let format = Format::of_status_b(read_register(register::STATUS_B));
    for _ in 0..ATTEMPTS {
        if !settled() {
            break;
        }
        let first = fields(century_index);
        let second = fields(century_index);
        if first != second {
            continue;
        }
        let mut reading = first;
        if century_index.is_none() {
            reading.century = format.encode(20);
        }
        let at_tsc = tsc::read();
        let Some(seconds) = reading.unix_seconds(format) else {
            log::warn!("wall clock: the host's RTC holds no valid date ({reading:?})");
            return;
        };
        let Ok(seconds) = u64::try_from(seconds) else {
            log::warn!("wall clock: the host's RTC says {seconds} s, before 1970");
            return;
        };
        UNIX_NS.store(seconds.saturating_mul(1_000_000_000), Ordering::Relaxed);
        AT_TSC.store(at_tsc, Ordering::Relaxed);
        KNOWN.store(true, Ordering::Release);
        log::info!("wall clock: {seconds} s since the Unix epoch (host RTC)");
        return;
    }
    log::warn!("wall clock: the host's RTC never settled; the time of day is unknown");
}

/// Nanoseconds since the Unix epoch, or `None` if the host's clock could
/// not be read at boot.
pub fn now_ns() -> Option<u64> {
    if !KNOWN.load(Ordering::Acquire) {
        return None;
    }
    let elapsed = tsc::read().saturating_sub(AT_TSC.load(Ordering::Relaxed));
    let elapsed_ns = u128::from(elapsed) * 1_000_000_000 / u128::from(tsc::frequency_hz());
    Some(
        UNIX_NS
            .load(Ordering::Relaxed)
            .saturating_add(u64::try_from(elapsed_ns).unwrap_or(u64::MAX)),
    )
}
