//! Synthetic timers 0–3 of one VP, as arithmetic over the partition's
//! reference time (100 ns units): what the kernel's timer fast path runs.
//!
//! TLFS md `timers.md` § Synthetic Timers; TLFS 6.0b §12.1–§12.5.
//!
//! - **One-shot:** Count is the absolute expiration time; "If a one-shot
//!   is enabled and the specified count is in the past, it will expire
//!   immediately"; "When a one-shot timer expires, it is automatically
//!   marked as disabled."
//! - **Periodic:** Count is the period; "The first period begins when the
//!   synthetic timer is enabled." Expiration *k* is at `start + k·period`,
//!   whenever it is noticed: a late poll never moves the grid. "If a
//!   virtual processor is unavailable for a sufficiently long period of
//!   time, a full timer period may be missed": a non-lazy timer catches up
//!   ("period modulation"), expiring again at once for each period it
//!   missed, up to [`CATCH_UP_LIMIT`], and skips older ones; a lazy timer
//!   delivers only the latest expiration ("the timer signal is deferred
//!   until this virtual processor is available"). Skipped expirations are
//!   counted ([`Stimer::missed`]).
//! - **Message mode** sends `HvMessageTimerExpired` to SINTx through the
//!   timer's own message buffer ("Associated with each virtual processor are
//!   four dedicated timer message buffers, one for each timer",
//!   `inter-partition-communication.md` § Message Sources): while the
//!   buffer still holds an expiration that could not reach its slot (slot
//!   busy, SIMP disabled), it is delivered when it can, and every
//!   expiration that falls due meanwhile is missed.
//! - **Direct mode** (`hv-stimer-direct`) asserts ApicVector instead.
//! - "It is not permitted to set the SINTx field to zero for an enabled
//!   timer (that is not in direct mode). If attempted, the timer will be
//!   marked disabled"; "Writing the value zero to the Count register will
//!   stop the counter, thereby disabling the timer, independent of the
//!   setting of AutoEnable"; with AutoEnable, "writing a non-zero value to
//!   the corresponding count register will cause Enable to be set".
//!
//! **Choices.** RsvdZ bits set in a configuration are #GP. Direct mode is
//! #GP where the partition's CPUID does not offer it (leaf `0x40000003` EDX
//! bit 19) and with an ApicVector below 16 (the rule the SINT registers
//! follow). Enabling a timer whose Count is 0 leaves it disabled (a zero
//! Count is a stopped timer). An expiration already in the timer's buffer
//! survives a reconfiguration: it happened.

use tlfs::msr as m;
use tlfs::timer::{HV_SYNTHETIC_TIMER_COUNT, HvStimerConfig};

use crate::registers::GeneralProtection;
use crate::sint::{Interrupt, Sint};

/// How many missed periods a non-lazy periodic timer delivers late before
/// it skips the older ones.
pub const CATCH_UP_LIMIT: u64 = 4;

/// A timer number, 0 to 3.
pub type TimerIndex = crate::sint::Index<HV_SYNTHETIC_TIMER_COUNT>;

/// A synthetic timer MSR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StimerMsr {
    /// `HV_X64_MSR_STIMERn_CONFIG`.
    Config(TimerIndex),
    /// `HV_X64_MSR_STIMERn_COUNT`.
    Count(TimerIndex),
}

impl StimerMsr {
    /// The timer register at `msr`, if it is one ("Timer n's CONFIG is
    /// STIMER0_CONFIG + 2n, its COUNT the next").
    #[must_use]
    pub const fn from_msr(msr: u32) -> Option<Self> {
        if msr < m::HV_X64_MSR_STIMER0_CONFIG || msr > m::HV_X64_MSR_STIMER3_COUNT {
            return None;
        }
        let offset = msr - m::HV_X64_MSR_STIMER0_CONFIG;
        match TimerIndex::new(offset / 2) {
            Some(timer) if offset.is_multiple_of(2) => Some(Self::Config(timer)),
            Some(timer) => Some(Self::Count(timer)),
            None => None,
        }
    }
}

/// What the partition's CPUID allows the timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StimerPolicy {
    /// Leaf `0x40000003` EDX bit 19, direct synthetic timers.
    pub direct_mode: bool,
}

impl StimerPolicy {
    /// The policy `config`'s leaves entitle a guest to.
    #[must_use]
    pub fn from_config(config: &tessera_hv1::Hv1Config) -> Self {
        Self {
            direct_mode: config.features_edx.direct_synthetic_timers(),
        }
    }
}

/// An expiration waiting in a message-mode timer's buffer for its slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Buffered {
    /// When the timer expired (the message's `ExpirationTime`).
    pub expiration: u64,
    /// The SINT it goes to (SINTx when it expired).
    pub sint: Sint,
}

/// What an expiration does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExpiryAction {
    /// Direct mode: assert this interrupt.
    Direct(Interrupt),
    /// Message mode: the expiration is in the timer's buffer, bound for
    /// this SINT's slot.
    Message(Sint),
}

/// One expiration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Expiry {
    /// The scheduled expiration time (never later than the poll).
    pub expiration: u64,
    /// What to do.
    pub action: ExpiryAction,
}

/// One synthetic timer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stimer {
    config: HvStimerConfig,
    count: u64,
    /// The next expiration while armed.
    deadline: Option<u64>,
    buffered: Option<Buffered>,
    missed: u64,
}

impl Stimer {
    /// The configuration register.
    #[must_use]
    pub const fn config(&self) -> HvStimerConfig {
        self.config
    }

    /// The count register.
    #[must_use]
    pub const fn count(&self) -> u64 {
        self.count
    }

    /// When the timer next expires, if it is armed: the kernel programs
    /// its host timer for the earliest of these.
    #[must_use]
    pub const fn deadline(&self) -> Option<u64> {
        self.deadline
    }

    /// The expiration waiting in the timer's message buffer.
    #[must_use]
    pub const fn buffered(&self) -> Option<Buffered> {
        self.buffered
    }

    /// Expirations skipped so far (coalesced, or fallen due while the
    /// buffer was full).
    #[must_use]
    pub const fn missed(&self) -> u64 {
        self.missed
    }

    /// The buffered expiration reached its slot: the buffer is free.
    pub fn release_buffer(&mut self) -> Option<Buffered> {
        self.buffered.take()
    }

    /// WRMSR to the configuration register at reference time `now`.
    ///
    /// # Errors
    ///
    /// [`GeneralProtection`] (see the module's choices); nothing changes.
    pub fn write_config(
        &mut self,
        value: u64,
        now: u64,
        policy: &StimerPolicy,
    ) -> Result<(), GeneralProtection> {
        if value & HvStimerConfig::RESERVED_MASK != 0 {
            return Err(GeneralProtection);
        }
        let mut config = HvStimerConfig::from_bits(value);
        if config.direct_mode() && (!policy.direct_mode || config.apic_vector() < 16) {
            return Err(GeneralProtection);
        }
        if config.enable() && (self.sint_missing(config) || self.count == 0) {
            config.set_enable(false);
        }
        self.config = config;
        self.rearm(now);
        Ok(())
    }

    /// WRMSR to the count register at reference time `now`.
    pub fn write_count(&mut self, value: u64, now: u64) {
        self.count = value;
        if value == 0 {
            self.config.set_enable(false);
        } else if self.config.auto_enable() && !self.sint_missing(self.config) {
            self.config.set_enable(true);
        }
        self.rearm(now);
    }

    const fn sint_missing(&self, config: HvStimerConfig) -> bool {
        !config.direct_mode() && config.sintx() == 0
    }

    fn rearm(&mut self, now: u64) {
        self.deadline = if !self.config.enable() {
            None
        } else if self.config.periodic() {
            Some(now.saturating_add(self.count))
        } else {
            Some(self.count)
        };
    }

    /// The timer at reference time `now`: the expiration to act on, if one
    /// fell due.
    pub fn poll(&mut self, now: u64) -> Option<Expiry> {
        let deadline = self.deadline.filter(|deadline| *deadline <= now)?;
        let period = self.count;
        let periodic = self.config.periodic() && period != 0;
        // Expirations due now: the deadline's and every period since.
        let due = if periodic {
            (now - deadline) / period + 1
        } else {
            1
        };
        let message_mode = !self.config.direct_mode();
        if message_mode && self.buffered.is_some() {
            self.missed = self.missed.saturating_add(due);
            self.advance(deadline, due - 1, periodic);
            return None;
        }
        let skipped = match (periodic, self.config.lazy()) {
            (false, _) => 0,
            (true, true) => due - 1,
            (true, false) => due.saturating_sub(CATCH_UP_LIMIT),
        };
        self.missed = self.missed.saturating_add(skipped);
        let expiration = deadline + skipped * period;
        self.advance(deadline, skipped, periodic);
        let action = if message_mode {
            let sint = Sint::new(u32::from(self.config.sintx())).unwrap_or(Sint::ALL[0]);
            self.buffered = Some(Buffered { expiration, sint });
            ExpiryAction::Message(sint)
        } else {
            ExpiryAction::Direct(Interrupt {
                vector: self.config.apic_vector(),
                auto_eoi: false,
            })
        };
        Some(Expiry { expiration, action })
    }

    /// Past the expiration `skipped` periods after `deadline`: the next
    /// one for a periodic timer, disabled for a one-shot.
    fn advance(&mut self, deadline: u64, skipped: u64, periodic: bool) {
        if periodic {
            let last = deadline + skipped * self.count;
            self.deadline = Some(last.saturating_add(self.count));
        } else {
            self.config.set_enable(false);
            self.deadline = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIRECT: StimerPolicy = StimerPolicy { direct_mode: true };

    fn message_config(periodic: bool) -> u64 {
        HvStimerConfig::new()
            .with_enable(true)
            .with_periodic(periodic)
            .with_sintx(3)
            .into_bits()
    }

    #[test]
    fn msr_numbers() {
        assert_eq!(
            StimerMsr::from_msr(0x4000_00B0),
            Some(StimerMsr::Config(TimerIndex::ALL[0]))
        );
        assert_eq!(
            StimerMsr::from_msr(0x4000_00B7),
            Some(StimerMsr::Count(TimerIndex::ALL[3]))
        );
        assert_eq!(StimerMsr::from_msr(0x4000_00B8), None);
        assert_eq!(StimerMsr::from_msr(0x4000_00AF), None);
    }

    #[test]
    fn one_shot_fires_once_and_disables() {
        let mut timer = Stimer::default();
        timer.write_count(1000, 0);
        timer
            .write_config(message_config(false), 0, &DIRECT)
            .unwrap();
        assert_eq!(timer.deadline(), Some(1000));
        assert_eq!(timer.poll(999), None);
        let expiry = timer.poll(1500).unwrap();
        assert_eq!(expiry.expiration, 1000);
        assert_eq!(expiry.action, ExpiryAction::Message(Sint::ALL[3]));
        assert!(!timer.config().enable());
        assert_eq!(timer.poll(5000), None);
    }

    #[test]
    fn one_shot_in_the_past_fires_at_once() {
        let mut timer = Stimer::default();
        timer.write_count(10, 500);
        timer
            .write_config(message_config(false), 500, &DIRECT)
            .unwrap();
        assert_eq!(timer.poll(500).map(|e| e.expiration), Some(10));
    }

    #[test]
    fn periodic_stays_on_its_grid() {
        let mut timer = Stimer::default();
        timer.write_count(100, 0);
        timer
            .write_config(message_config(true), 7, &DIRECT)
            .unwrap();
        // Late polls: expirations stay at 7 + 100k.
        for (k, late) in [(1, 0), (2, 33), (3, 99), (4, 1)] {
            let now = 7 + 100 * k + late;
            let expiry = timer.poll(now).unwrap();
            assert_eq!(expiry.expiration, 7 + 100 * k);
            timer.release_buffer();
        }
        assert_eq!(timer.missed(), 0);
    }
}
