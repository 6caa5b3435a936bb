//! Measuring the host TSC frequency against a counter of known frequency:
//! the arithmetic and its error bounds. The kernel reads the counter (port
//! or MMIO) and the TSC; this crate turns the readings into a frequency
//! and says how sure it is.
//!
//! # Method
//!
//! The kernel takes *samples*: it reads the TSC, the counter, the TSC
//! again ([`Sample`]), so it knows the counter was read somewhere in that
//! TSC window. It feeds a [`Calibrator`] one sample after another, at
//! least once per counter wrap (the calibrator accumulates the ticks
//! between consecutive samples modulo the counter's width), until
//! [`Calibrator::calibration`] is precise enough.
//!
//! With `n` counter ticks between the first and last sample, the true time
//! between the two counter reads is strictly between `n − 1` and `n + 1`
//! ticks (each reading of a counter that has just shown value `c` is
//! anywhere within tick `c`), and the TSC ticks between them lie between
//! `before_last − after_first` and `after_last − before_first`. Hence
//!
//! ```text
//! (before_last − after_first) · f / (n + 1)  ≤  TSC Hz  ≤  (after_last − before_first) · f / (n − 1)
//! ```
//!
//! and the estimate is the distance between the windows' midpoints times
//! `f / n`. The bounds are relative to the counter's own frequency `f`;
//! its crystal's tolerance comes on top.
//!
//! # Counters
//!
//! | counter | frequency | width | direction | source |
//! | --- | --- | --- | --- | --- |
//! | ACPI PM timer | 3.579545 MHz | 24 bits, or 32 with FADT `TMR_VAL_EXT` | up | ACPI 6.5 §4.8.3.3 "Power Management Timer (PM_TMR)" |
//! | PIT (8254) channel 2 or 0 | 1.193182 MHz | 16 bits | down | Intel 8254 datasheet; the PC's 14.31818 MHz / 12 |
//! | HPET main counter | 10¹⁵ / period (fs) | 32 or 64 bits | up | IA-PC HPET Specification 1.0a §2.3.4 (`COUNTER_CLK_PERIOD`, at most 10⁸ fs) |

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod cmos;
pub mod deadlines;

/// The ACPI power-management timer's frequency, in Hz.
pub const ACPI_PM_TIMER_HZ: u64 = 3_579_545;
/// The 8254 PIT's input clock, in Hz.
pub const PIT_HZ: u64 = 1_193_182;
/// The longest HPET tick the specification allows: 100 ns in femtoseconds.
pub const HPET_MAX_PERIOD_FS: u64 = 100_000_000;

/// Whether a counter counts up or down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Up (PM timer, HPET).
    Up,
    /// Down (PIT).
    Down,
}

/// A counter of known frequency `numerator / denominator` Hz.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReferenceClock {
    /// Frequency numerator (Hz · `denominator`).
    pub numerator: u64,
    /// Frequency denominator (1 unless the frequency is not whole).
    pub denominator: u64,
    /// Counter width in bits (1–64).
    pub bits: u8,
    /// Counting direction.
    pub direction: Direction,
}

impl ReferenceClock {
    /// The ACPI PM timer; `extended` is FADT flag `TMR_VAL_EXT` (32-bit
    /// counter instead of 24).
    #[must_use]
    pub const fn acpi_pm_timer(extended: bool) -> Self {
        Self {
            numerator: ACPI_PM_TIMER_HZ,
            denominator: 1,
            bits: if extended { 32 } else { 24 },
            direction: Direction::Up,
        }
    }

    /// The PIT, read back with a latch command as a 16-bit down counter.
    pub const PIT: Self = Self {
        numerator: PIT_HZ,
        denominator: 1,
        bits: 16,
        direction: Direction::Down,
    };

    /// The HPET main counter with the tick `period_fs` from its general
    /// capabilities register (bits 63:32) and `counter_64bit`
    /// (`COUNT_SIZE_CAP`, bit 13); `None` for a period of 0 or above 100 ns
    /// ("this field must be ... less than or equal to 0x05F5E100").
    #[must_use]
    pub const fn hpet(period_fs: u64, counter_64bit: bool) -> Option<Self> {
        if period_fs == 0 || period_fs > HPET_MAX_PERIOD_FS {
            return None;
        }
        Some(Self {
            numerator: 1_000_000_000_000_000,
            denominator: period_fs,
            bits: if counter_64bit { 64 } else { 32 },
            direction: Direction::Up,
        })
    }

    const fn mask(&self) -> u64 {
        if self.bits >= 64 {
            u64::MAX
        } else {
            (1 << self.bits) - 1
        }
    }

    /// Ticks from counter value `earlier` to `later`, modulo the width
    /// (so correct across one wrap, and only one).
    #[must_use]
    pub const fn ticks_between(&self, earlier: u64, later: u64) -> u64 {
        let delta = match self.direction {
            Direction::Up => later.wrapping_sub(earlier),
            Direction::Down => earlier.wrapping_sub(later),
        };
        delta & self.mask()
    }

    /// How long one wrap of the counter takes, in nanoseconds: the kernel
    /// must sample more often than this (PM timer 24-bit: about 4.69 s;
    /// PIT: about 54.9 ms).
    #[must_use]
    pub const fn wrap_ns(&self) -> u64 {
        let ticks = self.mask() as u128 + 1;
        let ns = ticks * 1_000_000_000 * self.denominator as u128 / self.numerator as u128;
        if ns > u64::MAX as u128 {
            u64::MAX
        } else {
            ns as u64
        }
    }
}

/// One reading of the counter, bracketed by two TSC reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sample {
    /// The TSC just before the counter was read.
    pub tsc_before: u64,
    /// The counter's value.
    pub counter: u64,
    /// The TSC just after.
    pub tsc_after: u64,
}

/// Why a calibration cannot be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CalibrationError {
    /// A sample's TSC went backwards (within the sample or from the
    /// previous one): the readings are not from one TSC.
    TscNotMonotonic,
    /// Fewer than two counter ticks so far: no bound yet.
    TooShort,
}

/// The result: an estimate and bounds, in Hz.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Calibration {
    /// The estimate.
    pub tsc_hz: u64,
    /// The TSC frequency is at least this.
    pub min_hz: u64,
    /// And at most this.
    pub max_hz: u64,
}

impl Calibration {
    /// The larger distance from the estimate to a bound, in parts per
    /// million of the estimate.
    #[must_use]
    pub const fn error_ppm(&self) -> u64 {
        let below = self.tsc_hz.saturating_sub(self.min_hz);
        let above = self.max_hz.saturating_sub(self.tsc_hz);
        let worst = if below > above { below } else { above };
        if self.tsc_hz == 0 {
            return u64::MAX;
        }
        (worst as u128 * 1_000_000).div_ceil(self.tsc_hz as u128) as u64
    }
}

/// Accumulates samples of one counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Calibrator {
    clock: ReferenceClock,
    first: Sample,
    last: Sample,
    ticks: u64,
}

impl Calibrator {
    /// Starts with the first sample.
    ///
    /// # Errors
    ///
    /// The sample's TSC reads are out of order.
    pub const fn new(clock: ReferenceClock, first: Sample) -> Result<Self, CalibrationError> {
        if first.tsc_after < first.tsc_before {
            return Err(CalibrationError::TscNotMonotonic);
        }
        Ok(Self {
            clock,
            first,
            last: first,
            ticks: 0,
        })
    }

    /// Adds the next sample; returns the ticks counted since the first.
    /// The sample must come less than one counter wrap after the previous
    /// one ([`ReferenceClock::wrap_ns`]).
    ///
    /// # Errors
    ///
    /// The TSC went backwards; the calibrator is unchanged.
    pub fn add(&mut self, sample: Sample) -> Result<u64, CalibrationError> {
        if sample.tsc_after < sample.tsc_before || sample.tsc_before < self.last.tsc_after {
            return Err(CalibrationError::TscNotMonotonic);
        }
        let ticks = self.clock.ticks_between(self.last.counter, sample.counter);
        self.ticks = self.ticks.saturating_add(ticks);
        self.last = sample;
        Ok(self.ticks)
    }

    /// Counter ticks so far.
    #[must_use]
    pub const fn ticks(&self) -> u64 {
        self.ticks
    }

    /// The frequency and its bounds from the samples so far.
    ///
    /// # Errors
    ///
    /// Fewer than two ticks.
    pub fn calibration(&self) -> Result<Calibration, CalibrationError> {
        let n = self.ticks as u128;
        if n < 2 {
            return Err(CalibrationError::TooShort);
        }
        let num = self.clock.numerator as u128;
        let den = self.clock.denominator as u128;
        let (first, last) = (self.first, self.last);
        let shortest = (last.tsc_before - first.tsc_after) as u128;
        let longest = (last.tsc_after - first.tsc_before) as u128;
        // Twice the distance between the windows' midpoints, in integers.
        let midpoints2 = (last.tsc_before as u128 + last.tsc_after as u128)
            - (first.tsc_before as u128 + first.tsc_after as u128);
        let clamp = |x: u128| {
            if x > u64::MAX as u128 {
                u64::MAX
            } else {
                x as u64
            }
        };
        Ok(Calibration {
            // midpoints · f / n, rounded to nearest.
            tsc_hz: clamp((midpoints2 * num + n * den) / (2 * n * den)),
            // Bounds rounded outwards, so they are never too tight.
            min_hz: clamp(shortest * num / ((n + 1) * den)),
            max_hz: clamp((longest * num).div_ceil((n - 1) * den)),
        })
    }

    /// Whether the bounds are already within `ppm` of the estimate: the
    /// kernel's loop condition.
    #[must_use]
    pub fn precise_to(&self, ppm: u64) -> bool {
        self.calibration().is_ok_and(|c| c.error_ppm() <= ppm)
    }
}
