//! The host TSC frequency, measured once at boot against a counter of
//! known frequency (`tessera_clock` does the arithmetic and bounds the
//! error): the ACPI PM timer the FADT names, else the PIT's channel 2.
//! The HPET is not used: the PM timer is on every ACPI machine Tessera
//! boots on (QEMU's q35 and pc included), and the PIT backs it up.
//!
//! Nothing here waits on wall-clock time: every loop is bounded by a count
//! of samples, so a counter that never moves (absent device, a firmware
//! lie) ends the measurement instead of hanging the boot. Under QEMU with
//! `-icount` the TSC and both counters run off the instruction count, so
//! the measurement and its instruction count are the same on every run.
use super::port;
use tessera_clock::{Calibration, Calibrator, ReferenceClock, Sample};

/// Stop when the bounds are this close to the estimate, in ppm.
const TARGET_PPM: u64 = 50;
/// Never fewer counter ticks than this (a few ms), so the estimate does
/// not rest on a handful of ticks even when the TSC windows are narrow.
const MIN_TICKS: u64 = 16_384;
/// Stop after about 100 ms of counter time, precise or not.
const MAX_MILLISECONDS: u64 = 100;
/// Stop after this many reads whatever the counter does (the counter is
/// dead if it moved fewer than two ticks by then).
const MAX_SAMPLES: u32 = 2_000_000;
/// Check the bounds only every this many samples (the check divides).
const CHECK_EVERY: u32 = 64;

/// Which counter a measurement used.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    PmTimer { port: u16, bits: u8 },
    Pit,
}

/// A TSC frequency measurement: the estimate, its bounds, the counter and
/// how many of its ticks it spanned.
#[derive(Clone, Copy, Debug)]
pub struct Measurement {
    pub calibration: Calibration,
    pub source: Source,
    pub ticks: u64,
}

fn tsc() -> u64 {
    super::tsc::read()
}

/// Feeds `read`'s counter values, each bracketed by TSC reads, into a
/// calibrator until it is precise, has run long enough, or the sample
/// budget is spent.
fn measure(clock: ReferenceClock, mut read: impl FnMut() -> u64) -> Option<(Calibration, u64)> {
    let mut sample = || {
        let tsc_before = tsc();
        let counter = read();
        Sample {
            tsc_before,
            counter,
            tsc_after: tsc(),
        }
    };
    let max_ticks = clock.numerator * MAX_MILLISECONDS / 1000 / clock.denominator;
    let mut calibrator = Calibrator::new(clock, sample()).ok()?;
    for count in 1..=MAX_SAMPLES {
        let ticks = calibrator.add(sample()).ok()?;
        if ticks >= max_ticks
            || (count % CHECK_EVERY == 0 && ticks >= MIN_TICKS && calibrator.precise_to(TARGET_PPM))
        {
            break;
        }
    }
    let calibration = calibrator.calibration().ok()?;
    Some((calibration, calibrator.ticks()))
}

/// Against the ACPI PM timer at `port`.
fn pm_timer(port: u16, extended: bool) -> Option<Measurement> {
    let clock = ReferenceClock::acpi_pm_timer(extended);
    let (calibration, ticks) = measure(clock, || u64::from(port::read_u32(port)))?;
    Some(Measurement {
        calibration,
        source: Source::PmTimer {
            port,
            bits: clock.bits,
        },
        ticks,
    })
}

const PIT_CHANNEL2_DATA: u16 = 0x42;
const PIT_COMMAND: u16 = 0x43;
const SPEAKER_CONTROL: u16 = 0x61;

/// Against PIT channel 2 counting down from 65536 over and over (mode 2,
/// gate on, speaker off), read with the counter-latch command.
fn pit() -> Option<Measurement> {
    port::write_u8(
        SPEAKER_CONTROL,
        (port::read_u8(SPEAKER_CONTROL) & !0x02) | 0x01,
    );
    // Channel 2, low then high byte, mode 2 (rate generator), binary.
    port::write_u8(PIT_COMMAND, 0b1011_0100);
    port::write_u8(PIT_CHANNEL2_DATA, 0);
    port::write_u8(PIT_CHANNEL2_DATA, 0);
    let (calibration, ticks) = measure(ReferenceClock::PIT, || {
        // Latch channel 2, then read its count low byte first.
        port::write_u8(PIT_COMMAND, 0b1000_0000);
        let low = port::read_u8(PIT_CHANNEL2_DATA);
        let high = port::read_u8(PIT_CHANNEL2_DATA);
        u64::from(u16::from_le_bytes([low, high]))
    })?;
    Some(Measurement {
        calibration,
        source: Source::Pit,
        ticks,
    })
}

/// Measures the TSC: the PM timer the ACPI tables at `rsdp` name, else
/// the PIT. `None` if neither counter moved.
pub fn measure_tsc(rsdp: Option<u64>) -> Option<Measurement> {
    crate::acpi_tables::pm_timer(rsdp)
        .and_then(|(port, extended)| pm_timer(port, extended))
        .or_else(pit)
}

impl core::fmt::Display for Measurement {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let c = self.calibration;
        write!(
            f,
            "{} Hz = {}.{:06} MHz (between {} and {} Hz, ±{} ppm; ",
            c.tsc_hz,
            c.tsc_hz / 1_000_000,
            c.tsc_hz % 1_000_000,
            c.min_hz,
            c.max_hz,
            c.error_ppm()
        )?;
        match self.source {
            Source::PmTimer { port, bits } => {
                write!(
                    f,
                    "{} ticks of the {bits}-bit ACPI PM timer at port {port:#x})",
                    self.ticks
                )
            }
            Source::Pit => write!(f, "{} ticks of PIT channel 2)", self.ticks),
        }
    }
}
