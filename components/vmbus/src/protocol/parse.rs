//! Reading a message a guest posted.
//!
//! A message is at least as long as its layout; longer is accepted and the
//! rest ignored (later protocol versions extend some messages, and some
//! firmware posts full 240-byte payloads). Types the guest has no reason
//! to send — the host's own, the reserved ones, unknown numbers — are
//! refused here, so the state machine only sees the guest's eleven.

use core::fmt;

use zerocopy::FromBytes;

use super::messages::{
    CloseChannel, GpadlBody, GpadlHeader, GpadlTeardown, InitiateContact, ModifyChannel,
    OpenChannel, RelidReleased, TlConnectRequest,
};
use super::{MAX_MESSAGE_SIZE, MessageHeader, MessageType};

/// A message from the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestMessage<'a> {
    /// INITIATE_CONTACT.
    InitiateContact(InitiateContact),
    /// REQUESTOFFERS.
    RequestOffers,
    /// GPADL_HEADER and the range bytes after it.
    GpadlHeader(GpadlHeader, &'a [u8]),
    /// GPADL_BODY and the page-number bytes after it.
    GpadlBody(GpadlBody, &'a [u8]),
    /// GPADL_TEARDOWN.
    GpadlTeardown(GpadlTeardown),
    /// OPENCHANNEL.
    OpenChannel(OpenChannel),
    /// CLOSECHANNEL.
    CloseChannel(CloseChannel),
    /// RELID_RELEASED.
    RelidReleased(RelidReleased),
    /// UNLOAD.
    Unload,
    /// TL_CONNECT_REQUEST.
    TlConnectRequest(TlConnectRequest),
    /// MODIFYCHANNEL.
    ModifyChannel(ModifyChannel),
}

impl GuestMessage<'_> {
    /// The message's type.
    #[must_use]
    pub const fn message_type(&self) -> MessageType {
        match self {
            Self::InitiateContact(_) => MessageType::INITIATE_CONTACT,
            Self::RequestOffers => MessageType::REQUESTOFFERS,
            Self::GpadlHeader(..) => MessageType::GPADL_HEADER,
            Self::GpadlBody(..) => MessageType::GPADL_BODY,
            Self::GpadlTeardown(_) => MessageType::GPADL_TEARDOWN,
            Self::OpenChannel(_) => MessageType::OPENCHANNEL,
            Self::CloseChannel(_) => MessageType::CLOSECHANNEL,
            Self::RelidReleased(_) => MessageType::RELID_RELEASED,
            Self::Unload => MessageType::UNLOAD,
            Self::TlConnectRequest(_) => MessageType::TL_CONNECT_REQUEST,
            Self::ModifyChannel(_) => MessageType::MODIFYCHANNEL,
        }
    }
}

/// Why a payload is not a guest message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// More than a SynIC message holds.
    TooLong(usize),
    /// Shorter than the type's layout.
    TooShort {
        /// The type.
        message_type: MessageType,
        /// The payload's size.
        size: usize,
        /// The layout's size.
        needed: usize,
    },
    /// A type a guest does not send.
    NotAGuestMessage(MessageType),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong(size) => write!(f, "{size}-byte payload (at most {MAX_MESSAGE_SIZE})"),
            Self::TooShort {
                message_type,
                size,
                needed,
            } => write!(f, "{message_type:?} of {size} bytes (needs {needed})"),
            Self::NotAGuestMessage(message_type) => {
                write!(f, "{message_type:?} is not a message a guest sends")
            }
        }
    }
}

/// `T` from the front of `payload`, and the bytes after it.
fn layout<T: FromBytes>(
    payload: &[u8],
    message_type: MessageType,
) -> Result<(T, &[u8]), ParseError> {
    T::read_from_prefix(payload).map_err(|_| ParseError::TooShort {
        message_type,
        size: payload.len(),
        needed: size_of::<T>(),
    })
}

/// Reads the payload of a VMBus message a guest posted.
///
/// # Errors
///
/// [`ParseError`] as its variants say.
pub fn parse(payload: &[u8]) -> Result<GuestMessage<'_>, ParseError> {
    if payload.len() > MAX_MESSAGE_SIZE {
        return Err(ParseError::TooLong(payload.len()));
    }
    let (header, _) = layout::<MessageHeader>(payload, MessageType::INVALID)?;
    let message_type = header.message_type();
    let message = match message_type {
        MessageType::INITIATE_CONTACT => {
            GuestMessage::InitiateContact(layout(payload, message_type)?.0)
        }
        MessageType::REQUESTOFFERS => GuestMessage::RequestOffers,
        MessageType::GPADL_HEADER => {
            let (header, rest) = layout(payload, message_type)?;
            GuestMessage::GpadlHeader(header, rest)
        }
        MessageType::GPADL_BODY => {
            let (body, rest) = layout(payload, message_type)?;
            GuestMessage::GpadlBody(body, rest)
        }
        MessageType::GPADL_TEARDOWN => GuestMessage::GpadlTeardown(layout(payload, message_type)?.0),
        MessageType::OPENCHANNEL => GuestMessage::OpenChannel(layout(payload, message_type)?.0),
        MessageType::CLOSECHANNEL => GuestMessage::CloseChannel(layout(payload, message_type)?.0),
        MessageType::RELID_RELEASED => GuestMessage::RelidReleased(layout(payload, message_type)?.0),
        MessageType::UNLOAD => GuestMessage::Unload,
        MessageType::TL_CONNECT_REQUEST => {
            GuestMessage::TlConnectRequest(layout(payload, message_type)?.0)
        }
        MessageType::MODIFYCHANNEL => GuestMessage::ModifyChannel(layout(payload, message_type)?.0),
        other => return Err(ParseError::NotAGuestMessage(other)),
    };
    Ok(message)
}
