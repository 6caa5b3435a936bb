//! A partition's guest-physical address space: the RAM a partition manager
//! maps into it, and the overlay pages the guest lays over it (hypercall
//! page, VP assist pages, and the SynIC and reference TSC pages to come),
//! kept so that its nested page table maps at every GPA exactly
//!
//! 1. the top overlay there, if any, else
//! 2. the RAM page mapped there, if any, else
//! 3. nothing.
//!
//! TLFS v6.0b §5.2.1 "GPA Overlay Pages": overlays "are not included in the
//! normal GPA map … Conceptually, they exist in a separate map that
//! overlays the GPA map"; a covered page is "obscured"; "If an overlay page
//! is disabled or is moved to a new location in the GPA space, the
//! underlying GPA page is 'uncovered'"; and "If multiple overlay pages are
//! programmed to appear on top of each other … the hypervisor will choose
//! an ordering (which is undefined) and only one of these overlays will be
//! visible … if the 'top-most' overlay is disabled or moved, another
//! overlay page will become visible." **Choice:** the ordering is the order
//! of placement — the overlay placed (or moved) last is on top.
//!
//! The separate map is what makes this safe: overlays are tracked by
//! identity ([`OverlayId`]) and stacked per GPA, RAM mappings by range, and
//! every change to either edits exactly the nested-table entries it owns.
//! Unmapping RAM never touches a GPA an overlay covers (the nested table
//! maps the overlay there, not the RAM frame) and always removes the RAM
//! frames it does map, so no frame that goes back to the pool stays
//! mapped. Removing or placing an overlay over a mapped page allocates
//! nothing ([`NestedPageTable::replace`]), so it cannot fail halfway.
//!
//! After any call that removes or changes a translation the caller flushes
//! the partition's TLBs before it frees a frame the call gave back.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod overlay;

use alloc::vec::Vec;

pub use overlay::{Overlay, OverlayId};
use tessera_npt::{GuestRights, NestedPageTable, NptConfig, NptError, PageSize, TableMemory};

const PAGE: u64 = 4096;
const LARGE: u64 = 2 << 20;
const PAGES_PER_LARGE: usize = 512;

/// RAM mapped into the space: `pages` frames from `gpa` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RamMapping<O> {
    pub gpa: u64,
    pub pages: u64,
    pub rights: GuestRights,
    /// What the caller knows it by (the region and the capability it was
    /// mapped through, in the kernel).
    pub owner: O,
}

impl<O> RamMapping<O> {
    fn end(&self) -> u64 {
        self.gpa + self.pages * PAGE
    }
}

/// Why RAM could not be mapped. The space is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No frames, a misaligned GPA or a range past the end of the space.
    InvalidRange,
    /// The range overlaps RAM mapped before (overlays do not count).
    Overlap,
    /// The nested table could not be extended, or the record of the
    /// mapping could not be kept (the kernel heap is full).
    Table(NptError),
}

/// A RAM page an overlay covers: shown again when the last overlay at its
/// GPA goes.
#[derive(Clone, Copy, Debug)]
struct Covered {
    gpa: u64,
    frame: u64,
    rights: GuestRights,
}

/// A guest-physical address space (see the crate documentation).
///
/// Every allocation it makes is fallible (the kernel's rule): what an
/// operation needs is reserved before anything changes.
#[derive(Debug)]
pub struct GpaSpace<O> {
    npt: NestedPageTable,
    ram: Vec<RamMapping<O>>,
    /// Every overlay in place, in placement order: at each GPA the last
    /// one is the one the guest sees.
    overlays: Vec<Overlay>,
    /// The RAM pages overlays cover.
    covered: Vec<Covered>,
}

fn out_of_memory<T>(_: T) -> NptError {
    NptError::OutOfMemory
}

impl<O: Copy> GpaSpace<O> {
    /// An empty space (allocates the nested table's root).
    pub fn new(mem: &mut impl TableMemory, config: NptConfig) -> Result<Self, NptError> {
        Ok(Self {
            npt: NestedPageTable::with_config(mem, config)?,
            ram: Vec::new(),
            overlays: Vec::new(),
            covered: Vec::new(),
        })
    }

    /// The nested table, for the VMCB (`root`) and for reading guest memory
    /// the way the guest sees it (`translate`).
    pub fn npt(&self) -> &NestedPageTable {
        &self.npt
    }

    /// The RAM mappings.
    pub fn ram(&self) -> &[RamMapping<O>] {
        &self.ram
    }

    /// Every overlay in place.
    pub fn overlays(&self) -> impl Iterator<Item = &Overlay> + Clone {
        self.overlays.iter()
    }

    /// The overlay the guest sees at `gpa` (any address in the page).
    pub fn overlay_at(&self, gpa: u64) -> Option<&Overlay> {
        let page = gpa & !(PAGE - 1);
        self.overlays
            .iter()
            .rev()
            .find(|overlay| overlay.gpa == page)
    }

    /// Where the overlay `id` lies, if placed.
    pub fn overlay(&self, id: OverlayId) -> Option<&Overlay> {
        self.overlays.iter().find(|overlay| overlay.id == id)
    }

    fn overlaid(&self, gpa: u64) -> bool {
        self.overlays.iter().any(|overlay| overlay.gpa == gpa)
    }

    /// Maps `pages` frames from `gpa` on (`frame(i)` is page `i`'s), all
    /// or nothing. Pages an overlay covers go under it and show when it
    /// goes. Where frames form an aligned 2 MiB run at an aligned GPA with
    /// no overlay in it, one large page maps them.
    pub fn map_ram(
        &mut self,
        mem: &mut impl TableMemory,
        gpa: u64,
        (pages, frame): (usize, impl Fn(usize) -> u64),
        rights: GuestRights,
        owner: O,
    ) -> Result<(), MapError> {
        let count = pages;
        let pages = pages as u64;
        let end = pages
            .checked_mul(PAGE)
            .and_then(|bytes| gpa.checked_add(bytes))
            .filter(|_| pages > 0 && gpa.is_multiple_of(PAGE))
            .ok_or(MapError::InvalidRange)?;
        if self.ram.iter().any(|m| gpa < m.end() && m.gpa < end) {
            return Err(MapError::Overlap);
        }
        let newly_covered = (0..pages)
            .map(|page| gpa + page * PAGE)
            .filter(|&at| self.overlaid(at))
            .count();
        self.ram
            .try_reserve(1)
            .map_err(|e| MapError::Table(out_of_memory(e)))?;
        self.covered
            .try_reserve(newly_covered)
            .map_err(|e| MapError::Table(out_of_memory(e)))?;
        let mut index = 0;
        while index < count {
            let at = gpa + index as u64 * PAGE;
            if self.overlaid(at) {
                index += 1;
                continue;
            }
            let size = if self.large_page_fits(at, index, count, &frame) {
                PageSize::Size2M
            } else {
                PageSize::Size4K
            };
            if let Err(error) = self.npt.map(mem, at, frame(index), size, rights) {
                self.unmap_range(mem, gpa, at);
                return Err(match error {
                    NptError::GpaOutOfRange { .. } | NptError::MisalignedGpa { .. } => {
                        MapError::InvalidRange
                    }
                    other => MapError::Table(other),
                });
            }
            index += if size == PageSize::Size2M {
                PAGES_PER_LARGE
            } else {
                1
            };
        }
        for index in 0..count {
            let at = gpa + index as u64 * PAGE;
            if self.overlaid(at) {
                // Room was reserved above.
                self.covered.push(Covered {
                    gpa: at,
                    frame: frame(index),
                    rights,
                });
            }
        }
        self.ram.push(RamMapping {
            gpa,
            pages,
            rights,
            owner,
        });
        Ok(())
    }

    /// Whether frames `first..` of `count` can be one 2 MiB page at `at`.
    fn large_page_fits(
        &self,
        at: u64,
        first: usize,
        count: usize,
        frame: &impl Fn(usize) -> u64,
    ) -> bool {
        at.is_multiple_of(LARGE)
            && count - first >= PAGES_PER_LARGE
            && frame(first).is_multiple_of(LARGE)
            && (1..PAGES_PER_LARGE)
                .all(|page| frame(first + page) == frame(first).wrapping_add(page as u64 * PAGE))
            && !self
                .overlays
                .iter()
                .any(|overlay| (at..at + LARGE).contains(&overlay.gpa))
    }

    /// Unmaps the RAM the nested table maps in `start..end`; GPAs an
    /// overlay covers keep the overlay (and lose the RAM under it).
    fn unmap_range(&mut self, mem: &mut impl TableMemory, start: u64, end: u64) {
        let mut at = start;
        while at < end {
            if self.overlaid(at) {
                self.covered.retain(|covered| covered.gpa != at);
                at += PAGE;
                continue;
            }
            let Some(translation) = self.npt.translate(mem, at) else {
                at += PAGE;
                continue;
            };
            // A large page is only ever made from one mapping's aligned
            // run (`map_ram`), so it starts here and ends inside the range.
            debug_assert!(
                translation.size == PageSize::Size4K
                    || at.is_multiple_of(LARGE) && at + LARGE <= end
            );
            let base = at & !(translation.size.bytes() - 1);
            let _ = self.npt.unmap(mem, base, translation.size);
            at = base + translation.size.bytes();
        }
    }

    /// Removes the RAM mappings `select` picks, and says how many. Every
    /// frame of theirs the nested table maps is unmapped; GPAs an overlay
    /// covers keep the overlay. The caller flushes before the frames go.
    pub fn unmap_ram(
        &mut self,
        mem: &mut impl TableMemory,
        mut select: impl FnMut(&RamMapping<O>) -> bool,
    ) -> usize {
        let mut count = 0;
        while let Some(position) = self.ram.iter().position(&mut select) {
            let mapping = self.ram.swap_remove(position);
            self.unmap_range(mem, mapping.gpa, mapping.end());
            count += 1;
        }
        count
    }

    /// Places overlay `id` at `gpa` with `frame` and `rights`, on top of
    /// whatever lies there. If `id` was placed already, it moves (or, at
    /// the same GPA, gets the new frame) and the old placement is returned:
    /// free its frame after the flush. On error (the nested table could
    /// not be extended, or the heap is full) nothing changed, the old
    /// placement included.
    pub fn place_overlay(
        &mut self,
        mem: &mut impl TableMemory,
        id: OverlayId,
        gpa: u64,
        frame: u64,
        rights: GuestRights,
    ) -> Result<Option<Overlay>, NptError> {
        let gpa = gpa & !(PAGE - 1);
        let new = Overlay {
            id,
            gpa,
            frame,
            rights,
        };
        self.overlays.try_reserve(1).map_err(out_of_memory)?;
        self.covered.try_reserve(1).map_err(out_of_memory)?;
        let mut mapped_now = false;
        let mut ram = None;
        if !self.overlaid(gpa) {
            // The fallible part first: the GPA gets a 4 KiB leaf of its own.
            match self.npt.translate(mem, gpa) {
                Some(translation) => {
                    if translation.size == PageSize::Size2M {
                        self.npt.split(mem, gpa)?;
                    }
                    ram = Some(Covered {
                        gpa,
                        frame: translation.hpa,
                        rights: translation.rights,
                    });
                }
                None => {
                    self.npt.map(mem, gpa, frame, PageSize::Size4K, rights)?;
                    mapped_now = true;
                }
            }
        }
        let old = match self.overlay(id).map(|old| old.gpa) {
            // Moving within its own GPA: the leaf is replaced below.
            Some(at) if at == gpa => self
                .overlays
                .iter()
                .position(|o| o.id == id)
                .map(|position| self.overlays.remove(position)),
            Some(_) => self.remove_overlay(mem, id),
            None => None,
        };
        // Room for both was reserved above.
        self.covered.extend(ram);
        self.overlays.push(new);
        if !mapped_now {
            let placed = self.npt.replace(mem, gpa, frame, rights);
            debug_assert!(placed.is_ok(), "an overlaid GPA has a 4 KiB leaf");
        }
        Ok(old)
    }

    /// Removes overlay `id`: the next overlay down at its GPA shows, or the
    /// RAM page under it, or nothing. Returns it (free its frame after the
    /// flush); `None` if it was not placed.
    pub fn remove_overlay(&mut self, mem: &mut impl TableMemory, id: OverlayId) -> Option<Overlay> {
        let position = self.overlays.iter().position(|o| o.id == id)?;
        let gone = self.overlays.remove(position);
        let gpa = gone.gpa;
        let on_top = !self.overlays[position..].iter().any(|o| o.gpa == gpa);
        if !on_top {
            // It was covered: what the guest sees does not change.
            return Some(gone);
        }
        let edited = if let Some(top) = self.overlay_at(gpa).copied() {
            self.npt
                .replace(mem, gpa, top.frame, top.rights)
                .map(|_| ())
        } else if let Some(position) = self.covered.iter().position(|c| c.gpa == gpa) {
            let ram = self.covered.swap_remove(position);
            self.npt
                .replace(mem, gpa, ram.frame, ram.rights)
                .map(|_| ())
        } else {
            self.npt.unmap(mem, gpa, PageSize::Size4K).map(|_| ())
        };
        debug_assert!(edited.is_ok(), "an overlaid GPA has a 4 KiB leaf");
        Some(gone)
    }

    /// Frees the nested table's own frames and returns the overlays, whose
    /// frames the caller frees (no CPU may run the partition any more).
    pub fn destroy(self, mem: &mut impl TableMemory) -> Vec<Overlay> {
        self.npt.destroy(mem);
        self.overlays
    }
}
