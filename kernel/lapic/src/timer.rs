//! The APIC timer as arithmetic over the guest TSC: one-shot, periodic and
//! TSC-deadline (Intel SDM Vol. 3A §10.5.4 "APIC Timer", §10.5.4.1
//! "TSC-Deadline Mode"; AMD APM Vol. 2 chapter 16, "APIC Timer
//! Interrupt").
//!
//! Nothing here reads a clock: every operation takes `now`, the guest TSC,
//! and [`ApicTimer::next_expiry`] says when the kernel must look again.
//!
//! # The counter
//!
//! Writing the initial count N at guest TSC `t0` starts the current count
//! at N; it decreases by one every `d` cycles of the APIC timer clock
//! (`d` from the divide configuration register), and the interrupt is due
//! when it reaches 0. With the TSC at `T` Hz and the timer clock at `A` Hz,
//! the count has dropped by
//!
//! ```text
//! D(t) = ⌊(t − t0) · A / (T · d)⌋
//! ```
//!
//! at guest TSC `t`, and the k-th expiry of a countdown that starts at
//! `first` and reloads N (periodic mode) is the first TSC value where
//! `D(t) ≥ first + (k − 1) · N`:
//!
//! ```text
//! expiry(k) = t0 + ⌈(first + (k − 1) · N) · d · T / A⌉
//! ```
//!
//! - **Never early**: the current count reads 0 (or reloads) exactly from
//!   `expiry(k)` on, and [`ApicTimer::poll`] fires only when `now ≥
//!   expiry(k)`.
//! - **Periodic without drift**: every expiry is computed from `t0` and
//!   `k`, i.e. the previous expiry plus the period in exact rational
//!   arithmetic; a late poll never moves the grid ("now + period" is never
//!   used). Periods that passed unseen are coalesced into one interrupt
//!   (the IRR has one bit per vector) and counted in
//!   [`Expiry::missed`].
//! - All products are taken in 128 bits; results saturate at `u64::MAX`
//!   (a timer that far away never fires), they never wrap or panic.
//!
//! # Changes mid-count
//!
//! - **Divide configuration**: the current count keeps its value and
//!   counts on at the new rate, as the hardware's counter does; the
//!   fraction of a count already elapsed is dropped, so the expiry can
//!   move later by at most one count, never earlier than the new rate
//!   allows. (Linux's KVM rescales the remaining time the same way.)
//! - **One-shot ↔ periodic** (an LVT timer write): the countdown goes on;
//!   the new mode decides what happens at 0. SDM §10.5.4: changing the
//!   mode "does not start the timer".
//! - **To or from TSC-deadline**: disarms the timer, clears the initial
//!   count and the deadline (SDM §10.5.4.1: "Transitions between
//!   TSC-deadline mode and other timer modes also disarm the timer").
//! - **Initial count 0**: stops the timer (SDM §10.5.4: "A write of 0 to
//!   the initial-count register effectively stops the local APIC timer").
//! - In TSC-deadline mode writes to the initial count are ignored and the
//!   current count reads 0; outside it the deadline MSR reads 0 and writes
//!   to it are ignored (SDM §10.5.4.1).

use core::num::NonZeroU64;

/// The time base of the timer: the guest TSC frequency and the APIC timer
/// clock before the divider (the "bus frequency" that
/// `HV_X64_MSR_APIC_FREQUENCY` reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerClock {
    /// Guest TSC ticks per second.
    pub tsc_hz: NonZeroU64,
    /// APIC timer clock cycles per second (before the divide
    /// configuration).
    pub apic_hz: NonZeroU64,
}

/// Hyper-V's APIC timer clock, 200 MHz: what `HV_X64_MSR_APIC_FREQUENCY`
/// reports on Microsoft's hypervisor. **Choice:** Tessera offers the same
/// unless the kernel chooses another.
pub const DEFAULT_APIC_HZ: NonZeroU64 = NonZeroU64::new(200_000_000).unwrap();

/// The LVT timer mode (bits 18:17).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerMode {
    /// `00b`; also the reserved value `11b` (**Choice**, as Linux's KVM:
    /// only `01b` is periodic and only `10b` is TSC-deadline).
    OneShot,
    /// `01b`.
    Periodic,
    /// `10b` (only where CPUID 1 ECX\[24\] is reported).
    TscDeadline,
}

impl TimerMode {
    /// The mode LVT timer bits 18:17 of `lvt` select.
    #[must_use]
    pub const fn from_lvt(lvt: u32) -> Self {
        match (lvt >> 17) & 3 {
            1 => Self::Periodic,
            2 => Self::TscDeadline,
            _ => Self::OneShot,
        }
    }
}

/// The divisor a divide configuration register value selects (bits 0, 1
/// and 3; SDM Figure 10-10): `000b` → 2, `001b` → 4, … `110b` → 128,
/// `111b` → 1.
#[must_use]
pub const fn divisor(divide_configuration: u32) -> u32 {
    let code = (divide_configuration & 3) | ((divide_configuration >> 1) & 4);
    if code == 7 { 1 } else { 2 << code }
}

/// A countdown in progress (one-shot or periodic).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Countdown {
    /// Guest TSC at which the current count was `first`.
    start: u64,
    /// The count at `start` (≥ 1).
    first: u32,
    /// Expiries already reported by `poll`.
    fired: u64,
}

/// What [`ApicTimer::poll`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Expiry {
    /// The expiry being reported (the earliest one not reported before).
    pub at: u64,
    /// Further periodic expiries that also passed before `now` and are
    /// coalesced into this interrupt.
    pub missed: u64,
}

/// The timer's state: mode, divide configuration, initial count, the
/// countdown and the TSC deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ApicTimer {
    clock: TimerClock,
    mode: TimerMode,
    divide_configuration: u32,
    initial_count: u32,
    countdown: Option<Countdown>,
    deadline: u64,
}

/// ⌈a / b⌉ for b > 0.
const fn div_ceil(a: u128, b: u128) -> u128 {
    a / b + !a.is_multiple_of(b) as u128
}

const fn saturate(x: u128) -> u64 {
    if x > u64::MAX as u128 {
        u64::MAX
    } else {
        x as u64
    }
}

impl ApicTimer {
    /// A stopped one-shot timer, divide by 2 (the reset state: SDM
    /// §10.4.7.1, divide configuration and counts 0).
    #[must_use]
    pub const fn new(clock: TimerClock) -> Self {
        Self {
            clock,
            mode: TimerMode::OneShot,
            divide_configuration: 0,
            initial_count: 0,
            countdown: None,
            deadline: 0,
        }
    }

    /// The time base.
    #[must_use]
    pub const fn clock(&self) -> TimerClock {
        self.clock
    }

    /// The current mode.
    #[must_use]
    pub const fn mode(&self) -> TimerMode {
        self.mode
    }

    /// The initial count register.
    #[must_use]
    pub const fn initial_count(&self) -> u32 {
        self.initial_count
    }

    /// The divide configuration register.
    #[must_use]
    pub const fn divide_configuration(&self) -> u32 {
        self.divide_configuration
    }

    /// Counter decrements between `start` and `now` at the current divisor.
    fn decrements(&self, start: u64, now: u64) -> u128 {
        let elapsed = now.saturating_sub(start) as u128;
        let per = self.clock.tsc_hz.get() as u128 * divisor(self.divide_configuration) as u128;
        elapsed * self.clock.apic_hz.get() as u128 / per
    }

    /// The guest TSC at which the count has dropped by `counts` since
    /// `start`.
    fn after(&self, start: u64, counts: u128) -> u64 {
        let ticks =
            counts * divisor(self.divide_configuration) as u128 * self.clock.tsc_hz.get() as u128;
        saturate(start as u128 + div_ceil(ticks, self.clock.apic_hz.get() as u128))
    }

    /// Decrements from `start` to the k-th expiry (k ≥ 1).
    fn counts_to(&self, countdown: &Countdown, k: u64) -> u128 {
        countdown.first as u128 + (k as u128 - 1) * self.initial_count as u128
    }

    /// The current count register at guest TSC `now`.
    #[must_use]
    pub fn current_count(&self, now: u64) -> u32 {
        let Some(countdown) = self.countdown else {
            return 0;
        };
        let dropped = self.decrements(countdown.start, now);
        let first = countdown.first as u128;
        if dropped < first {
            return (first - dropped) as u32;
        }
        match self.mode {
            TimerMode::Periodic if self.initial_count != 0 => {
                let n = self.initial_count as u128;
                (n - (dropped - first) % n) as u32
            }
            _ => 0,
        }
    }

    /// The guest TSC of the next expiry, if the timer is armed: the
    /// deadline the kernel programs its host timer for (converted to host
    /// time, rounded up).
    #[must_use]
    #[inline]
    pub fn next_expiry(&self) -> Option<u64> {
        if !self.armed() {
            return None;
        }
        self.next_expiry_armed()
    }

    /// Whether the timer may expire: a countdown runs or a deadline is
    /// set. When not, [`poll`](Self::poll) and
    /// [`next_expiry`](Self::next_expiry) answer `None` without their
    /// arithmetic — the common case on every VMRUN of a VP whose timer is
    /// idle.
    #[inline]
    fn armed(&self) -> bool {
        self.countdown.is_some() || self.deadline != 0
    }

    fn next_expiry_armed(&self) -> Option<u64> {
        match self.mode {
            TimerMode::TscDeadline => (self.deadline != 0).then_some(self.deadline),
            _ => {
                let countdown = self.countdown?;
                let k = countdown.fired.checked_add(1)?;
                Some(self.after(countdown.start, self.counts_to(&countdown, k)))
            }
        }
    }

    /// Reports an expiry that is due at `now` (at most one per call;
    /// periodic expiries that passed meanwhile are coalesced into it).
    /// A one-shot timer and a TSC deadline disarm themselves; a periodic
    /// timer moves to its next grid point.
    #[inline]
    pub fn poll(&mut self, now: u64) -> Option<Expiry> {
        if !self.armed() {
            return None;
        }
        self.poll_armed(now)
    }

    fn poll_armed(&mut self, now: u64) -> Option<Expiry> {
        if self.mode == TimerMode::TscDeadline {
            if self.deadline != 0 && now >= self.deadline {
                let at = self.deadline;
                // SDM §10.5.4.1: "When the timer generates an interrupt,
                // it disarms itself and clears the IA32_TSC_DEADLINE MSR".
                self.deadline = 0;
                return Some(Expiry { at, missed: 0 });
            }
            return None;
        }
        let mut countdown = self.countdown?;
        let next = countdown.fired.checked_add(1)?;
        // Due when the count has reached 0 — compared in counts, not
        // against the (saturating) TSC of `next_expiry`, so even a
        // saturated deadline is never early.
        let dropped = self.decrements(countdown.start, now);
        let excess = dropped.checked_sub(self.counts_to(&countdown, next))?;
        let at = self.after(countdown.start, self.counts_to(&countdown, next));
        if self.mode != TimerMode::Periodic || self.initial_count == 0 {
            self.countdown = None;
            return Some(Expiry { at, missed: 0 });
        }
        let passed = next as u128 + excess / self.initial_count as u128;
        let passed = saturate(passed);
        let missed = passed - countdown.fired - 1;
        countdown.fired = passed;
        self.countdown = Some(countdown);
        Some(Expiry { at, missed })
    }

    /// A write to the initial count register at `now`.
    pub fn set_initial_count(&mut self, count: u32, now: u64) {
        if self.mode == TimerMode::TscDeadline {
            return;
        }
        self.initial_count = count;
        self.countdown = (count != 0).then_some(Countdown {
            start: now,
            first: count,
            fired: 0,
        });
    }

    /// Restarts the countdown at `now` from its current count.
    fn rebase(&mut self, now: u64) {
        if self.countdown.is_some() {
            let count = self.current_count(now);
            self.countdown = (count != 0).then_some(Countdown {
                start: now,
                first: count,
                fired: 0,
            });
        }
    }

    /// A write to the divide configuration register at `now` (bits 0, 1
    /// and 3 are kept).
    pub fn set_divide_configuration(&mut self, value: u32, now: u64) {
        let value = value & 0xB;
        if value != self.divide_configuration {
            self.rebase(now);
            self.divide_configuration = value;
        }
    }

    /// The LVT timer's mode changed (or not) at `now`.
    pub fn set_mode(&mut self, mode: TimerMode, now: u64) {
        if mode == self.mode {
            return;
        }
        if mode == TimerMode::TscDeadline || self.mode == TimerMode::TscDeadline {
            self.countdown = None;
            self.initial_count = 0;
            self.deadline = 0;
        } else {
            self.rebase(now);
        }
        self.mode = mode;
    }

    /// `IA32_TSC_DEADLINE` (MSR `0x6E0`) as a read returns it.
    #[must_use]
    pub const fn tsc_deadline(&self) -> u64 {
        match self.mode {
            TimerMode::TscDeadline => self.deadline,
            _ => 0,
        }
    }

    /// A write to `IA32_TSC_DEADLINE`: arms (non-zero) or disarms (0) the
    /// timer in TSC-deadline mode; ignored in the other modes. A deadline
    /// already past fires at the next [`poll`](Self::poll).
    pub fn set_tsc_deadline(&mut self, deadline: u64) {
        if self.mode == TimerMode::TscDeadline {
            self.deadline = deadline;
        }
    }

    /// Back to the reset state (same clock).
    pub fn reset(&mut self) {
        *self = Self::new(self.clock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divisors() {
        // SDM Figure 10-10 "Divide Configuration Register".
        let table = [
            (0b0000, 2),
            (0b0001, 4),
            (0b0010, 8),
            (0b0011, 16),
            (0b1000, 32),
            (0b1001, 64),
            (0b1010, 128),
            (0b1011, 1),
        ];
        for (value, div) in table {
            assert_eq!(divisor(value), div, "{value:#b}");
            // Bit 2 is reserved and does not count.
            assert_eq!(divisor(value | 4), div);
        }
    }

    #[test]
    fn lvt_modes() {
        assert_eq!(TimerMode::from_lvt(0), TimerMode::OneShot);
        assert_eq!(TimerMode::from_lvt(1 << 17), TimerMode::Periodic);
        assert_eq!(TimerMode::from_lvt(2 << 17), TimerMode::TscDeadline);
        assert_eq!(TimerMode::from_lvt(3 << 17), TimerMode::OneShot);
    }
}
