//! Ports a component receives through (issue 14 item 4: "a component can
//! own a port: the VMBus message port will"): what a guest posts or
//! signals on a connection to one waits here, in the kernel, until the
//! component takes it.
//!
//! A component-owned message port keeps the same bound as any message port
//! (TLFS md `inter-partition-communication.md` § Message Buffers: a port's
//! buffers are finite): at most [`PORT_MESSAGE_BUFFERS`] messages wait,
//! and the post that finds them all in use is refused with
//! `HV_STATUS_INSUFFICIENT_BUFFERS`, never dropped. An event port keeps one
//! pending bit per flag: a flag already pending stays one (the 0→1 rule of
//! the SIEF page, applied to the component).
//!
//! **Choice:** the component is told through a doorbell: the first arrival
//! after the component found the port empty rings it (the kernel forwards
//! a `PortArrival` exit to the owner's endpoint), later ones add to what it
//! will take, and a take that finds nothing arms the doorbell again, so a
//! component that drains the port after each ring never misses an arrival
//! and is never rung for nothing it has not seen.

use heapless::Deque;
use tlfs::HvMessageType;
use tlfs::message::HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT;
use tlfs::synic::HV_EVENT_FLAGS_COUNT;

use super::messages::PORT_MESSAGE_BUFFERS;
use crate::ports::PartitionRef;

/// Words of an event port's pending flags (2048 bits).
pub const EVENT_FLAG_WORDS: usize = HV_EVENT_FLAGS_COUNT / 64;

/// Who sent an arrival: the sending partition and its connection ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The sending partition, as this [`Synic`](super::Synic) names it.
    pub partition: PartitionRef,
    /// The sender's connection ID.
    pub connection: u32,
}

/// A message a guest posted to a component-owned port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arrived {
    /// Who posted it.
    pub origin: Origin,
    /// Its `HV_MESSAGE_TYPE`.
    pub message_type: HvMessageType,
    /// Its payload (at most 240 bytes).
    pub payload: heapless::Vec<u8, HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT>,
}

/// What one take from a component-owned port gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    /// The oldest message waiting.
    Message(Arrived),
    /// The flags signalled since the last take (bit n: the port's flag n,
    /// relative to its base), now cleared.
    Events([u64; EVENT_FLAG_WORDS]),
}

/// What a post or a signal did at its port.
// `Deliveries` travel by value, as every other step returns them.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// A port of a VP: the interrupts to assert.
    Guest(super::Deliveries),
    /// A component-owned port took it; `ring`: the component must be told
    /// (its doorbell was armed).
    Component {
        /// Ring the owner's doorbell.
        ring: bool,
    },
}

impl Arrival {
    /// The interrupts to assert (none for a component's port).
    #[must_use]
    pub fn into_deliveries(self) -> super::Deliveries {
        match self {
            Self::Guest(deliveries) => deliveries,
            Self::Component { .. } => super::Deliveries::new(),
        }
    }
}

/// The waiting side of a component-owned port.
#[derive(Clone, Debug)]
pub(crate) struct Inbox {
    messages: Deque<Arrived, PORT_MESSAGE_BUFFERS>,
    flags: [u64; EVENT_FLAG_WORDS],
    armed: bool,
}

impl Default for Inbox {
    fn default() -> Self {
        Self {
            messages: Deque::new(),
            flags: [0; EVENT_FLAG_WORDS],
            armed: true,
        }
    }
}

impl PartialEq for Inbox {
    fn eq(&self, other: &Self) -> bool {
        self.armed == other.armed
            && self.flags == other.flags
            && self.messages.iter().eq(other.messages.iter())
    }
}

impl Eq for Inbox {}

impl Inbox {
    /// Disarms the doorbell: whether it has to ring.
    fn ring(&mut self) -> bool {
        core::mem::replace(&mut self.armed, false)
    }

    /// Queues a posted message.
    pub fn post(&mut self, message: Arrived) -> Result<bool, tlfs::HvStatus> {
        self.messages
            .push_back(message)
            .map_err(|_| tlfs::HvStatus::INSUFFICIENT_BUFFERS)?;
        Ok(self.ring())
    }

    /// Marks flag `flag` (relative, checked against the port's count by
    /// the caller) pending: whether the doorbell rings. A flag already
    /// pending rings nothing.
    pub fn signal(&mut self, flag: u16) -> bool {
        let (word, bit) = (usize::from(flag) / 64, 1u64 << (flag % 64));
        let Some(slot) = self.flags.get_mut(word) else {
            return false;
        };
        let newly = *slot & bit == 0;
        *slot |= bit;
        newly && self.ring()
    }

    /// The oldest message, else the pending flags; `None` (and the
    /// doorbell armed) when nothing waits.
    pub fn take(&mut self) -> Option<Received> {
        if let Some(message) = self.messages.pop_front() {
            return Some(Received::Message(message));
        }
        if self.flags.iter().any(|word| *word != 0) {
            return Some(Received::Events(core::mem::take(&mut self.flags)));
        }
        self.armed = true;
        None
    }
}
