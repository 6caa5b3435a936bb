//! Physical frame (4 KiB) allocator for the Tessera kernel.
//!
//! A bitmap allocator over storage the caller provides, so it works before any
//! heap exists. The storage holds two bitmaps over the frames `[0, end)`:
//!
//! - *allocated*: set for every frame that may not be handed out — held by
//!   someone, reserved, or not RAM at all;
//! - *managed*: set for every frame that was usable RAM when the allocator
//!   was built. It lets [`FrameAllocator::free`] tell a double free from a
//!   free of a frame that was never the allocator's, which one bitmap cannot.
//!
//! Allocation scans whole words from a hint below which every word is full,
//! so the common single-frame allocation touches one or two words.
//!
//! Setting up, in the kernel:
//!
//! 1. Collect the usable ranges (from the boot memory map) and the ranges to
//!    keep (kernel image, boot information, modules, low memory).
//! 2. `bytes = FrameAllocator::storage_bytes(end of the highest usable range)`;
//!    `addr = find_storage(usable, reserved, bytes)`.
//! 3. Map `[addr, addr + bytes)` as `&'static mut [u64]` (the kernel's unsafe
//!    step), add that range to the reserved ones, and call
//!    [`FrameAllocator::new`].

#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

use core::fmt;

/// Size of a frame in bytes.
pub const FRAME_SIZE: u64 = 4096;

const BITS: u64 = u64::BITS as u64;

/// A 4 KiB-aligned physical frame.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Frame(u64);

impl Frame {
    /// The frame that contains physical address `addr`.
    #[must_use]
    pub const fn containing(addr: u64) -> Self {
        Self(addr & !(FRAME_SIZE - 1))
    }

    /// The frame that starts at `addr`.
    ///
    /// # Errors
    ///
    /// [`FrameError::Unaligned`] if `addr` is not 4 KiB aligned.
    pub const fn from_addr(addr: u64) -> Result<Self, FrameError> {
        if addr.is_multiple_of(FRAME_SIZE) {
            Ok(Self(addr))
        } else {
            Err(FrameError::Unaligned { addr })
        }
    }

    /// Frame number `number` (its address divided by [`FRAME_SIZE`]); `None`
    /// past the end of the 64-bit address space.
    #[must_use]
    pub const fn from_number(number: u64) -> Option<Self> {
        match number.checked_mul(FRAME_SIZE) {
            Some(addr) => Some(Self(addr)),
            None => None,
        }
    }

    /// Physical address of the first byte.
    #[must_use]
    pub const fn addr(self) -> u64 {
        self.0
    }

    /// Frame number: the address divided by [`FRAME_SIZE`].
    #[must_use]
    pub const fn number(self) -> u64 {
        self.0 / FRAME_SIZE
    }

    /// The frame `count` frames further on, if that is still addressable.
    #[must_use]
    pub const fn checked_add(self, count: u64) -> Option<Self> {
        match self.number().checked_add(count) {
            Some(number) => Self::from_number(number),
            None => None,
        }
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Frame({:#x})", self.0)
    }
}

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The storage cannot hold the bitmaps for the highest usable frame.
    StorageTooSmall {
        /// Words needed ([`FrameAllocator::storage_words`] of the usable end).
        needed: usize,
        /// Words given.
        given: usize,
    },
    /// An address that should start a frame is not 4 KiB aligned.
    Unaligned {
        /// The address.
        addr: u64,
    },
    /// The frame is not allocated (freed twice, or freed without having been
    /// handed out while still in the pool).
    DoubleFree {
        /// The frame.
        frame: Frame,
    },
    /// The frame lies beyond the memory the allocator covers.
    OutOfRange {
        /// The frame.
        frame: Frame,
        /// End of the covered memory (exclusive).
        limit: u64,
    },
    /// The frame is covered but was never usable RAM, so it cannot be freed.
    NeverUsable {
        /// The frame.
        frame: Frame,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::StorageTooSmall { needed, given } => write!(
                f,
                "frame bitmap storage too small: {needed} words needed ({} bytes), {given} given",
                needed.saturating_mul(8)
            ),
            Self::Unaligned { addr } => {
                write!(f, "address {addr:#x} is not 4 KiB aligned")
            }
            Self::DoubleFree { frame } => {
                write!(f, "frame {:#x} freed but not allocated", frame.addr())
            }
            Self::OutOfRange { frame, limit } => write!(
                f,
                "frame {:#x} is beyond the managed memory (ends at {limit:#x})",
                frame.addr()
            ),
            Self::NeverUsable { frame } => write!(
                f,
                "frame {:#x} was never usable memory and cannot be freed",
                frame.addr()
            ),
        }
    }
}

impl core::error::Error for FrameError {}

/// Bitmap allocator of physical frames over caller-provided storage.
pub struct FrameAllocator<'a> {
    /// Bit set: the frame may not be handed out.
    allocated: &'a mut [u64],
    /// Bit set: the frame was usable RAM when the allocator was built.
    managed: &'a mut [u64],
    free: usize,
    managed_frames: usize,
    /// Every word of `allocated` below this index is full (`u64::MAX`).
    hint: usize,
}

impl fmt::Debug for FrameAllocator<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameAllocator")
            .field("memory_end", &format_args!("{:#x}", self.memory_end()))
            .field("free_frames", &self.free)
            .field("managed_frames", &self.managed_frames)
            .finish_non_exhaustive()
    }
}

impl<'a> FrameAllocator<'a> {
    /// `u64` words of storage needed to cover `[0, memory_end)`: two bitmaps
    /// of one bit per frame each.
    #[must_use]
    pub const fn storage_words(memory_end: u64) -> usize {
        let words = memory_end.div_ceil(FRAME_SIZE).div_ceil(BITS);
        let words = if words > (usize::MAX / 2) as u64 {
            usize::MAX / 2
        } else {
            words as usize
        };
        words * 2
    }

    /// [`Self::storage_words`] in bytes, as [`find_storage`] wants it.
    #[must_use]
    pub const fn storage_bytes(memory_end: u64) -> u64 {
        (Self::storage_words(memory_end) as u64).saturating_mul(8)
    }

    /// Builds the allocator.
    ///
    /// `usable` ranges `[start, end)` are shrunk inward to whole frames;
    /// `reserved` ranges are grown outward to whole frames and subtracted.
    /// Every frame starts allocated, and only usable-minus-reserved frames go
    /// into the pool. The ranges may overlap and come in any order; empty
    /// ones are ignored. Reserved frames that are usable RAM stay managed:
    /// the kernel may [`free`](Self::free) them later (for example a module
    /// once it has been loaded). Reserved ranges beyond the storage's
    /// coverage are irrelevant and ignored.
    ///
    /// The storage's previous contents do not matter. **It must itself be
    /// among the `reserved` ranges** if it lies in usable memory, or its
    /// frames would be handed out.
    ///
    /// # Errors
    ///
    /// [`FrameError::StorageTooSmall`] if `storage` does not cover the end of
    /// the highest usable frame.
    pub fn new(
        storage: &'a mut [u64],
        usable: impl IntoIterator<Item = (u64, u64)>,
        reserved: impl IntoIterator<Item = (u64, u64)>,
    ) -> Result<Self, FrameError> {
        let given = storage.len();
        let words = given / 2;
        let (allocated, rest) = storage.split_at_mut(words);
        let managed = &mut rest[..words];
        allocated.fill(u64::MAX);
        managed.fill(0);
        let covered = words as u64 * BITS;

        let mut usable_end = 0;
        for (start, end) in usable {
            let first = start.div_ceil(FRAME_SIZE);
            let last = end / FRAME_SIZE;
            if first >= last {
                continue;
            }
            usable_end = usable_end.max(last);
            // Past the coverage only the error below matters; keep going to
            // report the real need.
            let last = last.min(covered);
            if first < last {
                set_bits(managed, first, last, true);
                set_bits(allocated, first, last, false);
            }
        }
        if usable_end > covered {
            return Err(FrameError::StorageTooSmall {
                needed: Self::storage_words(usable_end.saturating_mul(FRAME_SIZE)),
                given,
            });
        }

        for (start, end) in reserved {
            let first = start / FRAME_SIZE;
            let last = end.div_ceil(FRAME_SIZE).min(covered);
            if first < last {
                set_bits(allocated, first, last, true);
            }
        }

        let managed_frames = count_ones(managed);
        let free = words * BITS as usize - count_ones(allocated);
        let hint = allocated
            .iter()
            .position(|&w| w != u64::MAX)
            .unwrap_or(words);
        Ok(Self {
            allocated,
            managed,
            free,
            managed_frames,
            hint,
        })
    }

    /// Takes a free frame, the lowest one available.
    pub fn allocate(&mut self) -> Option<Frame> {
        if self.free == 0 {
            return None;
        }
        let offset = self.allocated[self.hint..]
            .iter()
            .position(|&w| w != u64::MAX)?;
        let word = self.hint + offset;
        let bit = self.allocated[word].trailing_ones();
        self.allocated[word] |= 1 << bit;
        self.free -= 1;
        self.hint = word;
        Frame::from_number(word as u64 * BITS + u64::from(bit))
    }

    /// Takes `count` physically contiguous free frames whose first frame
    /// number is a multiple of `align_frames` (0 is treated as 1), for example
    /// 512 frames aligned to 512 for a 2 MiB page. Returns the first frame,
    /// the lowest such run available. `None` for `count == 0` or if no run
    /// fits.
    pub fn allocate_contiguous(&mut self, count: usize, align_frames: usize) -> Option<Frame> {
        if count == 0 || count > self.free {
            return None;
        }
        let count = count as u64;
        let align = align_frames.max(1) as u64;
        let covered = self.memory_frames();
        let mut start = (self.hint as u64 * BITS).checked_next_multiple_of(align)?;
        loop {
            let end = start.checked_add(count)?;
            if end > covered {
                return None;
            }
            match first_set(self.allocated, start, end) {
                None => break,
                // No run that starts at or before the allocated frame can
                // fit, so skip past it.
                Some(taken) => start = (taken + 1).checked_next_multiple_of(align)?,
            }
        }
        set_bits(self.allocated, start, start + count, true);
        self.free -= count as usize;
        Frame::from_number(start)
    }

    /// Returns a frame to the pool.
    ///
    /// Frames that were reserved at construction but are usable RAM may be
    /// freed too: that is how the kernel hands back boot-time memory.
    ///
    /// # Errors
    ///
    /// [`FrameError::OutOfRange`] beyond the covered memory,
    /// [`FrameError::NeverUsable`] for a frame that was never usable RAM, and
    /// [`FrameError::DoubleFree`] for a frame that is not allocated. Nothing
    /// changes on error.
    pub fn free(&mut self, frame: Frame) -> Result<(), FrameError> {
        self.check_freeable(frame)?;
        let n = frame.number();
        set_bits(self.allocated, n, n + 1, false);
        self.free += 1;
        self.hint = self.hint.min((n / BITS) as usize);
        Ok(())
    }

    /// Returns `count` frames starting at `first`, all or nothing.
    ///
    /// # Errors
    ///
    /// As [`Self::free`], for the first frame of the run that cannot be freed;
    /// nothing is freed then. [`FrameError::OutOfRange`] also if the run
    /// passes the end of the address space.
    pub fn free_contiguous(&mut self, first: Frame, count: usize) -> Result<(), FrameError> {
        let out_of_range = FrameError::OutOfRange {
            frame: first,
            limit: self.memory_end(),
        };
        let end = first
            .number()
            .checked_add(count as u64)
            .ok_or(out_of_range)?;
        for n in first.number()..end {
            self.check_freeable(Frame::from_number(n).ok_or(out_of_range)?)?;
        }
        if count > 0 {
            set_bits(self.allocated, first.number(), end, false);
            self.free += count;
            self.hint = self.hint.min((first.number() / BITS) as usize);
        }
        Ok(())
    }

    /// Whether `frame` is in the pool (free to allocate).
    #[must_use]
    pub fn is_free(&self, frame: Frame) -> bool {
        let n = frame.number();
        n < self.memory_frames() && !get_bit(self.allocated, n)
    }

    /// Frames in the pool.
    #[must_use]
    pub const fn free_frames(&self) -> usize {
        self.free
    }

    /// Frames that were usable RAM at construction, reserved ones included.
    #[must_use]
    pub const fn managed_frames(&self) -> usize {
        self.managed_frames
    }

    /// End (exclusive) of the physical memory the storage covers; at least
    /// the end of the highest usable frame.
    #[must_use]
    pub const fn memory_end(&self) -> u64 {
        self.memory_frames().saturating_mul(FRAME_SIZE)
    }

    const fn memory_frames(&self) -> u64 {
        self.allocated.len() as u64 * BITS
    }

    fn check_freeable(&self, frame: Frame) -> Result<(), FrameError> {
        let n = frame.number();
        if n >= self.memory_frames() {
            return Err(FrameError::OutOfRange {
                frame,
                limit: self.memory_end(),
            });
        }
        if !get_bit(self.managed, n) {
            return Err(FrameError::NeverUsable { frame });
        }
        if !get_bit(self.allocated, n) {
            return Err(FrameError::DoubleFree { frame });
        }
        Ok(())
    }
}

/// Where to put the allocator's storage: the lowest page-aligned address in
/// the first usable range that has `bytes` (rounded up to whole frames) free
/// of every reserved range. Ranges are treated as in [`FrameAllocator::new`]:
/// usable shrunk inward, reserved grown outward to whole frames.
///
/// `reserved` is walked once per candidate, hence `Clone`.
pub fn find_storage<U, R>(usable: U, reserved: R, bytes: u64) -> Option<u64>
where
    U: IntoIterator<Item = (u64, u64)>,
    R: IntoIterator<Item = (u64, u64)>,
    R::IntoIter: Clone,
{
    let size = bytes.checked_next_multiple_of(FRAME_SIZE)?;
    let reserved = reserved.into_iter();
    for (start, end) in usable {
        let Some(mut candidate) = start.checked_next_multiple_of(FRAME_SIZE) else {
            continue;
        };
        let end = end & !(FRAME_SIZE - 1);
        while let Some(candidate_end) = candidate.checked_add(size).filter(|&e| e <= end) {
            // Jump past the furthest reserved range that overlaps the
            // candidate; everything before that end is blocked anyway.
            let blocker = reserved
                .clone()
                .filter_map(|(r_start, r_end)| {
                    let r_start = r_start & !(FRAME_SIZE - 1);
                    let r_end = r_end
                        .checked_next_multiple_of(FRAME_SIZE)
                        .unwrap_or(u64::MAX);
                    let overlaps = r_start < r_end && r_start < candidate_end && candidate < r_end;
                    overlaps.then_some(r_end)
                })
                .max();
            match blocker {
                None => return Some(candidate),
                Some(r_end) if r_end.is_multiple_of(FRAME_SIZE) => candidate = r_end,
                // A reserved range up to the very top of memory.
                Some(_) => break,
            }
        }
    }
    None
}

/// Sets or clears bits `[from, to)`, a word at a time.
fn set_bits(bits: &mut [u64], from: u64, to: u64, value: bool) {
    let mut n = from;
    while n < to {
        let word = (n / BITS) as usize;
        let lo = n % BITS;
        let hi = (to - (n - lo)).min(BITS);
        let mask = mask(lo, hi);
        if value {
            bits[word] |= mask;
        } else {
            bits[word] &= !mask;
        }
        n += hi - lo;
    }
}

/// First set bit in `[from, to)`.
fn first_set(bits: &[u64], from: u64, to: u64) -> Option<u64> {
    let mut n = from;
    while n < to {
        let word = (n / BITS) as usize;
        let lo = n % BITS;
        let hi = (to - (n - lo)).min(BITS);
        let hits = bits[word] & mask(lo, hi);
        if hits != 0 {
            return Some(n - lo + u64::from(hits.trailing_zeros()));
        }
        n += hi - lo;
    }
    None
}

/// Bits `[lo, hi)` of a word, `lo < hi <= 64`.
const fn mask(lo: u64, hi: u64) -> u64 {
    let upper = if hi == BITS { u64::MAX } else { (1 << hi) - 1 };
    upper & !((1 << lo) - 1)
}

fn get_bit(bits: &[u64], n: u64) -> bool {
    bits[(n / BITS) as usize] & (1 << (n % BITS)) != 0
}

fn count_ones(bits: &[u64]) -> usize {
    bits.iter().map(|w| w.count_ones() as usize).sum()
}

#[cfg(test)]
mod tests;
