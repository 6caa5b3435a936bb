//! The synthetic timers in the kernel: their MSRs (a fast path, since
//! expiry changes the configuration register) and their expiry (the
//! kernel's timer fast path).

use tlfs::HvMessageType;
use tlfs::message::HvMessage;
use tlfs::timer::HvTimerMessagePayload;
use zerocopy::IntoBytes;

use super::{Deliveries, Delivery, Synic};
use crate::pages::SynicPages;
use crate::ports::PartitionRef;
use crate::registers::GeneralProtection;
use crate::timer::{CATCH_UP_LIMIT, ExpiryAction, Stimer, StimerMsr, TimerIndex};

/// The timer expiration message (TLFS 6.0b §13.3): type
/// `HvMessageTimerExpired`, the origination word reserved (0).
pub(super) fn timer_message(timer: TimerIndex, expiration: u64, delivery: u64) -> HvMessage {
    let mut message = HvMessage::default();
    message.header.message_type = HvMessageType::TIMER_EXPIRED;
    let payload = HvTimerMessagePayload {
        timer_index: timer.index() as u32,
        reserved: 0,
        expiration_time: expiration,
        delivery_time: delivery,
    };
    let bytes = payload.as_bytes();
    message.header.payload_size = bytes.len() as u8;
    message.payload_bytes_mut()[..bytes.len()].copy_from_slice(bytes);
    message
}

impl<P: SynicPages> Synic<P> {
    /// RDMSR of a timer register: the kernel's fast path.
    ///
    /// # Errors
    ///
    /// [`GeneralProtection`] for an unknown partition or VP.
    pub fn read_timer(
        &self,
        partition: PartitionRef,
        vp: u32,
        msr: StimerMsr,
    ) -> Result<u64, GeneralProtection> {
        let state = self.vp(partition, vp).ok_or(GeneralProtection)?;
        Ok(match msr {
            StimerMsr::Config(t) => state.timers[t.index()].config().into_bits(),
            StimerMsr::Count(t) => state.timers[t.index()].count(),
        })
    }

    /// WRMSR of a timer register at reference time `now`: the kernel's
    /// fast path. A one-shot set in the past expires within the write.
    ///
    /// # Errors
    ///
    /// [`GeneralProtection`] for a configuration the timer refuses, or an
    /// unknown partition or VP.
    pub fn write_timer(
        &mut self,
        partition: PartitionRef,
        vp: u32,
        msr: StimerMsr,
        value: u64,
        now: u64,
    ) -> Result<Deliveries, GeneralProtection> {
        let part = self.partition_mut(partition).ok_or(GeneralProtection)?;
        let policy = part.policy.timers;
        let state = part.vps.get_mut(vp as usize).ok_or(GeneralProtection)?;
        match msr {
            StimerMsr::Config(t) => state.timers[t.index()].write_config(value, now, &policy)?,
            StimerMsr::Count(t) => state.timers[t.index()].write_count(value, now),
        }
        Ok(self.poll_timers(partition, vp, now))
    }

    /// When VP `vp`'s next timer expires: the kernel arms its host timer
    /// for it (and calls [`poll_timers`](Self::poll_timers) then).
    #[must_use]
    pub fn next_deadline(&self, partition: PartitionRef, vp: u32) -> Option<u64> {
        let state = self.vp(partition, vp)?;
        state.timers.iter().filter_map(Stimer::deadline).min()
    }

    /// The timers of VP `vp` at reference time `now`: the kernel's timer
    /// fast path. Direct-mode expirations assert their vector; message-mode
    /// ones go to their slot if they can.
    pub fn poll_timers(&mut self, partition: PartitionRef, vp: u32, now: u64) -> Deliveries {
        let mut out = Deliveries::new();
        let Some(part) = self.partition_mut(partition) else {
            return out;
        };
        for timer in TimerIndex::ALL {
            // A non-lazy periodic timer may owe several expirations.
            for _ in 0..=CATCH_UP_LIMIT {
                let Some(state) = part.vps.get_mut(vp as usize) else {
                    return out;
                };
                let Some(expiry) = state.timers[timer.index()].poll(now) else {
                    break;
                };
                let delivery = match expiry.action {
                    ExpiryAction::Direct(interrupt) => Some(Delivery {
                        partition,
                        vp,
                        interrupt,
                    }),
                    ExpiryAction::Message(sint) => part.pump(partition, vp as usize, sint, now),
                };
                if let Some(delivery) = delivery {
                    let _ = out.push(delivery);
                }
            }
            // A message its buffer still holds goes to the slot as soon as
            // the slot is free, EOM or not: a guest that cleared the slot
            // and, with it, the MessagePending flag the hypervisor set
            // meanwhile (writing the whole header back instead of the type
            // alone) owes no EOM, and the timer would otherwise miss every
            // period from then on without a message.
            let Some(state) = part.vps.get_mut(vp as usize) else {
                return out;
            };
            if let Some(buffered) = state.timers[timer.index()].buffered()
                && let Some(delivery) = part.pump(partition, vp as usize, buffered.sint, now)
            {
                let _ = out.push(delivery);
            }
        }
        out
    }
}
