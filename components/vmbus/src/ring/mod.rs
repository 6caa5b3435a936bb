//! A channel's ring buffers, from the host's side.
//!
//! OPENCHANNEL names a GPADL of whole pages holding two rings: the
//! guest→host ring from page 0, the host→guest ring from
//! `downstream_ringbuffer_pageoffset` ([`pair`]). Each ring is a control
//! page (`struct hv_ring_buffer`, Linux `include/linux/hyperv.h`) and a
//! data area of the remaining pages:
//!
//! | offset | field | written by |
//! | --- | --- | --- |
//! | 0 | `write_index`: where the next packet goes, in bytes into the data | the ring's writer |
//! | 4 | `read_index`: where the next unread packet is | the ring's reader |
//! | 8 | `interrupt_mask`: 1 while the reader drains, so the writer need not signal | the reader |
//! | 12 | `pending_send_sz`: bytes the writer waits for; 0 when not waiting | the writer |
//! | 16–63 | reserved | |
//! | 64 | `feature_bits`: bit 0, the writer sets `pending_send_sz` and the reader signals when that much is free | (Linux sets it on both of its rings) |
//!
//! A packet ([`packet`]) is a 16-byte descriptor, the data, padding to 8
//! bytes, and an 8-byte trailer holding the packet's start offset in its
//! upper half. The data area wraps around. A ring is never filled
//! completely: a write needs more free bytes than the packet takes, so
//! `read_index == write_index` always means empty.
//!
//! The memory is the guest's, shared while the channel is open: the guest
//! may change any of it at any time. The host keeps its own copy of the
//! index it owns, reads the other once per operation, checks it (inside
//! the data area, 8-aligned) and never trusts a length it has not checked,
//! so every access stays inside the ring ([`RingMemory`] documents the
//! bound each call keeps).

pub mod incoming;
pub mod outgoing;
pub mod packet;
pub mod pair;

pub use incoming::IncomingRing;
pub use outgoing::OutgoingRing;

/// The control page's size; the data area starts after it.
pub const CONTROL_PAGE_SIZE: u32 = 4096;

/// Bytes after each packet: the trailer (`VMBUS_PKT_TRAILER`).
pub const TRAILER_SIZE: u32 = 8;

/// `feature_bits` bit 0 (`feat_pending_send_sz`).
pub const FEATURE_PENDING_SEND_SIZE: u32 = 1;

/// The largest data area this crate handles: indices stay far from
/// `u32::MAX`, so no sum of an index and a packet length overflows.
pub const MAX_DATA_LEN: u32 = 1 << 30;

/// A field of the control page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ControlField {
    /// `write_index`, offset 0.
    WriteIndex,
    /// `read_index`, offset 4.
    ReadIndex,
    /// `interrupt_mask`, offset 8.
    InterruptMask,
    /// `pending_send_sz`, offset 12.
    PendingSendSize,
    /// `feature_bits`, offset 64.
    FeatureBits,
}

impl ControlField {
    /// The field's offset in the control page.
    #[must_use]
    pub const fn offset(self) -> usize {
        match self {
            Self::WriteIndex => 0,
            Self::ReadIndex => 4,
            Self::InterruptMask => 8,
            Self::PendingSendSize => 12,
            Self::FeatureBits => 64,
        }
    }
}

/// One ring's memory: its control page and its data area, as the component
/// serving the channel sees them through its memory window on the guest's
/// pages (or a test's buffer).
///
/// The guest writes the same memory concurrently. Control fields are single
/// aligned 32-bit words: an implementation loads and stores each atomically
/// and sequentially consistently, which is the ordering the ring protocol's
/// signalling decisions rely on (Linux's `virt_mb()` around the same
/// accesses). The ring code calls `read_data` and `write_data` only with
/// `offset + len <= data_len()`: an implementation may treat anything else
/// as a bug (the tests' memory panics).
pub trait RingMemory {
    /// The data area's size in bytes: a multiple of the page size, at least
    /// one page.
    fn data_len(&self) -> u32;
    /// Loads a control field.
    fn load(&self, field: ControlField) -> u32;
    /// Stores a control field.
    fn store(&self, field: ControlField, value: u32);
    /// Copies `buf.len()` bytes from the data area at `offset`.
    fn read_data(&self, offset: u32, buf: &mut [u8]);
    /// Copies `data` into the data area at `offset`.
    fn write_data(&self, offset: u32, data: &[u8]);
}

/// Why a ring cannot be used as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// The memory's data area is not a whole number of pages between one
    /// page and [`MAX_DATA_LEN`].
    BadSize(u32),
    /// An index the guest owns is outside the data area or not 8-aligned.
    BadIndex {
        /// Which.
        field: ControlField,
        /// Its value.
        value: u32,
    },
    /// Fewer bytes are in the ring than a packet's smallest size.
    ShortData(u32),
    /// A packet descriptor whose lengths are impossible.
    BadDescriptor {
        /// `offset8`.
        offset8: u16,
        /// `len8`.
        len8: u16,
        /// Bytes in the ring at the packet.
        available: u32,
    },
}

/// The data area's size, checked.
fn checked_len<M: RingMemory>(mem: &M) -> Result<u32, RingError> {
    let len = mem.data_len();
    if len == 0 || !len.is_multiple_of(CONTROL_PAGE_SIZE) || len > MAX_DATA_LEN {
        return Err(RingError::BadSize(len));
    }
    Ok(len)
}

/// `field`, checked as an index into a data area of `len` bytes.
fn load_index<M: RingMemory>(mem: &M, field: ControlField, len: u32) -> Result<u32, RingError> {
    let value = mem.load(field);
    if value >= len || !value.is_multiple_of(8) {
        return Err(RingError::BadIndex { field, value });
    }
    Ok(value)
}

/// Bytes written and not yet read, from `read` to `write` (both checked).
const fn used(write: u32, read: u32, len: u32) -> u32 {
    if write >= read {
        write - read
    } else {
        len - read + write
    }
}

/// `offset + advance`, wrapped into the data area (`offset < len`,
/// `advance <= len`).
const fn wrap(offset: u32, advance: u32, len: u32) -> u32 {
    let next = offset + advance;
    if next >= len { next - len } else { next }
}

/// Reads `buf.len()` (at most `len`) bytes from `offset`, wrapping.
fn read_wrapped<M: RingMemory>(mem: &M, len: u32, offset: u32, buf: &mut [u8]) {
    let first = (len - offset).min(buf.len() as u32) as usize;
    let (head, tail) = buf.split_at_mut(first);
    mem.read_data(offset, head);
    if !tail.is_empty() {
        mem.read_data(0, tail);
    }
}

/// Writes `data` (at most `len` bytes) from `offset`, wrapping.
fn write_wrapped<M: RingMemory>(mem: &M, len: u32, offset: u32, data: &[u8]) {
    let first = (len - offset).min(data.len() as u32) as usize;
    let (head, tail) = data.split_at(first);
    mem.write_data(offset, head);
    if !tail.is_empty() {
        mem.write_data(0, tail);
    }
}
