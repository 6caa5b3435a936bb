//! The host→guest ring, which the host writes.
//!
//! The host owns `write_index` and `pending_send_sz`; the guest owns
//! `read_index` and `interrupt_mask`. The host signals the guest only when
//! its write turned an empty ring non-empty and the guest has not masked
//! interrupts (the rule Linux's own writer follows, `hv_signal_on_write`,
//! and that Linux's reader relies on: `hv_end_read` re-checks after
//! unmasking). A write needs strictly more free bytes than the packet
//! takes, trailer included, so the ring is never full. When the packet
//! does not fit, the host asks for the space in `pending_send_sz`; Linux's
//! reader signals once it has freed more than that (`hv_pkt_iter_close`),
//! and the host clears the field after its next write.

use zerocopy::IntoBytes;

use super::packet::{OutgoingPacket, trailer};
use super::{
    ControlField, FEATURE_PENDING_SEND_SIZE, RingError, RingMemory, TRAILER_SIZE, checked_len,
    load_index, used, wrap, write_wrapped,
};

/// What a write asks of the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// Signal the guest (the channel's event flag).
    pub signal_guest: bool,
}

/// Why a write failed; the ring is unchanged except as said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// Not enough space now: `pending_send_sz` asks the guest to signal
    /// when there is; write again then.
    Full {
        /// The bytes the packet takes, trailer included.
        needed: u32,
    },
    /// The packet can never fit this ring (or `len8` cannot describe it).
    TooLarge,
    /// The ring is unusable (a bad `read_index` from the guest).
    Ring(RingError),
}

impl From<RingError> for WriteError {
    fn from(error: RingError) -> Self {
        Self::Ring(error)
    }
}

/// The host's writing end of a host→guest ring.
#[derive(Debug)]
pub struct OutgoingRing<M> {
    mem: M,
    len: u32,
    /// Where the next packet goes (published at once: `write_index`).
    next: u32,
    /// Whether `pending_send_sz` asks for space.
    waiting: bool,
}

impl<M: RingMemory> OutgoingRing<M> {
    /// Starts writing where the ring's `write_index` says (0 on a ring
    /// Linux just set up), announces that the host uses `pending_send_sz`
    /// (the feature bit) and waits for nothing.
    ///
    /// # Errors
    ///
    /// [`RingError::BadSize`], [`RingError::BadIndex`].
    pub fn new(mem: M) -> Result<Self, RingError> {
        let len = checked_len(&mem)?;
        let next = load_index(&mem, ControlField::WriteIndex, len)?;
        mem.store(ControlField::FeatureBits, FEATURE_PENDING_SEND_SIZE);
        mem.store(ControlField::PendingSendSize, 0);
        Ok(Self {
            mem,
            len,
            next,
            waiting: false,
        })
    }

    /// The memory.
    pub fn memory(&self) -> &M {
        &self.mem
    }

    /// Bytes the host may still write, as [`write`](Self::write) counts
    /// them (a packet of `n` ring bytes fits when `n` is less).
    ///
    /// # Errors
    ///
    /// [`RingError::BadIndex`] for the guest's `read_index`.
    pub fn free(&self) -> Result<u32, RingError> {
        let read = load_index(&self.mem, ControlField::ReadIndex, self.len)?;
        Ok(self.len - used(self.next, read, self.len))
    }

    /// Writes one packet and publishes it.
    ///
    /// # Errors
    ///
    /// [`WriteError`].
    pub fn write(&mut self, packet: &OutgoingPacket<'_>) -> Result<Written, WriteError> {
        let (len, total) = match (packet.packet_len(), packet.ring_bytes()) {
            (Some(len), Some(total)) if total < self.len => (len, total),
            _ => return Err(WriteError::TooLarge),
        };
        if total >= self.free()? {
            self.mem.store(ControlField::PendingSendSize, total);
            self.waiting = true;
            // The guest may have freed the space before it could see the
            // request: look again, or it would never signal.
            if total >= self.free()? {
                return Err(WriteError::Full { needed: total });
            }
        }
        let start = self.next;
        let mut at = start;
        let descriptor = packet.descriptor(len);
        for part in [descriptor.as_bytes(), packet.data] {
            write_wrapped(&self.mem, self.len, at, part);
            at = wrap(at, part.len() as u32, self.len);
        }
        let padding = len - super::packet::DESCRIPTOR_SIZE - packet.data.len() as u32;
        write_wrapped(&self.mem, self.len, at, &[0; 8][..padding as usize]);
        at = wrap(at, padding, self.len);
        write_wrapped(&self.mem, self.len, at, &trailer(start));
        self.next = wrap(at, TRAILER_SIZE, self.len);
        self.mem.store(ControlField::WriteIndex, self.next);
        if self.waiting {
            self.mem.store(ControlField::PendingSendSize, 0);
            self.waiting = false;
        }
        let masked = self.mem.load(ControlField::InterruptMask) != 0;
        let was_empty = self.mem.load(ControlField::ReadIndex) == start;
        Ok(Written {
            signal_guest: !masked && was_empty,
        })
    }
}
