//! What VMBus needs from the SynIC, in the SynIC's terms (TLFS md
//! `inter-partition-communication.md`; the `tessera-synic` crate of branch
//! `synic-model`): message and event ports, connections, SINTs and event
//! flags. These few types stand in for that crate's until it lands; each
//! says which of its objects it becomes.
//!
//! | VMBus | SynIC |
//! | --- | --- |
//! | the guest posts a channel message | `HvCallPostMessage` on connection 1 or 4 of the guest's partition, connected to a message port the `vmbus` component owns (`Owner::Component`) |
//! | the host sends a channel message | a post to (VP, SINT) of the guest: a message port in the guest's partition targeting that VP and SINT, connected from the `vmbus` component ([`MessageTarget`]) |
//! | the host signals a channel | the channel's event flag (its relid) in the SIEF page of the target VP, SINT 2: an event port in the guest's partition (base flag = relid, one flag), connected from the component that serves the channel ([`GuestSignal`]) |
//! | the guest signals a channel | `HvCallSignalEvent` on the offer's connection ID, connected to an event port the serving component owns: the kernel's fast path ([`EventConnection`]) |

use core::fmt;

/// A SINT number, 0 to 15 (`tessera_synic::Sint`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sint(u8);

impl Sint {
    /// SINT `n`, or `None` from 16 on.
    #[must_use]
    pub const fn new(n: u8) -> Option<Self> {
        if (n as usize) < tlfs::synic::HV_SYNIC_SINT_COUNT {
            Some(Self(n))
        } else {
            None
        }
    }

    /// The number.
    #[must_use]
    pub const fn number(self) -> u8 {
        self.0
    }

    /// VMBus's SINT ([`VMBUS_SINT`](crate::version::VMBUS_SINT)).
    pub const VMBUS: Self = Self(crate::version::VMBUS_SINT);
}

impl fmt::Debug for Sint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SINT{}", self.0)
    }
}

/// The message connection of the guest's partition a message came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageConnection {
    /// Connection 1 ([`MESSAGE_CONNECTION_ID`](crate::version::MESSAGE_CONNECTION_ID)).
    Standard,
    /// Connection 4 ([`MESSAGE_CONNECTION_ID_4`](crate::version::MESSAGE_CONNECTION_ID_4)).
    Contact,
}

impl MessageConnection {
    /// The connection for `id`, if it is one of VMBus's.
    #[must_use]
    pub const fn from_id(id: u32) -> Option<Self> {
        match id {
            crate::version::MESSAGE_CONNECTION_ID => Some(Self::Standard),
            crate::version::MESSAGE_CONNECTION_ID_4 => Some(Self::Contact),
            _ => None,
        }
    }

    /// The connection ID.
    #[must_use]
    pub const fn id(self) -> u32 {
        match self {
            Self::Standard => crate::version::MESSAGE_CONNECTION_ID,
            Self::Contact => crate::version::MESSAGE_CONNECTION_ID_4,
        }
    }
}

/// Where the host's messages to a guest go: a VP and SINT of its partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageTarget {
    /// The VP index.
    pub vp: u32,
    /// The SINT.
    pub sint: Sint,
}

/// A channel's host→guest signal: set `flag` in the SIEF page of `vp` for
/// `sint`, and raise the SINT if the flag went from 0 to 1
/// (`HvSignalEvent`'s rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GuestSignal {
    /// The VP index.
    pub vp: u32,
    /// The SINT (VMBus's).
    pub sint: Sint,
    /// The event flag: the channel's relid (Linux's `vmbus_chan_sched`
    /// looks up the channel by the flag's number).
    pub flag: u16,
}

/// A connection ID in the guest's partition on which the guest signals the
/// host for one channel (the offer's `connection_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventConnection(pub u32);
