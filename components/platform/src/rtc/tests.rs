use super::*;
use core::cell::Cell;
use proptest::prelude::*;
use std::vec::Vec;

std::thread_local! {
    /// The fake host clock of this test's thread.
    static HOST_NS: Cell<Option<u64>> = const { Cell::new(None) };
}

fn host() -> Option<u64> {
    HOST_NS.with(Cell::get)
}

fn set_host(ns: u64) {
    HOST_NS.with(|c| c.set(Some(ns)));
}

/// 2026-12-07 13:45:09 UTC, a Monday.
const MOMENT: u64 = 1_796_651_109;
const SECOND: u64 = 1_000_000_000;

fn rtc_at(seconds: u64) -> Rtc {
    set_host(seconds * SECOND);
    Rtc::new(host)
}

fn read(rtc: &mut Rtc, index: u8) -> u8 {
    rtc.write(INDEX_PORT, index);
    rtc.read(DATA_PORT)
}

fn write(rtc: &mut Rtc, index: u8, value: u8) {
    rtc.write(INDEX_PORT, index);
    rtc.write(DATA_PORT, value);
}

fn time(rtc: &mut Rtc) -> [u8; 8] {
    [
        register::SECONDS,
        register::MINUTES,
        register::HOURS,
        register::DAY_OF_WEEK,
        register::DAY_OF_MONTH,
        register::MONTH,
        register::YEAR,
        register::CENTURY,
    ]
    .map(|index| read(rtc, index))
}

#[test]
fn it_reads_the_hosts_time_in_bcd_24_hour_format_after_reset() {
    let mut rtc = rtc_at(MOMENT);
    assert_eq!(
        time(&mut rtc),
        [0x09, 0x45, 0x13, 2, 0x07, 0x12, 0x26, 0x20]
    );
    assert_eq!(read(&mut rtc, register::STATUS_B), 0x02);
    assert_eq!(read(&mut rtc, register::STATUS_D), 0x80);
    set_host((MOMENT + 61) * SECOND);
    assert_eq!(time(&mut rtc)[..2], [0x10, 0x46]);
}

#[test]
fn register_b_selects_binary_and_12_hour_formats() {
    let mut rtc = rtc_at(MOMENT);
    write(&mut rtc, register::STATUS_B, cmos::BINARY);
    assert_eq!(time(&mut rtc), [9, 45, 1 | 0x80, 2, 7, 12, 26, 20]);
    write(&mut rtc, register::STATUS_B, 0);
    assert_eq!(read(&mut rtc, register::HOURS), 0x81);
}

#[test]
fn update_in_progress_shows_in_the_last_244_microseconds_of_a_second() {
    let mut rtc = rtc_at(MOMENT);
    assert_eq!(read(&mut rtc, register::STATUS_A), 0x26);
    set_host(MOMENT * SECOND + SECOND - 244_000);
    assert_eq!(read(&mut rtc, register::STATUS_A), 0xA6);
    set_host(MOMENT * SECOND + SECOND - 244_001);
    assert_eq!(read(&mut rtc, register::STATUS_A), 0x26);
    // Writes cannot set UIP.
    write(&mut rtc, register::STATUS_A, 0xA6);
    assert_eq!(read(&mut rtc, register::STATUS_A), 0x26);
}

#[test]
fn set_freezes_the_registers_and_the_written_time_runs_from_its_clearing() {
    let mut rtc = rtc_at(MOMENT);
    write(&mut rtc, register::STATUS_B, 0x82);
    set_host((MOMENT + 5) * SECOND);
    assert_eq!(read(&mut rtc, register::SECONDS), 0x09, "stopped while SET");
    assert_eq!(read(&mut rtc, register::STATUS_A) & 0x80, 0);
    // 1999-12-31 23:59:58.
    for (index, value) in [
        (register::SECONDS, 0x58),
        (register::MINUTES, 0x59),
        (register::HOURS, 0x23),
        (register::DAY_OF_MONTH, 0x31),
        (register::MONTH, 0x12),
        (register::YEAR, 0x99),
        (register::CENTURY, 0x19),
    ] {
        write(&mut rtc, index, value);
    }
    assert_eq!(read(&mut rtc, register::YEAR), 0x99, "held as written");
    write(&mut rtc, register::STATUS_B, 0x02);
    set_host((MOMENT + 8) * SECOND);
    assert_eq!(
        time(&mut rtc),
        [0x01, 0x00, 0x00, 7, 0x01, 0x01, 0x00, 0x20]
    );
}

#[test]
fn a_time_register_written_while_running_moves_the_clock() {
    let mut rtc = rtc_at(MOMENT);
    write(&mut rtc, register::YEAR, 0x30);
    assert_eq!(
        time(&mut rtc),
        [0x09, 0x45, 0x13, 7, 0x07, 0x12, 0x30, 0x20]
    );
    set_host((MOMENT + 1) * SECOND);
    assert_eq!(read(&mut rtc, register::SECONDS), 0x10);
}

#[test]
fn a_date_that_does_not_exist_leaves_the_clock_as_it_was() {
    let mut rtc = rtc_at(MOMENT);
    write(&mut rtc, register::STATUS_B, 0x82);
    write(&mut rtc, register::MONTH, 0x02);
    write(&mut rtc, register::DAY_OF_MONTH, 0x30);
    write(&mut rtc, register::STATUS_B, 0x02);
    assert_eq!(
        time(&mut rtc),
        [0x09, 0x45, 0x13, 2, 0x07, 0x12, 0x26, 0x20]
    );
    write(&mut rtc, register::SECONDS, 0x6A);
    assert_eq!(read(&mut rtc, register::SECONDS), 0x09);
}

#[test]
fn register_c_gathers_update_and_alarm_flags_and_clears_on_read() {
    let mut rtc = rtc_at(MOMENT);
    // No periodic flag: rate 0.
    write(&mut rtc, register::STATUS_A, 0x20);
    assert_eq!(read(&mut rtc, register::STATUS_C), 0);
    // Alarm at 13:45:12 (BCD), any of the three once.
    write(&mut rtc, register::SECONDS_ALARM, 0x12);
    write(&mut rtc, register::MINUTES_ALARM, 0x45);
    write(&mut rtc, register::HOURS_ALARM, 0x13);
    set_host((MOMENT + 2) * SECOND);
    assert_eq!(read(&mut rtc, register::STATUS_C), UF);
    assert_eq!(read(&mut rtc, register::STATUS_C), 0, "read clears");
    set_host((MOMENT + 4) * SECOND);
    assert_eq!(read(&mut rtc, register::STATUS_C), UF | AF);
    // Enabled flags raise IRQF.
    write(&mut rtc, register::STATUS_B, 0x02 | UIE);
    write(&mut rtc, register::SECONDS_ALARM, ALARM_ANY);
    set_host((MOMENT + 5) * SECOND);
    assert_eq!(read(&mut rtc, register::STATUS_C), IRQF | UF | AF);
}

#[test]
fn a_gap_of_more_than_a_day_holds_every_possible_alarm() {
    let mut rtc = rtc_at(MOMENT);
    write(&mut rtc, register::STATUS_A, 0x20);
    write(&mut rtc, register::HOURS_ALARM, 0x03);
    read(&mut rtc, register::STATUS_C);
    set_host((MOMENT + 3 * 86_400) * SECOND);
    assert_eq!(read(&mut rtc, register::STATUS_C), UF | AF);
    // An hour no clock shows matches never.
    write(&mut rtc, register::HOURS_ALARM, 0x25);
    set_host((MOMENT + 6 * 86_400) * SECOND);
    assert_eq!(read(&mut rtc, register::STATUS_C), UF);
}

#[test]
fn the_periodic_flag_follows_register_a_rate() {
    let mut rtc = rtc_at(MOMENT);
    read(&mut rtc, register::STATUS_C);
    // Rate 0x6: 1024 Hz, a period of 976562 ns.
    set_host(MOMENT * SECOND + 500_000);
    assert_eq!(read(&mut rtc, register::STATUS_C), 0);
    set_host(MOMENT * SECOND + 1_000_000);
    assert_eq!(read(&mut rtc, register::STATUS_C), PF);
    write(&mut rtc, register::STATUS_A, 0x20);
    set_host(MOMENT * SECOND + 900_000_000);
    assert_eq!(read(&mut rtc, register::STATUS_C), 0, "rate 0 is off");
    assert_eq!(periodic_ns(0x2F), Some(500_000_000));
    assert_eq!(periodic_ns(0x21), Some(3_906_250));
}

#[test]
fn ram_index_port_and_nmi_mask() {
    let mut rtc = rtc_at(MOMENT);
    write(&mut rtc, 0x40, 0xA5);
    assert_eq!(read(&mut rtc, 0x40), 0xA5);
    assert_eq!(rtc.read(INDEX_PORT), 0xFF);
    rtc.write(INDEX_PORT, 0x80 | 0x40);
    assert!(rtc.nmi_masked());
    assert_eq!(rtc.read(DATA_PORT), 0xA5, "bit 7 is not part of the index");
    write(&mut rtc, register::STATUS_D, 0);
    write(&mut rtc, register::STATUS_C, 0xFF);
    assert_eq!(read(&mut rtc, register::STATUS_D), 0x80);
    assert_eq!(read(&mut rtc, register::STATUS_C) & 0x0F, 0);
}

#[test]
fn without_a_host_clock_it_counts_from_the_epoch_and_says_so() {
    HOST_NS.with(|c| c.set(None));
    let mut rtc = Rtc::new(host);
    assert_eq!(read(&mut rtc, register::STATUS_D), 0);
    assert_eq!(time(&mut rtc), [0, 0, 0, 5, 0x01, 0x01, 0x70, 0x19]);
}

proptest! {
    #[test]
    fn no_port_access_sequence_panics_and_the_time_stays_valid(
        accesses in proptest::collection::vec((any::<bool>(), any::<u8>(), any::<u32>()), 0..64),
        start in 0u64..=4_000_000_000,
    ) {
        let mut rtc = rtc_at(start);
        let mut now = start * SECOND;
        let mut seen = Vec::new();
        for (to_index, value, advance) in accesses {
            now = now.saturating_add(u64::from(advance) * 1000);
            set_host(now);
            let port = if to_index { INDEX_PORT } else { DATA_PORT };
            rtc.write(port, value);
            seen.push(rtc.read(DATA_PORT));
        }
        write(&mut rtc, register::STATUS_B, 0x02);
        let fields = Fields {
            seconds: read(&mut rtc, register::SECONDS),
            minutes: read(&mut rtc, register::MINUTES),
            hours: read(&mut rtc, register::HOURS),
            day_of_week: 0,
            day_of_month: read(&mut rtc, register::DAY_OF_MONTH),
            month: read(&mut rtc, register::MONTH),
            year: read(&mut rtc, register::YEAR),
            century: read(&mut rtc, register::CENTURY),
        };
        prop_assert!(fields.unix_seconds(Format::of_status_b(0x02)).is_some(), "{fields:?}");
    }
}
