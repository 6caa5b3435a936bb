//! GPADLs (guest physical address descriptor lists): guest memory a guest
//! lends the host, described as ranges of page numbers.
//!
//! A GPADL arrives as GPADL_HEADER — the channel, the GPADL's ID, the
//! total bytes of range data (`range_buflen`) and the number of ranges —
//! followed by range data, and as many GPADL_BODY messages as the rest
//! needs (Linux fits 26 page numbers in the header and 28 in each body,
//! `create_gpadl_header`). The range data is, for each range, a
//! [`GpaRange`](crate::protocol::messages::GpaRange) (`byte_count`,
//! `byte_offset`) and the page numbers those bytes touch:
//! `ceil((byte_offset + byte_count) / 4096)` of them.
//!
//! Checks, each failing the GPADL (GPADL_CREATED with a failure status):
//! `range_buflen` a non-zero multiple of 8 and within the page budget, at
//! least one range, every range non-empty with its offset inside the first
//! page and its page numbers present, and every page in the partition's
//! RAM. Bodies append in the order they arrive; their `msgnumber` is not
//! used (Linux leaves it 0). Range data beyond what `range_buflen` announced
//! is ignored, as is data past the last range (firmware pads).

use alloc::vec::Vec;

use crate::protocol::messages::GpadlHeader;

/// The page size of GPADLs and rings (`HV_HYP_PAGE_SIZE`).
pub const PAGE_SIZE: u64 = 4096;

/// A partition's RAM, as page-number ranges: the only pages a GPADL may
/// name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuestRam {
    ranges: Vec<(u64, u64)>,
}

impl GuestRam {
    /// RAM made of `(first page, page count)` ranges.
    #[must_use]
    pub fn new(ranges: Vec<(u64, u64)>) -> Self {
        Self { ranges }
    }

    /// Whether page `pfn` is RAM.
    #[must_use]
    pub fn contains(&self, pfn: u64) -> bool {
        self.ranges
            .iter()
            .any(|&(first, count)| pfn >= first && pfn - first < count)
    }
}

/// Why a GPADL is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpadlError {
    /// `range_buflen` is 0 or not a multiple of 8.
    BadRangeLength(u16),
    /// `rangecount` is 0.
    NoRanges,
    /// More page-number entries than one GPADL may have.
    TooLarge {
        /// Entries announced.
        entries: usize,
        /// The limit.
        limit: usize,
    },
    /// A range of 0 bytes.
    EmptyRange,
    /// A range's offset is not inside its first page.
    OffsetTooLarge(u32),
    /// The range data ends inside a range.
    Truncated,
    /// A page that is not the partition's RAM.
    NotRam(u64),
}

/// A GPADL whose range data is still arriving.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpadlBuilder {
    range_count: u16,
    capacity: usize,
    entries: Vec<u64>,
}

impl GpadlBuilder {
    /// Starts a GPADL from its header, allowing at most `max_entries`
    /// 8-byte entries (range headers and page numbers).
    ///
    /// # Errors
    ///
    /// [`GpadlError::BadRangeLength`], [`GpadlError::NoRanges`],
    /// [`GpadlError::TooLarge`].
    pub fn new(header: &GpadlHeader, max_entries: usize) -> Result<Self, GpadlError> {
        let length = header.range_buflen.get();
        if length == 0 || !length.is_multiple_of(8) {
            return Err(GpadlError::BadRangeLength(length));
        }
        let range_count = header.rangecount.get();
        if range_count == 0 {
            return Err(GpadlError::NoRanges);
        }
        let capacity = usize::from(length / 8);
        if capacity > max_entries {
            return Err(GpadlError::TooLarge {
                entries: capacity,
                limit: max_entries,
            });
        }
        Ok(Self {
            range_count,
            capacity,
            entries: Vec::new(),
        })
    }

    /// The entries announced (what the GPADL will hold when complete).
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Appends the range data of one message; `true` once all announced
    /// data has arrived.
    pub fn append(&mut self, data: &[u8]) -> bool {
        let missing = self.capacity - self.entries.len();
        for chunk in data.chunks_exact(8).take(missing) {
            let mut entry = [0; 8];
            entry.copy_from_slice(chunk);
            self.entries.push(u64::from_le_bytes(entry));
        }
        self.is_complete()
    }

    /// Whether all announced data has arrived.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.entries.len() == self.capacity
    }

    /// Checks the complete range data against `ram`.
    ///
    /// # Errors
    ///
    /// [`GpadlError::EmptyRange`], [`GpadlError::OffsetTooLarge`],
    /// [`GpadlError::Truncated`] (also when called before the data is
    /// complete), [`GpadlError::NotRam`].
    pub fn finish(&self, ram: &GuestRam) -> Result<Gpadl, GpadlError> {
        if !self.is_complete() {
            return Err(GpadlError::Truncated);
        }
        let mut ranges = Vec::with_capacity(usize::from(self.range_count));
        let mut rest = self.entries.as_slice();
        for _ in 0..self.range_count {
            let (&range, after) = rest.split_first().ok_or(GpadlError::Truncated)?;
            let byte_count = range as u32;
            let byte_offset = (range >> 32) as u32;
            if byte_count == 0 {
                return Err(GpadlError::EmptyRange);
            }
            if u64::from(byte_offset) >= PAGE_SIZE {
                return Err(GpadlError::OffsetTooLarge(byte_offset));
            }
            let pages = (u64::from(byte_offset) + u64::from(byte_count)).div_ceil(PAGE_SIZE);
            let pages = usize::try_from(pages).map_err(|_| GpadlError::Truncated)?;
            if after.len() < pages {
                return Err(GpadlError::Truncated);
            }
            let (numbers, after) = after.split_at(pages);
            if let Some(&bad) = numbers.iter().find(|&&pfn| !ram.contains(pfn)) {
                return Err(GpadlError::NotRam(bad));
            }
            ranges.push(GpaRangeOwned {
                byte_count,
                byte_offset,
                pages: numbers.to_vec(),
            });
            rest = after;
        }
        Ok(Gpadl { ranges })
    }
}

/// One range of a complete GPADL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpaRangeOwned {
    /// Bytes in the range.
    pub byte_count: u32,
    /// Offset of the first byte in the first page.
    pub byte_offset: u32,
    /// The page numbers.
    pub pages: Vec<u64>,
}

/// A complete, checked GPADL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gpadl {
    ranges: Vec<GpaRangeOwned>,
}

impl Gpadl {
    /// The ranges.
    #[must_use]
    pub fn ranges(&self) -> &[GpaRangeOwned] {
        &self.ranges
    }

    /// The pages of all ranges.
    #[must_use]
    pub fn page_count(&self) -> usize {
        self.ranges.iter().map(|range| range.pages.len()).sum()
    }

    /// The pages, if the GPADL is what a ring buffer pair needs: one range
    /// of whole pages from offset 0.
    #[must_use]
    pub fn whole_pages(&self) -> Option<&[u64]> {
        match self.ranges.as_slice() {
            [range]
                if range.byte_offset == 0
                    && u64::from(range.byte_count) == range.pages.len() as u64 * PAGE_SIZE =>
            {
                Some(&range.pages)
            }
            _ => None,
        }
    }
}
