//! The guest-physical pages the checks use, taken from free RAM once, and
//! the byte patterns that mark them.

use crate::memory::{PAGE, alloc_page};

/// How many stale translations the TLB flush checks set up at most.
pub const FLUSH_PAGES: usize = 4;

#[derive(Clone, Copy, Debug)]
pub struct Pages {
    /// Where the hypercall page goes first ("P").
    pub hypercall: u64,
    /// Where it moves to ("Q").
    pub hypercall_moved: u64,
    /// Hypercall input parameters; the next page is [`Self::output`], so a
    /// block at the end of this one crosses into RAM.
    pub input: u64,
    /// Hypercall output parameters.
    pub output: u64,
    /// Under the reference TSC page.
    pub reference_tsc: u64,
    /// Under the VP assist page.
    pub vp_assist: u64,
    /// Ring-3 code and stack.
    pub user_code: u64,
    pub user_stack: u64,
    /// What the flush checks' virtual pages map first, and then.
    pub flush_old: [u64; FLUSH_PAGES],
    pub flush_new: [u64; FLUSH_PAGES],
}

impl Pages {
    pub fn allocate() -> Option<Self> {
        let hypercall = alloc_page()?;
        let hypercall_moved = alloc_page()?;
        let input = alloc_page()?;
        let output = alloc_page()?;
        if output != input + PAGE {
            return None;
        }
        let mut pages = Self {
            hypercall,
            hypercall_moved,
            input,
            output,
            reference_tsc: alloc_page()?,
            vp_assist: alloc_page()?,
            user_code: alloc_page()?,
            user_stack: alloc_page()?,
            flush_old: [0; FLUSH_PAGES],
            flush_new: [0; FLUSH_PAGES],
        };
        for i in 0..FLUSH_PAGES {
            pages.flush_old[i] = alloc_page()?;
            pages.flush_new[i] = alloc_page()?;
        }
        Some(pages)
    }
}

/// The byte the guest writes at `offset` of a page it marks with `tag`, so
/// that it can tell its own bytes from an overlay's.
pub fn pattern(tag: u8) -> impl Fn(u64) -> u8 {
    move |offset| (offset as u8).wrapping_mul(7) ^ (offset >> 8) as u8 ^ tag ^ 0x5A
}
