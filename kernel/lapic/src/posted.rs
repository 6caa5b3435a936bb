//! Interrupt messages posted to a VP by other VPs (or devices) and not yet
//! taken into its APIC: what the kernel keeps per VP so that a `LocalApic`
//! is only ever changed by the CPU that runs its VP
//! (`kernel/lapic/README.md` § "Interrupts from elsewhere").
//!
//! The set keeps what the messages' order means: an INIT resets the APIC
//! (SDM Vol. 3A §10.4.7.3), so what was posted before it is gone, and a
//! start-up IPI posted before it no longer applies; only the first SIPI
//! after it counts (SDM §8.4.2: a SIPI to a processor not waiting for one
//! is ignored); a vector posted twice is one request (an IRR bit), with
//! the trigger of the last message.

use crate::bits::VectorSet;
use crate::message::{DeliveryMode, Message, Trigger};

/// What is posted to one VP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Posted {
    edge: VectorSet,
    level: VectorSet,
    nmi: bool,
    init: bool,
    start_up: Option<u8>,
}

impl Posted {
    /// Whether nothing is posted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.edge.is_empty()
            && self.level.is_empty()
            && !self.nmi
            && !self.init
            && self.start_up.is_none()
    }

    /// Records `message`, whose destination named this VP. SMI (no SMM)
    /// and ExtINT (its vector comes from an 8259, not a message) are
    /// dropped.
    pub fn post(&mut self, message: &Message) {
        match message.mode {
            DeliveryMode::Fixed | DeliveryMode::LowestPriority => {
                let (set, other) = match message.trigger {
                    Trigger::Edge => (&mut self.edge, &mut self.level),
                    Trigger::Level => (&mut self.level, &mut self.edge),
                };
                set.insert(message.vector);
                other.remove(message.vector);
            }
            DeliveryMode::Nmi => self.nmi = true,
            DeliveryMode::Init => {
                *self = Self {
                    init: true,
                    ..Self::default()
                };
            }
            DeliveryMode::StartUp => {
                self.start_up.get_or_insert(message.vector);
            }
            DeliveryMode::Smi | DeliveryMode::ExtInt => {}
        }
    }

    /// Takes everything posted, leaving nothing.
    pub fn take(&mut self) -> Self {
        core::mem::take(self)
    }

    /// Whether an INIT is posted (it comes first: it was the last INIT,
    /// and nothing posted before it is left).
    #[must_use]
    pub const fn init(&self) -> bool {
        self.init
    }

    /// The vector of the first start-up IPI since the last INIT (it comes
    /// after the INIT).
    #[must_use]
    pub const fn start_up(&self) -> Option<u8> {
        self.start_up
    }

    /// Whether an NMI is posted.
    #[must_use]
    pub const fn nmi(&self) -> bool {
        self.nmi
    }

    /// Posts an NMI again (a VP waiting for a SIPI keeps it pending).
    pub fn keep_nmi(&mut self) {
        self.nmi = true;
    }

    /// The posted vectors with their triggers.
    pub fn vectors(&self) -> impl Iterator<Item = (u8, Trigger)> + '_ {
        let edge = self.edge.iter().map(|vector| (vector, Trigger::Edge));
        edge.chain(self.level.iter().map(|vector| (vector, Trigger::Level)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Target;

    fn message(mode: DeliveryMode, vector: u8, trigger: Trigger) -> Message {
        Message {
            mode,
            vector,
            trigger,
            target: Target::SelfOnly,
        }
    }

    fn fixed(vector: u8, trigger: Trigger) -> Message {
        message(DeliveryMode::Fixed, vector, trigger)
    }

    fn vectors(posted: &Posted) -> [(u8, Trigger); 2] {
        let mut out = [(0, Trigger::Edge); 2];
        for (slot, item) in out.iter_mut().zip(posted.vectors()) {
            *slot = item;
        }
        out
    }

    #[test]
    fn vectors_keep_their_last_trigger() {
        let mut posted = Posted::default();
        assert!(posted.is_empty());
        posted.post(&fixed(0x40, Trigger::Edge));
        posted.post(&message(DeliveryMode::LowestPriority, 0x50, Trigger::Level));
        posted.post(&fixed(0x40, Trigger::Level));
        posted.post(&fixed(0x50, Trigger::Level));
        assert!(!posted.is_empty());
        assert_eq!(posted.vectors().count(), 2);
        assert_eq!(
            vectors(&posted),
            [(0x40, Trigger::Level), (0x50, Trigger::Level)]
        );
        posted.post(&fixed(0x40, Trigger::Edge));
        assert_eq!(
            vectors(&posted),
            [(0x40, Trigger::Edge), (0x50, Trigger::Level)]
        );
    }

    #[test]
    fn init_drops_what_came_before_it() {
        let mut posted = Posted::default();
        posted.post(&fixed(0x40, Trigger::Edge));
        posted.post(&message(DeliveryMode::Nmi, 0, Trigger::Edge));
        posted.post(&message(DeliveryMode::StartUp, 0x08, Trigger::Edge));
        posted.post(&message(DeliveryMode::Init, 0, Trigger::Edge));
        assert!(posted.init());
        assert!(!posted.nmi());
        assert_eq!(posted.start_up(), None);
        assert_eq!(posted.vectors().count(), 0);
        // What comes after the INIT stays.
        posted.post(&message(DeliveryMode::StartUp, 0x09, Trigger::Edge));
        posted.post(&fixed(0x41, Trigger::Edge));
        assert!(posted.init());
        assert_eq!(posted.start_up(), Some(0x09));
        assert_eq!(posted.vectors().count(), 1);
    }

    #[test]
    fn the_first_start_up_counts() {
        let mut posted = Posted::default();
        posted.post(&message(DeliveryMode::StartUp, 0x08, Trigger::Edge));
        posted.post(&message(DeliveryMode::StartUp, 0x9F, Trigger::Edge));
        assert_eq!(posted.start_up(), Some(0x08));
        assert!(!posted.init());
    }

    #[test]
    fn smi_and_extint_are_dropped() {
        let mut posted = Posted::default();
        posted.post(&message(DeliveryMode::Smi, 0, Trigger::Edge));
        posted.post(&message(DeliveryMode::ExtInt, 0x30, Trigger::Edge));
        assert!(posted.is_empty());
    }

    #[test]
    fn take_leaves_nothing_and_nmi_can_be_kept() {
        let mut posted = Posted::default();
        posted.post(&message(DeliveryMode::Nmi, 0, Trigger::Edge));
        posted.post(&fixed(0x30, Trigger::Edge));
        let taken = posted.take();
        assert!(posted.is_empty());
        assert!(taken.nmi());
        assert_eq!(taken.vectors().count(), 1);
        posted.keep_nmi();
        assert!(posted.nmi());
        assert!(!posted.is_empty());
    }
}
