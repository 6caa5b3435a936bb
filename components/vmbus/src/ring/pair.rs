//! The two rings of a channel in its ring-buffer GPADL.
//!
//! OPENCHANNEL: "The upstream ring buffer begins at offset zero in the
//! memory described by RingBufferGpadlHandle. The downstream ring buffer
//! follows it at this offset (in pages)." Upstream is guest→host (Linux's
//! `outbound`, the send ring it allocates first); downstream is host→guest.
//! Each ring is a control page and at least one data page.

use core::ops::Range;

/// The pages of each ring, as index ranges into the GPADL's pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingPages {
    /// The guest→host ring (the host's [`IncomingRing`](super::IncomingRing)).
    pub incoming: Range<usize>,
    /// The host→guest ring (the host's [`OutgoingRing`](super::OutgoingRing)).
    pub outgoing: Range<usize>,
}

/// Why a GPADL cannot hold a channel's rings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingPagesError {
    /// The host→guest ring would start before page 2 or leave fewer than
    /// two pages: one ring would have no data page.
    BadOffset {
        /// `downstream_ringbuffer_pageoffset`.
        offset: u32,
        /// The GPADL's pages.
        pages: usize,
    },
    /// One ring's data area would exceed [`MAX_DATA_LEN`](super::MAX_DATA_LEN).
    TooLarge,
}

/// Splits a ring GPADL of `pages` pages at `downstream_offset`.
///
/// # Errors
///
/// [`RingPagesError`].
pub fn split(pages: usize, downstream_offset: u32) -> Result<RingPages, RingPagesError> {
    let offset = usize::try_from(downstream_offset).unwrap_or(usize::MAX);
    if offset < 2 || offset > pages || pages - offset < 2 {
        return Err(RingPagesError::BadOffset {
            offset: downstream_offset,
            pages,
        });
    }
    let max_pages = (super::MAX_DATA_LEN / super::CONTROL_PAGE_SIZE) as usize + 1;
    if offset > max_pages || pages - offset > max_pages {
        return Err(RingPagesError::TooLarge);
    }
    Ok(RingPages {
        incoming: 0..offset,
        outgoing: offset..pages,
    })
}
