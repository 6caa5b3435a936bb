//! The messages the host sends, typed, and their bytes.
//!
//! [`HostMessage::parse`] reads them back as a guest would (with Linux's
//! minimum sizes, `channel_message_table`'s `min_payload_len`), for tests
//! and for guest-side code.

use zerocopy::byteorder::little_endian::U32;
use zerocopy::{FromBytes, Immutable, IntoBytes};

use super::messages::{
    GpadlCreated, GpadlTorndown, ModifyChannelResponse, OfferChannel, OpenResult, RescindOffer,
    TlConnectResult, VersionResponse,
};
use super::{MAX_MESSAGE_SIZE, MessageHeader, MessageType, NtStatus};

/// A message from the host to the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostMessage {
    /// VERSION_RESPONSE.
    VersionResponse(VersionResponse),
    /// OFFERCHANNEL.
    OfferChannel(OfferChannel),
    /// RESCIND_CHANNELOFFER.
    RescindOffer(RescindOffer),
    /// ALLOFFERS_DELIVERED.
    AllOffersDelivered,
    /// OPENCHANNEL_RESULT.
    OpenResult(OpenResult),
    /// GPADL_CREATED.
    GpadlCreated(GpadlCreated),
    /// GPADL_TORNDOWN.
    GpadlTorndown(GpadlTorndown),
    /// UNLOAD_RESPONSE.
    UnloadResponse,
    /// TL_CONNECT_RESULT.
    TlConnectResult(TlConnectResult),
    /// MODIFYCHANNEL_RESPONSE.
    ModifyChannelResponse(ModifyChannelResponse),
}

/// The bytes of one SynIC message payload.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Payload {
    len: u8,
    bytes: [u8; MAX_MESSAGE_SIZE],
}

impl core::fmt::Debug for Payload {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Payload").field(&self.as_bytes()).finish()
    }
}

impl Payload {
    /// `message`'s bytes (every host message fits).
    fn of<T: IntoBytes + Immutable>(message: &T) -> Self {
        let source = message.as_bytes();
        let len = source.len().min(MAX_MESSAGE_SIZE);
        let mut bytes = [0; MAX_MESSAGE_SIZE];
        bytes[..len].copy_from_slice(&source[..len]);
        Self {
            len: len as u8,
            bytes,
        }
    }

    /// The payload.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// A header for a host message of type `message_type`.
pub(crate) fn header(message_type: MessageType) -> MessageHeader {
    MessageHeader::new(message_type)
}

/// A `U32` from a `u32`.
pub(crate) const fn le(value: u32) -> U32 {
    U32::new(value)
}

/// A status as the messages carry it.
pub(crate) const fn status(status: NtStatus) -> U32 {
    U32::new(status.0)
}

impl HostMessage {
    /// The message's type.
    #[must_use]
    pub const fn message_type(&self) -> MessageType {
        match self {
            Self::VersionResponse(_) => MessageType::VERSION_RESPONSE,
            Self::OfferChannel(_) => MessageType::OFFERCHANNEL,
            Self::RescindOffer(_) => MessageType::RESCIND_CHANNELOFFER,
            Self::AllOffersDelivered => MessageType::ALLOFFERS_DELIVERED,
            Self::OpenResult(_) => MessageType::OPENCHANNEL_RESULT,
            Self::GpadlCreated(_) => MessageType::GPADL_CREATED,
            Self::GpadlTorndown(_) => MessageType::GPADL_TORNDOWN,
            Self::UnloadResponse => MessageType::UNLOAD_RESPONSE,
            Self::TlConnectResult(_) => MessageType::TL_CONNECT_RESULT,
            Self::ModifyChannelResponse(_) => MessageType::MODIFYCHANNEL_RESPONSE,
        }
    }

    /// The bytes to post.
    #[must_use]
    pub fn payload(&self) -> Payload {
        match self {
            Self::VersionResponse(m) => Payload::of(m),
            Self::OfferChannel(m) => Payload::of(m),
            Self::RescindOffer(m) => Payload::of(m),
            Self::OpenResult(m) => Payload::of(m),
            Self::GpadlCreated(m) => Payload::of(m),
            Self::GpadlTorndown(m) => Payload::of(m),
            Self::TlConnectResult(m) => Payload::of(m),
            Self::ModifyChannelResponse(m) => Payload::of(m),
            Self::AllOffersDelivered | Self::UnloadResponse => {
                Payload::of(&header(self.message_type()))
            }
        }
    }

    /// Reads a host message as Linux 6.1's `vmbus_on_msg_dpc` does: a type
    /// it has a handler for, at least as long as that handler needs
    /// (ALLOFFERS_DELIVERED and UNLOAD_RESPONSE need nothing past the
    /// type). `None` for anything else.
    #[must_use]
    pub fn parse(payload: &[u8]) -> Option<Self> {
        fn read<T: FromBytes>(payload: &[u8]) -> Option<T> {
            T::read_from_prefix(payload).ok().map(|(value, _)| value)
        }
        if payload.len() > MAX_MESSAGE_SIZE || payload.len() < 4 {
            return None;
        }
        let message_type = MessageType(u32::from_le_bytes([
            payload[0], payload[1], payload[2], payload[3],
        ]));
        Some(match message_type {
            MessageType::VERSION_RESPONSE => Self::VersionResponse(read(payload)?),
            MessageType::OFFERCHANNEL => Self::OfferChannel(read(payload)?),
            MessageType::RESCIND_CHANNELOFFER => Self::RescindOffer(read(payload)?),
            MessageType::ALLOFFERS_DELIVERED => Self::AllOffersDelivered,
            MessageType::OPENCHANNEL_RESULT => Self::OpenResult(read(payload)?),
            MessageType::GPADL_CREATED => Self::GpadlCreated(read(payload)?),
            MessageType::GPADL_TORNDOWN => Self::GpadlTorndown(read(payload)?),
            MessageType::UNLOAD_RESPONSE => Self::UnloadResponse,
            MessageType::TL_CONNECT_RESULT => Self::TlConnectResult(read(payload)?),
            MessageType::MODIFYCHANNEL_RESPONSE => Self::ModifyChannelResponse(read(payload)?),
            _ => return None,
        })
    }
}
