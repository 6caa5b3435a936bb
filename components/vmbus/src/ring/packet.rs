//! Packets in a ring: `struct vmpacket_descriptor` and its framing.
//!
//! | offset | field |
//! | --- | --- |
//! | 0 | `type` ([`PacketType`]) |
//! | 2 | `offset8`: where the data starts, in 8-byte units from the descriptor (at least 2) |
//! | 4 | `len8`: the packet's length without the trailer, in 8-byte units |
//! | 6 | `flags`: bit 0, a completion is requested |
//! | 8 | `trans_id`: echoed in the completion |
//!
//! Data runs from `offset8 * 8` to `len8 * 8`, its last bytes padding to
//! 8. The 8-byte trailer after the packet holds the packet's start offset
//! in its upper 32 bits (Linux writes `write_index << 32`, "previous packet
//! start"); readers skip it.

use zerocopy::byteorder::little_endian::{U16, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::TRAILER_SIZE;

tessera_open_enum::open_enum! {
    name;
    /// `enum vmbus_packet_type`.
    pub struct PacketType(u16);

    /// Invalid.
    INVALID = 0x0 => "VM_PKT_INVALID",
    /// Synchronous.
    SYNCH = 0x1 => "VM_PKT_SYNCH",
    /// Add a transfer page set.
    ADD_XFER_PAGESET = 0x2 => "VM_PKT_ADD_XFER_PAGESET",
    /// Remove a transfer page set.
    RM_XFER_PAGESET = 0x3 => "VM_PKT_RM_XFER_PAGESET",
    /// Establish a GPADL (in-ring).
    ESTABLISH_GPADL = 0x4 => "VM_PKT_ESTABLISH_GPADL",
    /// Tear down a GPADL (in-ring).
    TEARDOWN_GPADL = 0x5 => "VM_PKT_TEARDOWN_GPADL",
    /// Data in the ring: what the ICs use.
    DATA_INBAND = 0x6 => "VM_PKT_DATA_INBAND",
    /// Data in transfer pages.
    DATA_USING_XFER_PAGES = 0x7 => "VM_PKT_DATA_USING_XFER_PAGES",
    /// Data in a GPADL.
    DATA_USING_GPADL = 0x8 => "VM_PKT_DATA_USING_GPADL",
    /// Data at guest physical addresses.
    DATA_USING_GPA_DIRECT = 0x9 => "VM_PKT_DATA_USING_GPA_DIRECT",
    /// Cancel a request.
    CANCEL_REQUEST = 0xa => "VM_PKT_CANCEL_REQUEST",
    /// A completion.
    COMP = 0xb => "VM_PKT_COMP",
    /// Data in an additional packet.
    DATA_USING_ADDITIONAL_PKT = 0xc => "VM_PKT_DATA_USING_ADDITIONAL_PKT",
    /// Additional data.
    ADDITIONAL_DATA = 0xd => "VM_PKT_ADDITIONAL_DATA",
}

/// `flags` bit 0 (`VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED`).
pub const FLAG_COMPLETION_REQUESTED: u16 = 1;

/// `struct vmpacket_descriptor` (16 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct PacketDescriptor {
    /// The packet type.
    pub packet_type: U16,
    /// Data offset in 8-byte units.
    pub offset8: U16,
    /// Packet length in 8-byte units, trailer excluded.
    pub len8: U16,
    /// Flags.
    pub flags: U16,
    /// The transaction ID.
    pub trans_id: U64,
}

/// The descriptor's size.
pub const DESCRIPTOR_SIZE: u32 = 16;

impl PacketDescriptor {
    /// The type.
    #[must_use]
    pub fn kind(&self) -> PacketType {
        PacketType(self.packet_type.get())
    }

    /// The packet's length in bytes, trailer excluded.
    #[must_use]
    pub fn len(&self) -> u32 {
        u32::from(self.len8.get()) * 8
    }

    /// Whether the length is 0 (never true of a valid packet).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len8.get() == 0
    }

    /// The data's offset from the descriptor, in bytes.
    #[must_use]
    pub fn data_offset(&self) -> u32 {
        u32::from(self.offset8.get()) * 8
    }
}

/// A packet the host sends: a descriptor with data right after it
/// (`offset8` = 2), as Linux's `vmbus_sendpacket` builds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutgoingPacket<'a> {
    /// The type.
    pub packet_type: PacketType,
    /// Flags.
    pub flags: u16,
    /// The transaction ID.
    pub trans_id: u64,
    /// The data.
    pub data: &'a [u8],
}

impl OutgoingPacket<'_> {
    /// The packet's length in the ring, padding included, trailer excluded;
    /// `None` if `len8` cannot hold it.
    #[must_use]
    pub fn packet_len(&self) -> Option<u32> {
        let len = (DESCRIPTOR_SIZE as usize).checked_add(self.data.len())?.next_multiple_of(8);
        (len / 8 <= usize::from(u16::MAX)).then_some(len as u32)
    }

    /// The bytes the packet takes in the ring, trailer included.
    #[must_use]
    pub fn ring_bytes(&self) -> Option<u32> {
        self.packet_len().map(|len| len + TRAILER_SIZE)
    }

    /// The descriptor.
    #[must_use]
    pub fn descriptor(&self, len: u32) -> PacketDescriptor {
        PacketDescriptor {
            packet_type: U16::new(self.packet_type.0),
            offset8: U16::new((DESCRIPTOR_SIZE / 8) as u16),
            len8: U16::new((len / 8) as u16),
            flags: U16::new(self.flags),
            trans_id: U64::new(self.trans_id),
        }
    }
}

/// The trailer written after a packet that starts at `start`.
#[must_use]
pub const fn trailer(start: u32) -> [u8; 8] {
    ((start as u64) << 32).to_le_bytes()
}
