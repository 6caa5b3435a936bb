//! Linux 6.1's side of a ring (`drivers/hv/ring_buffer.c`), written from
//! its behaviour and independent of the crate's ring code: the guest's
//! writer on its outbound (guest→host) ring and its reader on its inbound
//! (host→guest) ring.

use vmbus::ring::{ControlField, RingMemory};

const DESC: u32 = 16;
const TRAILER: u32 = 8;

/// One ring as Linux drives it.
pub struct LinuxRing<M> {
    pub mem: M,
    datasize: u32,
    priv_read_index: u32,
    /// Linux's `pkt_buffer_size` (the copy buffer of the inbound ring).
    pkt_buffer_size: u32,
}

/// Linux's unsigned arithmetic: wraps, like C's.
fn used(write: u32, read: u32, size: u32) -> u32 {
    if write >= read { write - read } else { size.wrapping_sub(read).wrapping_add(write) }
}

impl<M: RingMemory> LinuxRing<M> {
    /// `hv_ringbuffer_init`: indices 0, the feature bit set.
    pub fn init(mem: M) -> Self {
        mem.store(ControlField::ReadIndex, 0);
        mem.store(ControlField::WriteIndex, 0);
        mem.store(ControlField::FeatureBits, 1);
        let datasize = mem.data_len();
        Self {
            mem,
            datasize,
            priv_read_index: 0,
            pkt_buffer_size: 4096,
        }
    }

    fn copy_to(&self, at: u32, bytes: &[u8]) -> u32 {
        let mut at = at;
        for chunk in bytes.chunks(1) {
            self.mem.write_data(at, chunk);
            at = (at + 1) % self.datasize;
        }
        at
    }

    fn copy_from(&self, at: u32, len: u32) -> Vec<u8> {
        (0..len)
            .map(|i| {
                let mut b = [0];
                self.mem.read_data((at + i) % self.datasize, &mut b);
                b[0]
            })
            .collect()
    }

    /// `hv_get_bytes_to_write`.
    pub fn bytes_to_write(&self) -> u32 {
        let read = self.mem.load(ControlField::ReadIndex);
        let write = self.mem.load(ControlField::WriteIndex);
        self.datasize.wrapping_sub(used(write, read, self.datasize))
    }

    /// `vmbus_sendpacket` → `hv_ringbuffer_write`: `Err(())` is `-EAGAIN`
    /// (full); `Ok(signal)` says whether `hv_signal_on_write` signals.
    pub fn send(&mut self, packet_type: u16, flags: u16, requestid: u64, data: &[u8]) -> Result<bool, ()> {
        let packetlen = DESC + data.len() as u32;
        let aligned = packetlen.next_multiple_of(8);
        let total = aligned + TRAILER;
        if self.bytes_to_write() <= total {
            return Err(());
        }
        let old_write = self.mem.load(ControlField::WriteIndex);
        let mut desc = Vec::new();
        desc.extend_from_slice(&packet_type.to_le_bytes());
        desc.extend_from_slice(&((DESC / 8) as u16).to_le_bytes());
        desc.extend_from_slice(&((aligned / 8) as u16).to_le_bytes());
        desc.extend_from_slice(&flags.to_le_bytes());
        desc.extend_from_slice(&requestid.to_le_bytes());
        let mut at = self.copy_to(old_write, &desc);
        at = self.copy_to(at, data);
        at = self.copy_to(at, &vec![0; (aligned - packetlen) as usize]);
        at = self.copy_to(at, &((u64::from(old_write)) << 32).to_le_bytes());
        self.mem.store(ControlField::WriteIndex, at);
        // hv_signal_on_write
        if self.mem.load(ControlField::InterruptMask) != 0 {
            return Ok(false);
        }
        Ok(old_write == self.mem.load(ControlField::ReadIndex))
    }

    /// Follows `read_index` again (a test guest that rewrote it).
    pub fn resync(&mut self) {
        self.priv_read_index = self.mem.load(ControlField::ReadIndex) % self.datasize / 8 * 8;
    }

    /// `hv_begin_read`.
    pub fn begin_read(&self) {
        self.mem.store(ControlField::InterruptMask, 1);
    }

    /// `hv_end_read`: unmask, and the bytes still to read.
    pub fn end_read(&self) -> u32 {
        self.mem.store(ControlField::InterruptMask, 0);
        let read = self.mem.load(ControlField::ReadIndex);
        let write = self.mem.load(ControlField::WriteIndex);
        used(write, read, self.datasize)
    }

    /// `vmbus_recvpacket` (data without the descriptor) into a buffer of
    /// `buflen` bytes: `Ok(None)` when empty, `Err(())` for `-ENOBUFS`;
    /// with the packet, its `trans_id` and whether `hv_pkt_iter_close`
    /// signals the host.
    pub fn recv(&mut self, buflen: u32) -> Result<Option<(Vec<u8>, u64, bool)>, ()> {
        let write = self.mem.load(ControlField::WriteIndex);
        let bytes_avail = used(write, self.priv_read_index, self.datasize);
        if bytes_avail < DESC {
            return Ok(None);
        }
        let bytes_avail = bytes_avail.min(self.pkt_buffer_size);
        let desc = self.copy_from(self.priv_read_index, DESC);
        let mut pkt_len = u32::from(u16::from_le_bytes([desc[4], desc[5]])) << 3;
        let mut pkt_offset = u32::from(u16::from_le_bytes([desc[2], desc[3]])) << 3;
        if pkt_len < DESC || pkt_len > bytes_avail {
            pkt_len = bytes_avail;
        }
        if pkt_offset < DESC || pkt_offset > pkt_len {
            pkt_offset = DESC;
        }
        let copy = self.copy_from(self.priv_read_index, pkt_len);
        let trans_id = u64::from_le_bytes(copy[8..16].try_into().unwrap());
        let packetlen = pkt_len - pkt_offset;
        if packetlen > buflen {
            return Err(());
        }
        let data = copy[pkt_offset as usize..pkt_len as usize].to_vec();
        // __hv_pkt_iter_next, then hv_pkt_iter_close
        let start_read_index = self.mem.load(ControlField::ReadIndex);
        self.priv_read_index = self.priv_read_index.wrapping_add(pkt_len + TRAILER) % self.datasize;
        let signal = self.iter_close(start_read_index);
        Ok(Some((data, trans_id, signal)))
    }

    /// `hv_pkt_iter_close`.
    fn iter_close(&self, start_read_index: u32) -> bool {
        self.mem.store(ControlField::ReadIndex, self.priv_read_index);
        if self.mem.load(ControlField::FeatureBits) & 1 == 0 {
            return false;
        }
        let pending_sz = self.mem.load(ControlField::PendingSendSize);
        if pending_sz == 0 {
            return false;
        }
        let curr_write_sz = self.bytes_to_write();
        let bytes_read = used(self.priv_read_index, start_read_index, self.datasize);
        if curr_write_sz.wrapping_sub(bytes_read) > pending_sz {
            return false;
        }
        if curr_write_sz <= pending_sz {
            return false;
        }
        true
    }
}
