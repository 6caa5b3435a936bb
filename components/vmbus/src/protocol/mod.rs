//! The channel management protocol: the messages a guest and the host
//! exchange over the VMBus message connection, as typed layouts.
//!
//! Every message is the payload of one SynIC message (at most 240 bytes,
//! `HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT`), of `HV_MESSAGE_TYPE` 1, and starts
//! with [`MessageHeader`] (`struct vmbus_channel_message_header`: the
//! message type, then 4 bytes of padding). The layouts are Linux's
//! (`include/linux/hyperv.h`, all `__packed`), field for field, with
//! explicitly little-endian, unaligned integers so that any byte slice
//! reads as a message.

pub mod guid;
pub mod messages;
pub mod build;
pub mod parse;

use zerocopy::byteorder::little_endian::U32;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

pub use build::{HostMessage, Payload};
pub use guid::Guid;

tessera_open_enum::open_enum! {
    name;
    /// `enum vmbus_channel_message_type`. Open: a guest may send any value.
    pub struct MessageType(u32);

    /// Never valid.
    INVALID = 0 => "CHANNELMSG_INVALID",
    /// Host → guest: a channel (device) is available.
    OFFERCHANNEL = 1 => "CHANNELMSG_OFFERCHANNEL",
    /// Host → guest: a channel is gone.
    RESCIND_CHANNELOFFER = 2 => "CHANNELMSG_RESCIND_CHANNELOFFER",
    /// Guest → host: send me the offers.
    REQUESTOFFERS = 3 => "CHANNELMSG_REQUESTOFFERS",
    /// Host → guest: that was every offer.
    ALLOFFERS_DELIVERED = 4 => "CHANNELMSG_ALLOFFERS_DELIVERED",
    /// Guest → host: open a channel on a ring-buffer GPADL.
    OPENCHANNEL = 5 => "CHANNELMSG_OPENCHANNEL",
    /// Host → guest: the answer to OPENCHANNEL.
    OPENCHANNEL_RESULT = 6 => "CHANNELMSG_OPENCHANNEL_RESULT",
    /// Guest → host: close a channel.
    CLOSECHANNEL = 7 => "CHANNELMSG_CLOSECHANNEL",
    /// Guest → host: the first part of a GPADL.
    GPADL_HEADER = 8 => "CHANNELMSG_GPADL_HEADER",
    /// Guest → host: more page numbers of a GPADL.
    GPADL_BODY = 9 => "CHANNELMSG_GPADL_BODY",
    /// Host → guest: the answer to a complete GPADL.
    GPADL_CREATED = 10 => "CHANNELMSG_GPADL_CREATED",
    /// Guest → host: forget a GPADL.
    GPADL_TEARDOWN = 11 => "CHANNELMSG_GPADL_TEARDOWN",
    /// Host → guest: the GPADL is forgotten.
    GPADL_TORNDOWN = 12 => "CHANNELMSG_GPADL_TORNDOWN",
    /// Guest → host: the guest let go of a channel ID.
    RELID_RELEASED = 13 => "CHANNELMSG_RELID_RELEASED",
    /// Guest → host: connect with this version.
    INITIATE_CONTACT = 14 => "CHANNELMSG_INITIATE_CONTACT",
    /// Host → guest: the answer to INITIATE_CONTACT.
    VERSION_RESPONSE = 15 => "CHANNELMSG_VERSION_RESPONSE",
    /// Guest → host: disconnect.
    UNLOAD = 16 => "CHANNELMSG_UNLOAD",
    /// Host → guest: disconnected.
    UNLOAD_RESPONSE = 17 => "CHANNELMSG_UNLOAD_RESPONSE",
    /// Reserved channels (not sent by Linux).
    MSG_18 = 18 => "CHANNELMSG_18",
    /// Reserved channels (not sent by Linux).
    MSG_19 = 19 => "CHANNELMSG_19",
    /// Reserved channels (not sent by Linux).
    MSG_20 = 20 => "CHANNELMSG_20",
    /// Guest → host: an hvsock connect (4.0 on).
    TL_CONNECT_REQUEST = 21 => "CHANNELMSG_TL_CONNECT_REQUEST",
    /// Guest → host: interrupt another VP for a channel (4.1 on).
    MODIFYCHANNEL = 22 => "CHANNELMSG_MODIFYCHANNEL",
    /// Host → guest: the answer to a failed hvsock connect.
    TL_CONNECT_RESULT = 23 => "CHANNELMSG_TL_CONNECT_RESULT",
    /// Host → guest: the answer to MODIFYCHANNEL (5.3 on).
    MODIFYCHANNEL_RESPONSE = 24 => "CHANNELMSG_MODIFYCHANNEL_RESPONSE",
}

/// `struct vmbus_channel_message_header`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct MessageHeader {
    /// The message type.
    pub msgtype: U32,
    /// Zero when the host sends; not checked when the guest does.
    pub padding: U32,
}

impl MessageHeader {
    /// The header of a message of type `msgtype`.
    #[must_use]
    pub fn new(msgtype: MessageType) -> Self {
        Self {
            msgtype: U32::new(msgtype.0),
            padding: U32::ZERO,
        }
    }

    /// The message type.
    #[must_use]
    pub fn message_type(&self) -> MessageType {
        MessageType(self.msgtype.get())
    }
}

/// The size of [`MessageHeader`].
pub const HEADER_SIZE: usize = 8;

/// The most a channel message holds (`MAX_SIZE_CHANNEL_MESSAGE`, the SynIC
/// message payload).
pub const MAX_MESSAGE_SIZE: usize = tlfs::message::HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT;

/// An NTSTATUS in OPENCHANNEL_RESULT, GPADL_CREATED, MODIFYCHANNEL_RESPONSE
/// and TL_CONNECT_RESULT. Linux treats any non-zero value as failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NtStatus(pub u32);

impl NtStatus {
    /// `STATUS_SUCCESS`.
    pub const SUCCESS: Self = Self(0);
    /// `STATUS_UNSUCCESSFUL` (as hosts answer a refused open or GPADL).
    pub const UNSUCCESSFUL: Self = Self(0xC000_0001);
    /// `STATUS_CONNECTION_REFUSED` (an hvsock connect nobody serves).
    pub const CONNECTION_REFUSED: Self = Self(0xC000_0236);
}

tessera_open_enum::open_enum! {
    name;
    /// VERSION_RESPONSE's `connection_state` (5.0 on; zero before).
    pub struct ConnectionState(u8);

    /// Connected.
    SUCCESSFUL = 0 => "Successful",
    /// The host lacks resources.
    FAILED_LOW_RESOURCES = 1 => "FailedLowResources",
    /// Anything else.
    FAILED_UNKNOWN_FAILURE = 2 => "FailedUnknownFailure",
}

/// The first and the last channel ID (`child_relid`) a guest can be given:
/// 0 is reserved ("Special case - vmbus channel protocol msg" in Linux's
/// `vmbus_chan_sched`), and Linux maps at most `MAX_CHANNEL_RELIDS` (2048,
/// the SIEF page's flag count) IDs.
pub const RELIDS: core::ops::RangeInclusive<u32> = 1..=2047;

/// OPENCHANNEL's `target_vp` meaning "no host→guest interrupts".
pub const TARGET_VP_NONE: u32 = u32::MAX;
