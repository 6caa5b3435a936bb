//! A partition's nested page table against what it should map: at a GPA
//! with overlay pages, one of their frames; elsewhere, the page of the
//! region mapping that covers the GPA; nothing anywhere else. Every frame
//! it maps, and every overlay's frame, is in use (never in the free pool).
//!
//! A nested table that maps a frame nothing accounts for is how a guest
//! reaches memory it does not own (issue 9, finding 1: an overlay left
//! listed over a GPA whose RAM page was mapped back, which an unmap then
//! skipped). This check sees that state as soon as it exists, whether or
//! not the frame has been handed to someone else yet.

use core::fmt;

use tessera_npt::{NestedPageTable, PageSize, TableMemory, Translation, Visited};

const PAGE: u64 = 4096;

/// What a partition says it maps.
pub trait Expected {
    /// The overlay pages, as `(gpa, frame)`; several may share a GPA.
    fn overlays(&self) -> impl Iterator<Item = (u64, u64)> + Clone;
    /// The region mappings, as `(gpa, pages)`.
    fn mappings(&self) -> impl Iterator<Item = (u64, u64)> + Clone;
    /// The frame of the region page mapped at `gpa` (page aligned), if a
    /// mapping covers it.
    fn region_frame(&self, gpa: u64) -> Option<u64>;
    /// Whether `frame` is in the free pool.
    fn is_free(&self, frame: u64) -> bool;
}

/// The first disagreement found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Problem {
    pub gpa: u64,
    pub what: &'static str,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GPA {:#x}: {}", self.gpa, self.what)
    }
}

fn problem(gpa: u64, what: &'static str) -> Result<(), Problem> {
    Err(Problem { gpa, what })
}

/// Leaves that matched, by what they matched.
#[derive(Default)]
struct Seen {
    overlay_pages: u64,
    region_pages: u64,
}

/// Compares `npt` (read through `mem`) with `expected`.
///
/// # Errors
///
/// The first [`Problem`] found.
pub fn check(
    npt: &NestedPageTable,
    mem: &impl TableMemory,
    expected: &impl Expected,
) -> Result<(), Problem> {
    let mut seen = Seen::default();
    let mut found = Ok(());
    npt.visit(mem, &mut |visited| {
        if let (Ok(()), Visited::Leaf { gpa, translation }) = (found, visited) {
            found = leaf(expected, gpa, translation, &mut seen);
        }
    });
    found?;
    for (gpa, frame) in expected.overlays() {
        if expected.is_free(frame) {
            return problem(gpa, "an overlay's frame is in the free pool");
        }
    }
    if seen.overlay_pages != distinct_overlay_gpas(expected, |_| true) {
        return problem(0, "an overlay page is not mapped at its GPA");
    }
    let hidden = distinct_overlay_gpas(expected, |gpa| covered(expected, gpa));
    let pages: u64 = expected.mappings().map(|(_, pages)| pages).sum();
    if seen.region_pages + hidden != pages {
        return problem(0, "a mapped region page is missing from the nested table");
    }
    Ok(())
}

fn covered(expected: &impl Expected, gpa: u64) -> bool {
    expected
        .mappings()
        .any(|(start, pages)| start <= gpa && gpa - start < pages * PAGE)
}

/// The overlay GPAs that `keep` selects, each counted once.
fn distinct_overlay_gpas(expected: &impl Expected, keep: impl Fn(u64) -> bool) -> u64 {
    let overlays = expected.overlays();
    overlays
        .clone()
        .enumerate()
        .filter(|&(index, (gpa, _))| {
            keep(gpa) && !overlays.clone().take(index).any(|(other, _)| other == gpa)
        })
        .count() as u64
}

fn leaf(
    expected: &impl Expected,
    gpa: u64,
    translation: Translation,
    seen: &mut Seen,
) -> Result<(), Problem> {
    let hpa = translation.hpa;
    let pages = match translation.size {
        PageSize::Size4K => 1,
        PageSize::Size2M => 512,
    };
    for page in 0..pages {
        if expected.is_free(hpa + page * PAGE) {
            return problem(gpa + page * PAGE, "maps a frame that is in the free pool");
        }
    }
    let mut here = expected
        .overlays()
        .filter(|&(at, _)| gpa <= at && at - gpa < pages * PAGE)
        .peekable();
    if here.peek().is_some() {
        if translation.size == PageSize::Size2M {
            return problem(gpa, "a large page maps over an overlay page");
        }
        if !here.any(|(_, frame)| frame == hpa) {
            return problem(gpa, "maps a frame that is none of the overlays at its GPA");
        }
        seen.overlay_pages += 1;
        return Ok(());
    }
    for page in 0..pages {
        let at = gpa + page * PAGE;
        match expected.region_frame(at) {
            Some(frame) if frame == hpa + page * PAGE => {}
            Some(_) => return problem(at, "maps a frame that is not the region page mapped there"),
            None => return problem(at, "maps a GPA that no mapping or overlay covers"),
        }
    }
    seen.region_pages += pages;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::boxed::Box;
    use std::collections::{BTreeMap, BTreeSet};
    use std::vec::Vec;

    use tessera_npt::GuestRights;

    use super::*;

    /// Table frames in a map, high above the frames the tests map.
    #[derive(Default)]
    struct Tables {
        tables: BTreeMap<u64, Box<[u64; 512]>>,
    }

    impl TableMemory for Tables {
        fn allocate_table(&mut self) -> Option<u64> {
            let frame = 0x100_0000_0000 + self.tables.len() as u64 * PAGE;
            self.tables.insert(frame, Box::new([0; 512]));
            Some(frame)
        }
        fn free_table(&mut self, frame: u64) {
            self.tables.remove(&frame);
        }
        fn entries(&self, frame: u64) -> &[u64; 512] {
            &self.tables[&frame]
        }
        fn entries_mut(&mut self, frame: u64) -> &mut [u64; 512] {
            self.tables.get_mut(&frame).unwrap()
        }
    }

    /// A partition: region mappings `(gpa, frames)`, overlays, free frames.
    #[derive(Default)]
    struct Model {
        mappings: Vec<(u64, Vec<u64>)>,
        overlays: Vec<(u64, u64)>,
        free: BTreeSet<u64>,
    }

    impl Expected for Model {
        fn overlays(&self) -> impl Iterator<Item = (u64, u64)> + Clone {
            self.overlays.iter().copied()
        }
        fn mappings(&self) -> impl Iterator<Item = (u64, u64)> + Clone {
            self.mappings
                .iter()
                .map(|(gpa, frames)| (*gpa, frames.len() as u64))
        }
        fn region_frame(&self, gpa: u64) -> Option<u64> {
            self.mappings.iter().find_map(|(start, frames)| {
                let index = gpa.checked_sub(*start)? / PAGE;
                frames.get(index as usize).copied()
            })
        }
        fn is_free(&self, frame: u64) -> bool {
            self.free.contains(&frame)
        }
    }

    /// Sixteen pages of RAM at GPA 0 (frames 0x10_0000..), mapped 4 KiB
    /// each, and an overlay page (frame 0x90_0000) over GPA 0x3000, as the
    /// kernel lays one: the RAM page unmapped, the overlay mapped.
    fn partition() -> (Tables, NestedPageTable, Model) {
        let mut mem = Tables::default();
        let mut npt = NestedPageTable::new(&mut mem).unwrap();
        let frames: Vec<u64> = (0..16).map(|i| 0x10_0000 + i * PAGE).collect();
        for (i, &frame) in frames.iter().enumerate() {
            let gpa = i as u64 * PAGE;
            npt.map(&mut mem, gpa, frame, PageSize::Size4K, GuestRights::ALL)
                .unwrap();
        }
        npt.unmap(&mut mem, 0x3000, PageSize::Size4K).unwrap();
        npt.map(
            &mut mem,
            0x3000,
            0x90_0000,
            PageSize::Size4K,
            GuestRights::ALL,
        )
        .unwrap();
        let model = Model {
            mappings: std::vec![(0, frames)],
            overlays: std::vec![(0x3000, 0x90_0000)],
            free: BTreeSet::new(),
        };
        (mem, npt, model)
    }

    fn what(result: Result<(), Problem>) -> &'static str {
        result.err().map_or("ok", |p| p.what)
    }

    #[test]
    fn a_table_that_maps_what_it_should_passes() {
        let (mem, npt, model) = partition();
        assert_eq!(check(&npt, &mem, &model), Ok(()));
    }

    #[test]
    fn a_second_overlay_on_the_same_gpa_may_be_the_one_mapped() {
        let (mem, npt, mut model) = partition();
        model.overlays.insert(0, (0x3000, 0x91_0000));
        assert_eq!(check(&npt, &mem, &model), Ok(()));
    }

    #[test]
    fn finding_1_an_overlay_listed_over_its_ram_page() {
        // The first overlay at the GPA was removed by GPA alone: the RAM
        // page is back in the table, the other overlay is still listed.
        let (mut mem, mut npt, mut model) = partition();
        npt.unmap(&mut mem, 0x3000, PageSize::Size4K).unwrap();
        npt.map(
            &mut mem,
            0x3000,
            0x10_3000,
            PageSize::Size4K,
            GuestRights::ALL,
        )
        .unwrap();
        model.overlays = std::vec![(0x3000, 0x91_0000)];
        assert_eq!(
            what(check(&npt, &mem, &model)),
            "maps a frame that is none of the overlays at its GPA"
        );
        // Then the region is unmapped (its pages skipped under the
        // overlay) and freed: the guest still maps a free frame.
        for page in (0..16).filter(|&page| page != 3) {
            npt.unmap(&mut mem, page * PAGE, PageSize::Size4K).unwrap();
        }
        model.mappings.clear();
        model.free.insert(0x10_3000);
        assert_eq!(
            what(check(&npt, &mem, &model)),
            "maps a frame that is in the free pool"
        );
    }

    #[test]
    fn stale_missing_and_foreign_mappings_are_found() {
        let (mut mem, mut npt, model) = partition();
        npt.map(
            &mut mem,
            0x40_0000,
            0x70_0000,
            PageSize::Size4K,
            GuestRights::ALL,
        )
        .unwrap();
        assert_eq!(
            what(check(&npt, &mem, &model)),
            "maps a GPA that no mapping or overlay covers"
        );
        let (mut mem, mut npt, model) = partition();
        npt.unmap(&mut mem, 0x5000, PageSize::Size4K).unwrap();
        assert_eq!(
            what(check(&npt, &mem, &model)),
            "a mapped region page is missing from the nested table"
        );
        let (mut mem, mut npt, model) = partition();
        npt.unmap(&mut mem, 0x5000, PageSize::Size4K).unwrap();
        npt.map(
            &mut mem,
            0x5000,
            0x10_6000,
            PageSize::Size4K,
            GuestRights::ALL,
        )
        .unwrap();
        assert_eq!(
            what(check(&npt, &mem, &model)),
            "maps a frame that is not the region page mapped there"
        );
        let (mem, npt, mut model) = partition();
        model.overlays.push((0x40_0000, 0x92_0000));
        assert_eq!(
            what(check(&npt, &mem, &model)),
            "an overlay page is not mapped at its GPA"
        );
        let (mem, npt, mut model) = partition();
        model.free.insert(0x90_0000);
        assert_eq!(
            what(check(&npt, &mem, &model)),
            "maps a frame that is in the free pool"
        );
    }

    #[test]
    fn large_pages_are_checked_page_by_page() {
        let mut mem = Tables::default();
        let mut npt = NestedPageTable::new(&mut mem).unwrap();
        npt.map(
            &mut mem,
            0x20_0000,
            0x60_0000,
            PageSize::Size2M,
            GuestRights::ALL,
        )
        .unwrap();
        let frames: Vec<u64> = (0..512).map(|i| 0x60_0000 + i * PAGE).collect();
        let mut model = Model {
            mappings: std::vec![(0x20_0000, frames)],
            ..Model::default()
        };
        assert_eq!(check(&npt, &mem, &model), Ok(()));
        model.mappings[0].1[100] = 0x70_0000;
        assert_eq!(
            what(check(&npt, &mem, &model)),
            "maps a frame that is not the region page mapped there"
        );
        model.mappings[0].1[100] = 0x60_0000 + 100 * PAGE;
        model.overlays.push((0x20_1000, 0x90_0000));
        assert_eq!(
            what(check(&npt, &mem, &model)),
            "a large page maps over an overlay page"
        );
    }
}
