//! The PC's CMOS real-time clock and its RAM (an MC146818A as PC chipsets
//! carry it) on ports `0x70` (index; bit 7 masks NMIs) and `0x71` (data).
//!
//! The guest's clock is the host's wall clock (`Syscall::WallClock`) plus
//! whatever the guest set it to since: its time registers are computed at
//! each read, so it never drifts from the host and costs nothing while
//! nobody looks. What the data sheet specifies and a guest can observe is
//! kept: BCD or binary and 12- or 24-hour formats (register B), update in
//! progress during the last 244 µs of each second (register A, so a
//! reader polling it as Linux does reads a settled second), SET freezing
//! the registers while the guest writes them, a date that does not exist
//! leaving the clock as it was, and register C's update, alarm and
//! periodic flags, read-to-clear.
//!
//! The flags are computed when register C is read; this model raises no
//! IRQ 8 (**Choice**: the `platform` component serves calls and has no
//! timer of its own to wake on, and no guest we run needs RTC interrupts;
//! Linux's `rtc_cmos` then reads the time and finds its alarms silent).
use tessera_clock::cmos::{self, Fields, Format, register};

/// The index and data ports.
pub const INDEX_PORT: u16 = 0x70;
pub const DATA_PORT: u16 = 0x71;

/// Register A's reset value: the 32.768 kHz divider (`010`) and a
/// 1024 Hz periodic rate (`0110`), as firmware leaves it.
const STATUS_A_RESET: u8 = 0x26;
/// Register A's writable bits: the divider and the rate (UIP is read-only).
const STATUS_A_WRITABLE: u8 = 0x7F;
/// Register B's reset value: 24-hour, BCD (as PC firmware sets it).
const STATUS_B_RESET: u8 = cmos::HOURS_24;
/// Register B bit 7: updates stop, so the time can be set.
const SET: u8 = 0x80;
/// Register B bits 6-4: periodic, alarm and update-ended interrupts enabled.
const PIE: u8 = 0x40;
const AIE: u8 = 0x20;
const UIE: u8 = 0x10;
/// Register C: any enabled flag, periodic, alarm, update ended.
const IRQF: u8 = 0x80;
const PF: u8 = 0x40;
const AF: u8 = 0x20;
const UF: u8 = 0x10;
/// Register D bit 7: the RAM and time are valid (the battery is good).
const VRT: u8 = 0x80;
/// Alarm registers with both top bits set match any value.
const ALARM_ANY: u8 = 0xC0;

const NS_PER_SECOND: i128 = 1_000_000_000;
/// Alarm matches looked for one second at a time over at most a day;
/// a longer gap holds every time of day.
const SECONDS_PER_DAY: i128 = 86_400;

/// Nanoseconds since the Unix epoch, as the host knows them (`None`: the
/// host's clock is unknown).
pub type WallClock = fn() -> Option<u64>;

/// One partition's clock.
#[derive(Clone, Debug)]
pub struct Rtc {
    clock: WallClock,
    /// Whether the host knew the time when the guest first looked
    /// (register D's VRT).
    valid: bool,
    index: u8,
    nmi_masked: bool,
    /// Guest time minus host time.
    offset_ns: i128,
    status_a: u8,
    status_b: u8,
    /// Seconds, minutes and hours alarm registers, as written.
    alarm: [u8; 3],
    /// While SET is on: the time registers as the guest writes them.
    held: Option<Fields>,
    /// Register C's flags gathered and not yet read, and the guest time
    /// up to which they were gathered.
    flags: u8,
    flags_checked_ns: Option<i128>,
    ram: [u8; 128],
}

impl Rtc {
    /// A clock at power-on, reading the host's time through `clock`.
    pub fn new(clock: WallClock) -> Self {
        Self {
            clock,
            valid: clock().is_some(),
            index: 0,
            nmi_masked: false,
            offset_ns: 0,
            status_a: STATUS_A_RESET,
            status_b: STATUS_B_RESET,
            alarm: [0; 3],
            held: None,
            flags: 0,
            flags_checked_ns: None,
            ram: [0; 128],
        }
    }

    /// Whether the guest masked NMIs through the index port's bit 7.
    pub fn nmi_masked(&self) -> bool {
        self.nmi_masked
    }

    /// A byte read from `port`. The index port is write-only and reads all
    /// ones, as on PC chipsets.
    pub fn read(&mut self, port: u16) -> u8 {
        if port != DATA_PORT {
            return 0xFF;
        }
        let now = self.guest_ns();
        let format = self.format();
        let fields = self
            .held
            .unwrap_or_else(|| Fields::at(seconds_of(now), format));
        match self.index {
            register::SECONDS => fields.seconds,
            register::MINUTES => fields.minutes,
            register::HOURS => fields.hours,
            register::DAY_OF_WEEK => fields.day_of_week,
            register::DAY_OF_MONTH => fields.day_of_month,
            register::MONTH => fields.month,
            register::YEAR => fields.year,
            register::CENTURY => fields.century,
            register::SECONDS_ALARM => self.alarm[0],
            register::MINUTES_ALARM => self.alarm[1],
            register::HOURS_ALARM => self.alarm[2],
            register::STATUS_A => self.status_a | self.update_in_progress(now),
            register::STATUS_B => self.status_b,
            register::STATUS_C => self.take_flags(now),
            register::STATUS_D => {
                if self.valid {
                    VRT
                } else {
                    0
                }
            }
            index => self.ram[usize::from(index)],
        }
    }

    /// A byte written to `port`.
    pub fn write(&mut self, port: u16, value: u8) {
        if port == INDEX_PORT {
            self.index = value & 0x7F;
            self.nmi_masked = value & 0x80 != 0;
            return;
        }
        if port != DATA_PORT {
            return;
        }
        match self.index {
            register::SECONDS_ALARM => self.alarm[0] = value,
            register::MINUTES_ALARM => self.alarm[1] = value,
            register::HOURS_ALARM => self.alarm[2] = value,
            register::STATUS_A => {
                self.status_a = value & STATUS_A_WRITABLE;
            }
            register::STATUS_B => self.write_status_b(value),
            // Read-only.
            register::STATUS_C | register::STATUS_D => {}
            index if is_time_register(index) => self.write_time(index, value),
            index => self.ram[usize::from(index)] = value,
        }
    }

    fn format(&self) -> Format {
        Format::of_status_b(self.status_b)
    }

    /// The guest's time: the host's, moved by what the guest set.
    fn guest_ns(&self) -> i128 {
        let host = (self.clock)().map_or(0, i128::from);
        host + self.offset_ns
    }

    /// UIP in the last 244 µs of each second, unless SET stopped updates.
    fn update_in_progress(&self, now: i128) -> u8 {
        let into_second = now.rem_euclid(NS_PER_SECOND);
        let updates = self.held.is_none() && self.status_a & 0x70 == 0x20;
        if updates && into_second >= NS_PER_SECOND - i128::from(cmos::UPDATE_WARNING_NS) {
            cmos::UPDATE_IN_PROGRESS
        } else {
            0
        }
    }

    fn write_status_b(&mut self, value: u8) {
        let was_set = self.status_b & SET != 0;
        // SET stops the update-ended interrupt (data sheet: "UIE is
        // cleared when SET is written to 1").
        let value = if value & SET != 0 {
            value & !UIE
        } else {
            value
        };
        if value & SET != 0 && !was_set {
            let now = self.guest_ns();
            self.gather_flags(now);
            self.held = Some(Fields::at(seconds_of(now), self.format()));
        }
        self.status_b = value;
        if value & SET == 0
            && was_set
            && let Some(held) = self.held.take()
        {
            self.set_time(held);
        }
    }

    /// A write to a time register: into the held registers while SET is
    /// on; otherwise the clock takes the new field at once.
    fn write_time(&mut self, index: u8, value: u8) {
        let mut fields = match self.held {
            Some(fields) => fields,
            None => Fields::at(seconds_of(self.guest_ns()), self.format()),
        };
        match index {
            register::SECONDS => fields.seconds = value,
            register::MINUTES => fields.minutes = value,
            register::HOURS => fields.hours = value,
            register::DAY_OF_WEEK => fields.day_of_week = value,
            register::DAY_OF_MONTH => fields.day_of_month = value,
            register::MONTH => fields.month = value,
            register::YEAR => fields.year = value,
            _ => fields.century = value,
        }
        match self.held {
            Some(_) => self.held = Some(fields),
            None => self.set_time(fields),
        }
    }

    /// The clock now says `fields`, from the start of that second; a date
    /// that does not exist or a digit out of range leaves it as it was.
    fn set_time(&mut self, fields: Fields) {
        let Some(seconds) = fields.unix_seconds(self.format()) else {
            return;
        };
        let host = (self.clock)().map_or(0, i128::from);
        self.offset_ns = i128::from(seconds) * NS_PER_SECOND - host;
        self.flags_checked_ns = Some(i128::from(seconds) * NS_PER_SECOND);
    }

    /// Register C: the flags since the last read, then cleared.
    fn take_flags(&mut self, now: i128) -> u8 {
        self.gather_flags(now);
        let flags = self.flags;
        self.flags = 0;
        let enabled = (self.status_b & (PIE | AIE | UIE)) & flags;
        if enabled != 0 { flags | IRQF } else { flags }
    }

    /// Adds the flags for what happened between the last gathering and
    /// `now`: each second's update (UF) and alarm match (AF), each period
    /// of register A's rate (PF). Time stopped by SET raises none.
    fn gather_flags(&mut self, now: i128) {
        let since = self.flags_checked_ns.unwrap_or(now);
        self.flags_checked_ns = Some(now);
        if now <= since || self.held.is_some() {
            return;
        }
        if let Some(period) = periodic_ns(self.status_a)
            && now.div_euclid(period) > since.div_euclid(period)
        {
            self.flags |= PF;
        }
        let (first, last) = (seconds_of(since) + 1, seconds_of(now));
        if last < first {
            return;
        }
        self.flags |= UF;
        let format = self.format();
        let span = i128::from(last) - i128::from(first);
        let alarm = self.alarm;
        let matches = |second: i64| alarm_matches(alarm, Fields::at(second, format));
        let hit = if span >= SECONDS_PER_DAY {
            alarm_possible(alarm, format)
        } else {
            (first..=last).any(matches)
        };
        if hit {
            self.flags |= AF;
        }
    }
}

fn is_time_register(index: u8) -> bool {
    matches!(
        index,
        register::SECONDS
            | register::MINUTES
            | register::HOURS
            | register::DAY_OF_WEEK
            | register::DAY_OF_MONTH
            | register::MONTH
            | register::YEAR
            | register::CENTURY
    )
}

fn seconds_of(ns: i128) -> i64 {
    let seconds = ns.div_euclid(NS_PER_SECOND);
    i64::try_from(seconds).unwrap_or(if seconds < 0 { i64::MIN } else { i64::MAX })
}

/// The periodic interrupt's period for register A's rate bits (data
/// sheet table 3, 32.768 kHz time base): rate `n` is 2^(n-1) ticks of
/// the 32.768 kHz clock, rates 1 and 2 as 8 and 9; 0 is off.
fn periodic_ns(status_a: u8) -> Option<i128> {
    let rate = u32::from(status_a & 0x0F);
    if rate == 0 || status_a & 0x70 != 0x20 {
        return None;
    }
    let rate = if rate <= 2 { rate + 7 } else { rate };
    Some((NS_PER_SECOND << (rate - 1)) / 32_768)
}

fn alarm_matches(alarm: [u8; 3], now: Fields) -> bool {
    let field = |alarm: u8, value: u8| alarm & ALARM_ANY == ALARM_ANY || alarm == value;
    field(alarm[0], now.seconds) && field(alarm[1], now.minutes) && field(alarm[2], now.hours)
}

/// Whether some time of day matches the alarm registers.
fn alarm_possible(alarm: [u8; 3], format: Format) -> bool {
    let any = |value: u8| value & ALARM_ANY == ALARM_ANY;
    (any(alarm[0]) || format.decode(alarm[0]).is_some_and(|s| s < 60))
        && (any(alarm[1]) || format.decode(alarm[1]).is_some_and(|m| m < 60))
        && (any(alarm[2]) || format.decode_hour(alarm[2]).is_some())
}

#[cfg(test)]
mod tests;
