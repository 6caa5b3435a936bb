//! What the state machine asks of the `vmbus` component besides posting
//! messages: changes to the channels the device components serve.

use alloc::vec::Vec;

use crate::protocol::HostMessage;
use crate::protocol::messages::USER_DEFINED_BYTES;
use crate::ring::pair::RingPages;
use crate::synic::{EventConnection, GuestSignal, MessageTarget};

/// A device component, by the number the manifest gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceId(pub u32);

/// A message for the guest, and where it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// The guest's VP and SINT.
    pub target: MessageTarget,
    /// The message (post its [`payload`](HostMessage::payload) with
    /// `HV_MESSAGE_TYPE` [`VMBUS_MESSAGE_TYPE`](crate::version::VMBUS_MESSAGE_TYPE)).
    pub message: HostMessage,
}

/// A channel the guest opened, for the device component that serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelOpen {
    /// The channel.
    pub relid: u32,
    /// The component serving it.
    pub device: DeviceId,
    /// The ring GPADL's pages, in order: the component gets a memory
    /// window on exactly these, mapped contiguously.
    pub pages: Vec<u64>,
    /// Which of those pages each ring takes.
    pub rings: RingPages,
    /// How the component signals the guest; `None` when the guest asked
    /// for no interrupts.
    pub signal: Option<GuestSignal>,
    /// The connection on which the guest signals the component (the
    /// offer's `connection_id`), to become an event port the component
    /// owns.
    pub guest_connection: EventConnection,
    /// OPENCHANNEL's user data.
    pub user_data: [u8; USER_DEFINED_BYTES],
}

/// A change to what a device component serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceRequest {
    /// Start serving a channel: grant the window and the event objects,
    /// then tell the component.
    Open(ChannelOpen),
    /// Signal another VP from now on (MODIFYCHANNEL).
    Retarget {
        /// The channel.
        relid: u32,
        /// The component serving it.
        device: DeviceId,
        /// The new signal; `None` for none.
        signal: Option<GuestSignal>,
    },
    /// Stop serving a channel: revoke the window and the event objects
    /// (the component may be dead; revocation does not need it), then tell
    /// the component if it lives.
    Close {
        /// The channel.
        relid: u32,
        /// The component that served it.
        device: DeviceId,
    },
}
