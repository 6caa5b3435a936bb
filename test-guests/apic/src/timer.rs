//! The APIC timer in its three modes (SDM §10.5.4), each waited for in
//! HLT: never early, and periodic on its grid (no drift).
//!
//! The timer counts at 200 MHz (divided by 1 here); the guest does not
//! know the TSC's rate, so it measures TSC ticks per count from the
//! current-count register, which the kernel derives from the TSC. The
//! exact checks need no rate: a one-shot's current count is 0 once its
//! interrupt came, and a TSC deadline is compared with the TSC itself.

use tessera_guest_framework::interrupt::{self, Eoi};
use tessera_guest_framework::{Failure, Suite, cpu, ensure, ensure_eq};

use crate::registers::{msr, offset};

const TIMER_VECTOR: u8 = 0x70;
const ONE_SHOT: u64 = 0;
const PERIODIC: u64 = 1 << 17;
const TSC_DEADLINE: u64 = 2 << 17;
const MASKED: u64 = 1 << 16;
const IA32_TSC_DEADLINE: u32 = 0x6E0;
/// 2 ms at 200 MHz.
const ONE_SHOT_COUNTS: u32 = 400_000;
/// The periodic check's period in TSC ticks (about 10 ms on a 3 GHz TSC),
/// converted to counts with the measured rate, and how many it counts.
/// Under QEMU's TCG on a busy host a wake-up from HLT can take over 10 ms,
/// and the host's TSC calibration may be off by a few times: a period
/// counted in TSC ticks stays long enough that few are coalesced, and
/// those few are told apart from drift (`periodic`). (That the grid never
/// drifts, for any rate and late poll, is the property the `tessera-lapic`
/// timer tests prove; this checks it end to end.)
const PERIOD_TICKS: u64 = 30_000_000;
const PERIODS: u64 = 1000;
/// A progress line every this many periods (the run's limit watches the
/// serial port, and 1000 periods take seconds).
const PROGRESS_EVERY: u64 = 100;

fn lvt_timer(mode: u64) -> Result<(), Failure> {
    Ok(cpu::wrmsr(
        msr(offset::LVT_TIMER),
        mode | u64::from(TIMER_VECTOR),
    )?)
}

fn initial_count(count: u32) -> Result<(), Failure> {
    Ok(cpu::wrmsr(msr(offset::TIMER_INITIAL), u64::from(count))?)
}

fn current_count() -> Result<u64, Failure> {
    Ok(cpu::rdmsr(msr(offset::TIMER_CURRENT))?)
}

/// Bounds on the TSC ticks per timer count, times 1024, measured over
/// 20 000 000 counts of a masked one-shot. Each current-count read is an
/// exit that may take long on a busy host, so each is bracketed by two TSC
/// reads: the count was sampled somewhere between them.
fn ticks_per_count_1024() -> Result<(u64, u64), Failure> {
    const SPAN: u64 = 20_000_000;
    cpu::wrmsr(msr(offset::TIMER_DIVIDE), 0xB)?;
    lvt_timer(ONE_SHOT | MASKED)?;
    initial_count(u32::MAX)?;
    let sample = || -> Result<(u64, u64, u64), Failure> {
        let before = cpu::rdtsc();
        let count = current_count()?;
        Ok((before, count, cpu::rdtsc()))
    };
    let (start_before, start, start_after) = sample()?;
    let mut end = sample()?;
    while start.saturating_sub(end.1) < SPAN {
        end = sample()?;
    }
    initial_count(0)?;
    let counts = start - end.1;
    let low = (end.0 - start_after) * 1024 / (counts + 1);
    let high = (end.2 - start_before) * 1024 / (counts - 1);
    Ok((low, high))
}

pub fn run(suite: &mut Suite) {
    interrupt::set_eoi(Eoi::X2apicMsr);
    let mut rate = None;
    suite.check(
        "the timer counts down at a steady rate against the TSC",
        || {
            let measured = ticks_per_count_1024()?;
            ensure!(measured.0 > 0, "no TSC ticks per count");
            rate = Some(measured);
            Ok(())
        },
    );
    let Some((low, high)) = rate else {
        return;
    };
    suite.note(format_args!(
        "timer: {low} to {high} TSC ticks per 1024 counts"
    ));
    // The least time `counts` can take.
    let at_least = |counts: u64| counts * low / 1024;
    suite.check(
        "one-shot: HLT wakes on its interrupt, never early, then it stops",
        || {
            interrupt::reset();
            lvt_timer(ONE_SHOT)?;
            let start = cpu::rdtsc();
            initial_count(ONE_SHOT_COUNTS)?;
            interrupt::sti_hlt();
            interrupt::cli();
            ensure_eq!(interrupt::count(TIMER_VECTOR), 1, "timer interrupts");
            ensure_eq!(current_count()?, 0, "current count once it fired");
            let waited = interrupt::last_tsc() - start;
            let least = at_least(u64::from(ONE_SHOT_COUNTS));
            ensure!(
                waited >= least,
                "fired after {waited} TSC ticks, before {least}"
            );
            // Expired: no second interrupt.
            interrupt::sti();
            for _ in 0..10_000 {
                core::hint::spin_loop();
            }
            interrupt::cli();
            ensure_eq!(interrupt::count(TIMER_VECTOR), 1, "timer interrupts later");
            Ok(())
        },
    );
    let mut phase = (0, 0, 0);
    let mut counted = Counted::default();
    suite.check(
        "periodic: 1000 periods waited in HLT, none early, as many as the TSC says, no drift",
        || {
            let (phase_now, counted_now) = periodic(low, high)?;
            (phase, counted) = (phase_now, counted_now);
            Ok(())
        },
    );
    suite.note(format_args!(
        "timer: {} periodic interrupts, {} gaps off one period by a quarter or more (a slow \
         host: then not counted), {} to {} periods by the TSC",
        counted.interrupts, counted.uneven_gaps, counted.expected.0, counted.expected.1
    ));
    suite.note(format_args!(
        "timer: after {PERIODS} periods the current count was {}, {} to {} counts since the start",
        phase.0, phase.1, phase.2
    ));
    let mut late = (u64::MAX, 0);
    suite.check(
        "TSC-deadline: never before the deadline, 20 times; a past deadline fires at once; \
         0 disarms",
        || {
            interrupt::reset();
            lvt_timer(TSC_DEADLINE)?;
            for i in 1..=20u64 {
                let deadline = cpu::rdtsc() + i * at_least(20_000);
                cpu::wrmsr(IA32_TSC_DEADLINE, deadline)?;
                interrupt::sti_hlt();
                interrupt::cli();
                ensure_eq!(u64::from(interrupt::count(TIMER_VECTOR)), i, "interrupts");
                let came = interrupt::last_tsc();
                ensure!(came >= deadline, "deadline {deadline}, interrupt at {came}");
                late = (late.0.min(came - deadline), late.1.max(came - deadline));
                ensure_eq!(cpu::rdmsr(IA32_TSC_DEADLINE)?, 0, "the MSR once it fired");
            }
            cpu::wrmsr(IA32_TSC_DEADLINE, 1)?;
            interrupt::window();
            ensure_eq!(interrupt::count(TIMER_VECTOR), 21, "a past deadline");
            // A second away: it cannot pass before the disarming write.
            cpu::wrmsr(IA32_TSC_DEADLINE, cpu::rdtsc() + at_least(200_000_000))?;
            cpu::wrmsr(IA32_TSC_DEADLINE, 0)?;
            interrupt::sti();
            for _ in 0..100_000 {
                core::hint::spin_loop();
            }
            interrupt::cli();
            ensure_eq!(interrupt::count(TIMER_VECTOR), 21, "after disarming");
            Ok(())
        },
    );
    suite.note(format_args!(
        "timer: TSC-deadline interrupts {} to {} TSC ticks after their deadline",
        late.0, late.1
    ));
    suite.check(
        "the timer in one-shot mode ignores IA32_TSC_DEADLINE",
        || {
            lvt_timer(ONE_SHOT)?;
            cpu::wrmsr(IA32_TSC_DEADLINE, 5)?;
            ensure_eq!(cpu::rdmsr(IA32_TSC_DEADLINE)?, 0, "IA32_TSC_DEADLINE");
            Ok(())
        },
    );
}

/// What the periodic check counted.
#[derive(Clone, Copy, Debug, Default)]
struct Counted {
    interrupts: u64,
    /// Gaps between two interrupts off one period by a quarter or more:
    /// the host delayed the guest unevenly, and may have kept it from
    /// taking an expiry before the next (coalesced into one interrupt, as
    /// the IRR has one bit per vector).
    uneven_gaps: u64,
    /// The expiries the TSC says passed by the last interrupt: at least,
    /// at most (the measured rate's bounds).
    expected: (u64, u64),
}

/// The periodic timer over [`PERIODS`] periods, with the rate bounds `low`
/// and `high` (TSC ticks per 1024 counts). Three things show that its
/// expiries stay on the grid `start + n · period`:
///
/// - none early: the n-th interrupt comes no sooner than n periods;
/// - the count: where the host delayed every interrupt alike (each gap
///   within a quarter of a period of one period, so no expiry can have
///   been coalesced), the interrupts are exactly as many as the periods
///   the TSC says passed by the last one. A timer re-armed from each late
///   delivery loses a period whenever its delays add up to one: over 1000
///   periods, 0.1% of delay per period is a period missing. A slow host
///   (TCG on a loaded machine) delays interrupts unevenly, and the count
///   is then not taken; under QEMU's `-icount` (system test `vm-apic-icount`) the
///   guest's time is the instructions it runs, no host delays it, and the
///   count is always taken;
/// - the phase at the end, which no host delay moves: the current count
///   says how far into a period the counts since the start are.
fn periodic(low: u64, high: u64) -> Result<((u64, u64, u64), Counted), Failure> {
    interrupt::reset();
    lvt_timer(PERIODIC)?;
    let period = u32::try_from(PERIOD_TICKS * 1024 / high).unwrap_or(u32::MAX);
    let period_ticks = (
        u64::from(period) * low / 1024,
        u64::from(period) * high / 1024,
    );
    let start = cpu::rdtsc();
    initial_count(period)?;
    // The kernel started the countdown between these two reads.
    let started = cpu::rdtsc();
    let mut counted = Counted::default();
    let mut previous = started;
    // Each HLT ends at an interrupt; the bound only keeps a timer that
    // stopped from hanging the check.
    for halt in 1..=2 * PERIODS {
        interrupt::sti_hlt();
        interrupt::cli();
        let taken = u64::from(interrupt::count(TIMER_VECTOR));
        if taken == counted.interrupts {
            continue;
        }
        counted.interrupts = taken;
        let came = interrupt::last_tsc();
        let least = taken * period_ticks.0;
        ensure!(
            came - start >= least,
            "interrupt {taken} (HLT {halt}) after {} ticks, before {least}",
            came - start
        );
        let gap = came - previous;
        let quarter = period_ticks.0 / 4;
        if !(period_ticks.0 - quarter..=period_ticks.1 + quarter).contains(&gap) {
            counted.uneven_gaps += 1;
        }
        previous = came;
        if taken % PROGRESS_EVERY == 0 {
            tessera_guest_framework::println!("# timer: {taken} periodic interrupts");
        }
        if taken >= PERIODS {
            break;
        }
    }
    ensure_eq!(counted.interrupts, PERIODS, "interrupts");
    // Expiries by the last interrupt, from the TSC: the countdown started
    // between `start` and `started`, each period lasts between the
    // bounds (a count's rounding either way).
    let last = interrupt::last_tsc();
    counted.expected = (
        (last - started) / (period_ticks.1 + 1),
        (last - start) / period_ticks.0.saturating_sub(1).max(1),
    );
    if counted.uneven_gaps == 0 {
        ensure!(
            (counted.expected.0..=counted.expected.1).contains(&counted.interrupts),
            "{} interrupts, but the TSC says {} to {} periods passed: the timer drifted off \
             its grid",
            counted.interrupts,
            counted.expected.0,
            counted.expected.1
        );
        tessera_guest_framework::println!(
            "# timer: counted: {} interrupts in {} to {} periods by the TSC",
            counted.interrupts,
            counted.expected.0,
            counted.expected.1
        );
    }
    // The phase: on its grid the countdown reloads at start + n periods
    // whenever the interrupts came, so the current count says how far
    // into a period the counts since the start are. A timer re-armed from
    // each (late) delivery would be off by every delay added up.
    let before = cpu::rdtsc();
    let count = current_count()?;
    let after = cpu::rdtsc();
    initial_count(0)?;
    let into_period = u64::from(period).saturating_sub(count);
    // Counts since the start: at least, at most.
    let least = (before - started) * 1024 / high;
    let most = (after - start) * 1024 / low;
    // 2% of a period for the count's and the rates' rounding.
    let slack = u64::from(period) / 50;
    let (least, most) = (least.saturating_sub(slack), most + slack);
    let on_grid = (least / u64::from(period)..=most / u64::from(period) + 1)
        .map(|n| n * u64::from(period) + into_period)
        .any(|elapsed| (least..=most).contains(&elapsed));
    ensure!(
        on_grid,
        "current count {count} of {period}: the counts since the start, {least} to \
         {most}, are not that far into a period"
    );
    Ok(((count, least, most), counted))
}
