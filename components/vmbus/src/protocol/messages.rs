//! The layout of every channel message Linux 6.1 sends or expects, header
//! included, so each field sits at the offset Linux's `__packed` struct
//! gives it (`tests/messages.rs` checks them one by one).
//!
//! Messages with no body (REQUESTOFFERS, ALLOFFERS_DELIVERED, UNLOAD,
//! UNLOAD_RESPONSE) are a bare [`MessageHeader`].

use zerocopy::byteorder::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{Guid, MessageHeader};

/// `struct vmbus_channel_initiate_contact` (40 bytes), guest → host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct InitiateContact {
    /// The message header.
    pub header: MessageHeader,
    /// The version the guest asks for.
    pub vmbus_version_requested: U32,
    /// The VP the host sends messages to (3.0 on).
    pub target_vcpu: U32,
    /// Before 5.0, the GPA of the shared interrupt page; from 5.0, the
    /// guest's message SINT in the low byte.
    pub interrupt_page_or_sint: U64,
    /// GPA of the parent→child monitor page.
    pub monitor_page1: U64,
    /// GPA of the child→parent monitor page.
    pub monitor_page2: U64,
}

/// `struct vmbus_channel_version_response` (16 bytes), host → guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct VersionResponse {
    /// The message header.
    pub header: MessageHeader,
    /// 1 if the version is accepted. The only field Linux reads before
    /// 5.0.
    pub version_supported: u8,
    /// How the connection went (5.0 on), a
    /// [`ConnectionState`](super::ConnectionState).
    pub connection_state: u8,
    /// Zero.
    pub padding: U16,
    /// From 5.0, the connection every later message goes to
    /// (`msg_conn_id`); before, the accepted version.
    pub msg_conn_id: U32,
}

/// Offer flags (`chn_flags`): the device is enumerated as an interface.
pub const OFFER_ENUMERATE_DEVICE_INTERFACE: u16 = 0x0001;
/// Offer flags: the ring carries named-pipe packets.
pub const OFFER_NAMED_PIPE_MODE: u16 = 0x0010;
/// Offer flags: an hvsock offer (`VMBUS_CHANNEL_TLNPI_PROVIDER_OFFER`).
pub const OFFER_TLNPI_PROVIDER: u16 = 0x2000;
/// The pipe mode in the first 4 bytes of a pipe offer's user data:
/// message mode (`VMBUS_PIPE_TYPE_MESSAGE`).
pub const PIPE_TYPE_MESSAGE: u32 = 4;
/// Bytes of user-defined data in an offer or an open (`MAX_USER_DEFINED_BYTES`).
pub const USER_DEFINED_BYTES: usize = 120;

/// `struct vmbus_channel_offer_channel` (196 bytes), host → guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct OfferChannel {
    /// The message header.
    pub header: MessageHeader,
    /// The device class (`if_type`), which drivers match on.
    pub if_type: Guid,
    /// This device (`if_instance`).
    pub if_instance: Guid,
    /// Zero.
    pub reserved1: U64,
    /// Zero.
    pub reserved2: U64,
    /// `OFFER_*` flags.
    pub chn_flags: U16,
    /// MMIO space the device wants, in MiB.
    pub mmio_megabytes: U16,
    /// Device-defined data; for pipes, the pipe mode first.
    pub user_def: [u8; USER_DEFINED_BYTES],
    /// 0 for a primary channel.
    pub sub_channel_index: U16,
    /// Zero (`reserved3`).
    pub reserved3: U16,
    /// The channel ID the guest names this channel by.
    pub child_relid: U32,
    /// The monitor ID, meaningful only when `monitor_allocated` is 1.
    pub monitorid: u8,
    /// Bit 0: the guest signals through the monitor page.
    pub monitor_allocated: u8,
    /// Bit 0: the channel has its own event flag (so the guest sets no
    /// bit in the shared interrupt page).
    pub is_dedicated_interrupt: U16,
    /// The connection the guest signals the host on (`HvSignalEvent`).
    pub connection_id: U32,
}

/// `struct vmbus_channel_rescind_offer` (12 bytes), host → guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RescindOffer {
    /// The message header.
    pub header: MessageHeader,
    /// The channel.
    pub child_relid: U32,
}

/// `struct vmbus_channel_open_channel` (148 bytes), guest → host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct OpenChannel {
    /// The message header.
    pub header: MessageHeader,
    /// The channel.
    pub child_relid: U32,
    /// Echoed in the result (Linux uses the channel ID).
    pub openid: U32,
    /// The GPADL holding both rings.
    pub ringbuffer_gpadlhandle: U32,
    /// The VP the host interrupts for this channel
    /// ([`TARGET_VP_NONE`](super::TARGET_VP_NONE): none).
    pub target_vp: U32,
    /// Where the host→guest ring starts in the GPADL, in pages; the
    /// guest→host ring starts at page 0.
    pub downstream_ringbuffer_pageoffset: U32,
    /// Device-defined data.
    pub userdata: [u8; USER_DEFINED_BYTES],
}

/// `struct vmbus_channel_open_result` (20 bytes), host → guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct OpenResult {
    /// The message header.
    pub header: MessageHeader,
    /// The channel.
    pub child_relid: U32,
    /// The request's `openid`.
    pub openid: U32,
    /// An NTSTATUS; non-zero fails the open.
    pub status: U32,
}

/// `struct vmbus_channel_close_channel` (12 bytes), guest → host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct CloseChannel {
    /// The message header.
    pub header: MessageHeader,
    /// The channel.
    pub child_relid: U32,
}

/// `struct vmbus_channel_gpadl_header` (20 bytes, then the ranges),
/// guest → host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct GpadlHeader {
    /// The message header.
    pub header: MessageHeader,
    /// The channel the GPADL belongs to.
    pub child_relid: U32,
    /// The GPADL's ID, chosen by the guest.
    pub gpadl: U32,
    /// Bytes of range data in all of this GPADL's messages: for each
    /// range a [`GpaRange`] and its page numbers.
    pub range_buflen: U16,
    /// The number of ranges.
    pub rangecount: U16,
}

/// `struct gpa_range` without its page numbers (8 bytes): `byte_count`
/// bytes from `byte_offset` into the first page; as many page numbers
/// follow as those bytes touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct GpaRange {
    /// Bytes in the range.
    pub byte_count: U32,
    /// Offset of the first byte in the first page.
    pub byte_offset: U32,
}

/// `struct vmbus_channel_gpadl_body` (16 bytes, then page numbers),
/// guest → host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct GpadlBody {
    /// The message header.
    pub header: MessageHeader,
    /// A sequence number (Linux leaves it 0; not used).
    pub msgnumber: U32,
    /// The GPADL this continues.
    pub gpadl: U32,
}

/// `struct vmbus_channel_gpadl_created` (20 bytes), host → guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct GpadlCreated {
    /// The message header.
    pub header: MessageHeader,
    /// The channel, as in the header.
    pub child_relid: U32,
    /// The GPADL.
    pub gpadl: U32,
    /// An NTSTATUS; non-zero fails the GPADL.
    pub creation_status: U32,
}

/// `struct vmbus_channel_gpadl_teardown` (16 bytes), guest → host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct GpadlTeardown {
    /// The message header.
    pub header: MessageHeader,
    /// The channel.
    pub child_relid: U32,
    /// The GPADL.
    pub gpadl: U32,
}

/// `struct vmbus_channel_gpadl_torndown` (12 bytes), host → guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct GpadlTorndown {
    /// The message header.
    pub header: MessageHeader,
    /// The GPADL.
    pub gpadl: U32,
}

/// `struct vmbus_channel_relid_released` (12 bytes), guest → host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RelidReleased {
    /// The message header.
    pub header: MessageHeader,
    /// The channel.
    pub child_relid: U32,
}

/// `struct vmbus_channel_tl_connect_request` (40 bytes), guest → host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct TlConnectRequest {
    /// The message header.
    pub header: MessageHeader,
    /// The guest's endpoint.
    pub guest_endpoint_id: Guid,
    /// The host service asked for.
    pub host_service_id: Guid,
}

/// The hvsock connect result (44 bytes), host → guest. Linux 6.1 has no
/// handler for it and drops it; Windows guests read the status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct TlConnectResult {
    /// The message header.
    pub header: MessageHeader,
    /// The guest's endpoint.
    pub guest_endpoint_id: Guid,
    /// The host service.
    pub host_service_id: Guid,
    /// An NTSTATUS.
    pub status: U32,
}

/// `struct vmbus_channel_modifychannel` (16 bytes), guest → host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ModifyChannel {
    /// The message header.
    pub header: MessageHeader,
    /// The channel.
    pub child_relid: U32,
    /// The VP to interrupt from now on.
    pub target_vp: U32,
}

/// `struct vmbus_channel_modifychannel_response` (16 bytes), host →
/// guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ModifyChannelResponse {
    /// The message header.
    pub header: MessageHeader,
    /// The channel.
    pub child_relid: U32,
    /// An NTSTATUS; Linux treats non-zero as "try again".
    pub status: U32,
}
