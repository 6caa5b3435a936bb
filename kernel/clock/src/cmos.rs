//! The PC's CMOS real-time clock (Motorola MC146818A and its successors):
//! how a moment is written into its date and time registers and read back
//! out, in the formats status register B selects (BCD or binary, 12- or
//! 24-hour). The kernel reads the host's clock through it at boot; the
//! `platform` component's emulated clock answers its guests through it.
//!
//! The calendar arithmetic is the `time` crate's; what is here is the
//! chip's encoding (MC146818A data sheet, "Address Map" and "Register B"),
//! and the PC convention of a century byte at index 0x32, which the
//! FADT's `CENTURY` field names (ACPI 6.5 §5.2.9).
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// Register indices.
pub mod register {
    pub const SECONDS: u8 = 0x00;
    pub const SECONDS_ALARM: u8 = 0x01;
    pub const MINUTES: u8 = 0x02;
    pub const MINUTES_ALARM: u8 = 0x03;
    pub const HOURS: u8 = 0x04;
    pub const HOURS_ALARM: u8 = 0x05;
    pub const DAY_OF_WEEK: u8 = 0x06;
    pub const DAY_OF_MONTH: u8 = 0x07;
    pub const MONTH: u8 = 0x08;
    pub const YEAR: u8 = 0x09;
    pub const STATUS_A: u8 = 0x0A;
    pub const STATUS_B: u8 = 0x0B;
    pub const STATUS_C: u8 = 0x0C;
    pub const STATUS_D: u8 = 0x0D;
    /// The century (the PC convention; the FADT's `CENTURY` names it).
    pub const CENTURY: u8 = 0x32;
}

/// Status register A bit 7: an update of the time registers is in
/// progress or begins within 244 µs; they must not be read then.
pub const UPDATE_IN_PROGRESS: u8 = 0x80;
/// How long before each second's update [`UPDATE_IN_PROGRESS`] is set.
pub const UPDATE_WARNING_NS: u64 = 244_000;
/// Status register B bit 2: the registers hold binary, not BCD.
pub const BINARY: u8 = 0x04;
/// Status register B bit 1: the hours count 0-23, not 1-12 with bit 7 PM.
pub const HOURS_24: u8 = 0x02;
/// The hours register's PM flag in 12-hour mode.
const PM: u8 = 0x80;

/// The register format status register B selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    pub binary: bool,
    pub hours_24: bool,
}

impl Format {
    #[must_use]
    pub const fn of_status_b(status_b: u8) -> Self {
        Self {
            binary: status_b & BINARY != 0,
            hours_24: status_b & HOURS_24 != 0,
        }
    }

    /// A value below 100 as the register holds it.
    #[must_use]
    pub const fn encode(self, value: u8) -> u8 {
        if self.binary {
            value
        } else {
            ((value / 10) << 4) | (value % 10)
        }
    }

    /// A register's value; `None` for a BCD byte with a digit above 9.
    #[must_use]
    pub const fn decode(self, raw: u8) -> Option<u8> {
        if self.binary {
            return Some(raw);
        }
        let (tens, ones) = (raw >> 4, raw & 0x0F);
        if tens > 9 || ones > 9 {
            return None;
        }
        Some(tens * 10 + ones)
    }

    /// An hour 0-23 as the hours register holds it.
    #[must_use]
    pub const fn encode_hour(self, hour: u8) -> u8 {
        if self.hours_24 {
            return self.encode(hour);
        }
        let twelve = match hour % 12 {
            0 => 12,
            h => h,
        };
        let pm = if hour >= 12 { PM } else { 0 };
        self.encode(twelve) | pm
    }

    /// The hours register's value as 0-23; `None` if it is out of range.
    #[must_use]
    pub fn decode_hour(self, raw: u8) -> Option<u8> {
        if self.hours_24 {
            return self.decode(raw).filter(|&h| h < 24);
        }
        let twelve = self.decode(raw & !PM).filter(|h| (1..=12).contains(h))?;
        Some(twelve % 12 + if raw & PM != 0 { 12 } else { 0 })
    }
}

/// The date and time registers, as the chip holds them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fields {
    pub seconds: u8,
    pub minutes: u8,
    pub hours: u8,
    /// 1-7, Sunday = 1.
    pub day_of_week: u8,
    pub day_of_month: u8,
    pub month: u8,
    /// The year within its century.
    pub year: u8,
    pub century: u8,
}

/// The moments the registers can hold: years 0 to 9999 (a two-digit
/// century and year), in seconds since the Unix epoch.
pub const FIRST_SECOND: i64 = -62_167_219_200;
pub const LAST_SECOND: i64 = 253_402_300_799;

impl Fields {
    /// The registers at `unix_seconds` (clamped to what they can hold).
    #[must_use]
    pub fn at(unix_seconds: i64, format: Format) -> Self {
        let seconds = unix_seconds.clamp(FIRST_SECOND, LAST_SECOND);
        let moment =
            OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        // Within 0..=9999 by the clamp.
        let year = moment.year().unsigned_abs();
        Self {
            seconds: format.encode(moment.second()),
            minutes: format.encode(moment.minute()),
            hours: format.encode_hour(moment.hour()),
            day_of_week: format.encode(moment.weekday().number_from_sunday()),
            day_of_month: format.encode(moment.day()),
            month: format.encode(u8::from(moment.month())),
            year: format.encode((year % 100) as u8),
            century: format.encode((year / 100) as u8),
        }
    }

    /// The moment the registers say, in seconds since the Unix epoch;
    /// `None` if a field is out of range or the date does not exist (the
    /// day of the week is not checked: the chip only counts it).
    #[must_use]
    pub fn unix_seconds(self, format: Format) -> Option<i64> {
        let year = i32::from(format.decode(self.century)?) * 100
            + i32::from(format.decode(self.year).filter(|&y| y < 100)?);
        let month = Month::try_from(format.decode(self.month)?).ok()?;
        let date = Date::from_calendar_date(year, month, format.decode(self.day_of_month)?).ok()?;
        let time = Time::from_hms(
            format.decode_hour(self.hours)?,
            format.decode(self.minutes)?,
            format.decode(self.seconds)?,
        )
        .ok()?;
        Some(
            PrimitiveDateTime::new(date, time)
                .assume_utc()
                .unix_timestamp(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BCD_24: Format = Format::of_status_b(HOURS_24);
    const BCD_12: Format = Format::of_status_b(0);
    const BINARY_24: Format = Format::of_status_b(BINARY | HOURS_24);
    const BINARY_12: Format = Format::of_status_b(BINARY);

    #[test]
    fn a_known_moment_in_bcd_24_hour() {
        // 2026-12-07 13:45:09 UTC, a Monday.
        let fields = Fields::at(1_796_651_109, BCD_24);
        assert_eq!(
            fields,
            Fields {
                seconds: 0x09,
                minutes: 0x45,
                hours: 0x13,
                day_of_week: 2,
                day_of_month: 0x07,
                month: 0x12,
                year: 0x26,
                century: 0x20,
            }
        );
        assert_eq!(fields.unix_seconds(BCD_24), Some(1_796_651_109));
    }

    #[test]
    fn twelve_hour_mode_marks_the_afternoon_and_has_no_hour_zero() {
        assert_eq!(BCD_12.encode_hour(0), 0x12);
        assert_eq!(BCD_12.encode_hour(12), 0x12 | PM);
        assert_eq!(BCD_12.encode_hour(13), 0x01 | PM);
        assert_eq!(BINARY_12.encode_hour(23), 11 | PM);
        assert_eq!(BCD_12.decode_hour(0x12), Some(0));
        assert_eq!(BCD_12.decode_hour(0x12 | PM), Some(12));
        assert_eq!(BCD_12.decode_hour(0x00), None);
        assert_eq!(BCD_12.decode_hour(0x13), None);
    }

    #[test]
    fn impossible_registers_say_no_moment() {
        let good = Fields::at(0, BCD_24);
        let bad_digit = Fields {
            seconds: 0x5A,
            ..good
        };
        let bad_day = Fields {
            month: 0x02,
            day_of_month: 0x30,
            ..good
        };
        let bad_hour = Fields {
            hours: 0x24,
            ..good
        };
        let bad_month = Fields {
            month: 0x13,
            ..good
        };
        for fields in [bad_digit, bad_day, bad_hour, bad_month] {
            assert_eq!(fields.unix_seconds(BCD_24), None, "{fields:?}");
        }
        assert_eq!(good.unix_seconds(BCD_24), Some(0));
    }

    #[test]
    fn moments_outside_the_registers_range_are_clamped() {
        assert_eq!(
            Fields::at(i64::MAX, BCD_24).unix_seconds(BCD_24),
            Some(LAST_SECOND)
        );
        assert_eq!(
            Fields::at(i64::MIN, BINARY_24).unix_seconds(BINARY_24),
            Some(FIRST_SECOND)
        );
    }

    proptest! {
        #[test]
        fn every_moment_reads_back_in_every_format(
            seconds in FIRST_SECOND..=LAST_SECOND,
            status_b in 0u8..8,
        ) {
            let format = Format::of_status_b(status_b);
            let fields = Fields::at(seconds, format);
            prop_assert_eq!(fields.unix_seconds(format), Some(seconds));
        }

        #[test]
        fn no_register_value_panics(
            raw in any::<[u8; 8]>(),
            status_b in any::<u8>(),
        ) {
            let fields = Fields {
                seconds: raw[0], minutes: raw[1], hours: raw[2], day_of_week: raw[3],
                day_of_month: raw[4], month: raw[5], year: raw[6], century: raw[7],
            };
            let format = Format::of_status_b(status_b);
            if let Some(seconds) = fields.unix_seconds(format) {
                prop_assert!((FIRST_SECOND..=LAST_SECOND).contains(&seconds));
            }
        }
    }
}
