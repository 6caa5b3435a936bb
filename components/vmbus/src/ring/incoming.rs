//! The guest→host ring, which the host reads.
//!
//! The host owns `read_index` and `interrupt_mask`; the guest owns
//! `write_index` and `pending_send_sz`. Reading follows Linux's writer
//! (`hv_ringbuffer_write`, `hv_signal_on_write`): the guest signals the host
//! only when it writes into an empty ring while `interrupt_mask` is 0, so
//! the host masks while it drains and, on unmasking, looks once more
//! ([`IncomingRing::unmask`]). After freeing space the host signals the
//! guest only when the guest said it waits (`pending_send_sz`, with the
//! feature bit the guest sets on this ring) and the read crossed that
//! amount, as Linux's `hv_pkt_iter_close` decides for its own reads.

use zerocopy::{FromBytes, IntoBytes};

use super::packet::{DESCRIPTOR_SIZE, PacketDescriptor};
use super::{
    ControlField, FEATURE_PENDING_SEND_SIZE, RingError, RingMemory, TRAILER_SIZE, checked_len,
    load_index, read_wrapped, used, wrap,
};

/// A packet read from the ring into the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet {
    /// The descriptor, as checked (the buffer's first 16 bytes hold the
    /// same).
    pub descriptor: PacketDescriptor,
    /// Bytes of the buffer the packet fills (its `len8 * 8`).
    pub len: u32,
}

impl Packet {
    /// The packet's data (after `offset8`, up to `len8`, padding included)
    /// within `buffer`, the buffer it was read into.
    #[must_use]
    pub fn data<'a>(&self, buffer: &'a [u8]) -> &'a [u8] {
        let start = self.descriptor.data_offset() as usize;
        buffer.get(start..self.len as usize).unwrap_or(&[])
    }
}

/// Why a read failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The ring is unusable (a bad index or packet from the guest).
    Ring(RingError),
    /// The buffer holds fewer bytes than the packet; nothing was consumed.
    BufferTooSmall {
        /// The packet's length.
        needed: u32,
    },
}

impl From<RingError> for ReadError {
    fn from(error: RingError) -> Self {
        Self::Ring(error)
    }
}

/// The host's reading end of a guest→host ring.
#[derive(Debug)]
pub struct IncomingRing<M> {
    mem: M,
    len: u32,
    /// Where the next packet starts (read but not yet published).
    next: u32,
    /// The `read_index` last published.
    committed: u32,
}

impl<M: RingMemory> IncomingRing<M> {
    /// Starts reading where the ring's `read_index` says (0 on a ring Linux
    /// just set up).
    ///
    /// # Errors
    ///
    /// [`RingError::BadSize`], [`RingError::BadIndex`].
    pub fn new(mem: M) -> Result<Self, RingError> {
        let len = checked_len(&mem)?;
        let read = load_index(&mem, ControlField::ReadIndex, len)?;
        Ok(Self {
            mem,
            len,
            next: read,
            committed: read,
        })
    }

    /// The memory.
    pub fn memory(&self) -> &M {
        &self.mem
    }

    /// Bytes written by the guest and not yet read.
    ///
    /// # Errors
    ///
    /// [`RingError::BadIndex`] for the guest's `write_index`.
    pub fn available(&self) -> Result<u32, RingError> {
        let write = load_index(&self.mem, ControlField::WriteIndex, self.len)?;
        Ok(used(write, self.next, self.len))
    }

    /// Reads the next packet into `buffer`; `None` when the ring is empty.
    /// The space is the guest's again after [`commit`](Self::commit).
    ///
    /// # Errors
    ///
    /// [`ReadError`]: nothing is consumed on any error.
    pub fn read(&mut self, buffer: &mut [u8]) -> Result<Option<Packet>, ReadError> {
        let available = self.available()?;
        if available == 0 {
            return Ok(None);
        }
        if available < DESCRIPTOR_SIZE + TRAILER_SIZE {
            return Err(RingError::ShortData(available).into());
        }
        let mut raw = [0; DESCRIPTOR_SIZE as usize];
        read_wrapped(&self.mem, self.len, self.next, &mut raw);
        let descriptor = PacketDescriptor::read_from_bytes(&raw).unwrap_or_default();
        let len = descriptor.len();
        let data_offset = descriptor.data_offset();
        if data_offset < DESCRIPTOR_SIZE || len < data_offset || len + TRAILER_SIZE > available {
            return Err(RingError::BadDescriptor {
                offset8: descriptor.offset8.get(),
                len8: descriptor.len8.get(),
                available,
            }
            .into());
        }
        let Some(target) = buffer.get_mut(..len as usize) else {
            return Err(ReadError::BufferTooSmall { needed: len });
        };
        read_wrapped(&self.mem, self.len, self.next, target);
        // The guest may have rewritten the descriptor since it was checked:
        // the copy carries the checked one.
        target[..DESCRIPTOR_SIZE as usize].copy_from_slice(descriptor.as_bytes());
        self.next = wrap(self.next, len + TRAILER_SIZE, self.len);
        Ok(Some(Packet { descriptor, len }))
    }

    /// Publishes what was read (`read_index`), and says whether to signal
    /// the guest: it waits for space and now has it.
    pub fn commit(&mut self) -> bool {
        if self.next == self.committed {
            return false;
        }
        let start = self.committed;
        self.mem.store(ControlField::ReadIndex, self.next);
        self.committed = self.next;
        if self.mem.load(ControlField::FeatureBits) & FEATURE_PENDING_SEND_SIZE == 0 {
            return false;
        }
        let pending = self.mem.load(ControlField::PendingSendSize);
        if pending == 0 {
            return false;
        }
        let Ok(write) = load_index(&self.mem, ControlField::WriteIndex, self.len) else {
            return false;
        };
        // Free bytes as Linux's writer counts them (`hv_get_bytes_to_write`):
        // it writes a packet only into strictly more than the packet takes.
        let free_now = self.len - used(write, self.next, self.len);
        let freed = used(self.next, start, self.len);
        let free_before = free_now.saturating_sub(freed);
        free_before <= pending && pending < free_now
    }

    /// Sets `interrupt_mask`: the guest need not signal while the host
    /// drains.
    pub fn mask(&self) {
        self.mem.store(ControlField::InterruptMask, 1);
    }

    /// Clears `interrupt_mask`, and says whether packets arrived meanwhile
    /// (the guest did not signal them: read on).
    ///
    /// # Errors
    ///
    /// [`RingError::BadIndex`] for the guest's `write_index`.
    pub fn unmask(&self) -> Result<bool, RingError> {
        self.mem.store(ControlField::InterruptMask, 0);
        Ok(self.available()? != 0)
    }
}
